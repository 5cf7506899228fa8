//! The safety rule for destructive commands (ops.md §2.2–2.3): state of a development or test
//! environment may be wiped freely; anywhere else `--force` is required, and for testnet and
//! production the environment's name must also be typed with `--confirm`.

use indexer_base::config::Environment;

use crate::cli::Destructive;

/// Why a destructive command was refused.
#[derive(Debug, PartialEq, Eq)]
pub struct Refused(pub String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

/// `prevent_without_force` is `PREVENT_BREAKING_CHANGES_WITHOUT_FORCE` (default true); when an
/// operator turns it off, `--force` is implied, but the production confirmation still applies.
pub fn authorize(
    action: &str,
    environment: Environment,
    prevent_without_force: bool,
    flags: &Destructive,
) -> Result<(), Refused> {
    if environment.is_disposable() {
        return Ok(());
    }
    if prevent_without_force && !flags.force {
        return Err(Refused(format!(
            "refusing to {action}: NODE_ENV is {environment}, where this destroys data; \
             pass --force if you mean it (it is allowed without --force only in development and test)"
        )));
    }
    let needs_confirmation = matches!(environment, Environment::Testnet | Environment::Production);
    if needs_confirmation && flags.confirm.as_deref() != Some(&environment.to_string()) {
        return Err(Refused(format!(
            "refusing to {action}: NODE_ENV is {environment}; also pass --confirm {environment} \
             to confirm which environment you are wiping"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags(force: bool, confirm: Option<&str>) -> Destructive {
        Destructive {
            force,
            confirm: confirm.map(str::to_string),
        }
    }

    #[test]
    fn development_and_test_need_nothing() {
        assert!(authorize(
            "clear the database",
            Environment::Development,
            true,
            &flags(false, None)
        )
        .is_ok());
        assert!(authorize(
            "clear the database",
            Environment::Test,
            true,
            &flags(false, None)
        )
        .is_ok());
    }

    #[test]
    fn staging_needs_force_and_says_why() {
        let err = authorize(
            "clear the database",
            Environment::Staging,
            true,
            &flags(false, None),
        )
        .unwrap_err();
        assert!(
            err.0.contains("--force") && err.0.contains("staging"),
            "{err}"
        );
        assert!(authorize(
            "clear the database",
            Environment::Staging,
            true,
            &flags(true, None)
        )
        .is_ok());
    }

    #[test]
    fn production_needs_force_and_confirmation() {
        let env = Environment::Production;
        assert!(authorize("clear redis", env, true, &flags(true, None))
            .unwrap_err()
            .0
            .contains("--confirm production"));
        assert!(authorize("clear redis", env, true, &flags(true, Some("testnet"))).is_err());
        assert!(authorize("clear redis", env, true, &flags(true, Some("production"))).is_ok());
    }

    #[test]
    fn turning_prevention_off_implies_force_but_not_confirmation() {
        assert!(authorize(
            "clear kafka",
            Environment::Staging,
            false,
            &flags(false, None)
        )
        .is_ok());
        assert!(authorize(
            "clear kafka",
            Environment::Testnet,
            false,
            &flags(false, None)
        )
        .is_err());
    }
}

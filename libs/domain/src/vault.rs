//! Vault addresses (ingest.md §4.6, §10.6). Vault subaccounts are owned by Cosmos module
//! accounts whose address is the first 20 bytes of SHA-256 of the module name, rendered as
//! bech32 with the `dydx` prefix. The 1 000 CLOB vaults are named `vault-VAULT_TYPE_CLOB-<n>` for
//! clob pairs 0–999; the megavault is `megavault`. Ender skips database processing of stateful
//! orders owned by a vault, and comlink/roundtable use the megavault for vault PnL.

use std::collections::HashSet;
use std::sync::OnceLock;

use sha2::{Digest, Sha256};

/// Bech32 prefix of dYdX accounts.
pub const ADDRESS_PREFIX: &str = "dydx";
/// Number of CLOB vaults the reference knows (clob pairs 0–999).
pub const CLOB_VAULT_COUNT: u32 = 1_000;
/// Module name of the megavault.
const MEGAVAULT_MODULE: &str = "megavault";

/// Address of a Cosmos module account: bech32(`dydx`, SHA-256(name)[0..20]).
pub fn module_address(module_name: &str) -> String {
    let digest = Sha256::digest(module_name.as_bytes());
    cosmrs::AccountId::new(ADDRESS_PREFIX, &digest[..20])
        .expect("a 20-byte address with a valid prefix always encodes")
        .to_string()
}

/// Owner address of the CLOB vault for `clob_pair_id`.
pub fn clob_vault_address(clob_pair_id: u32) -> String {
    module_address(&format!("vault-VAULT_TYPE_CLOB-{clob_pair_id}"))
}

/// Owner address of the megavault: `dydx18tkxrnrkqc2t0lr3zxr5g6a4hdvqksylxqje4r`.
pub fn megavault_address() -> &'static str {
    static ADDRESS: OnceLock<String> = OnceLock::new();
    ADDRESS.get_or_init(|| module_address(MEGAVAULT_MODULE))
}

/// True if `address` owns one of the 1 000 CLOB vaults (computed once, then a set look-up).
pub fn is_clob_vault_address(address: &str) -> bool {
    static ADDRESSES: OnceLock<HashSet<String>> = OnceLock::new();
    ADDRESSES
        .get_or_init(|| (0..CLOB_VAULT_COUNT).map(clob_vault_address).collect())
        .contains(address)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_clob_vault_matches_the_reference_list() {
        assert_eq!(
            clob_vault_address(0),
            "dydx1c0m5x87llaunl5sgv3q5vd7j5uha26d2q2r2q0"
        );
    }

    #[test]
    fn megavault_address_vector() {
        assert_eq!(
            megavault_address(),
            "dydx18tkxrnrkqc2t0lr3zxr5g6a4hdvqksylxqje4r"
        );
    }

    #[test]
    fn vault_membership() {
        assert!(is_clob_vault_address(
            "dydx1c0m5x87llaunl5sgv3q5vd7j5uha26d2q2r2q0"
        ));
        assert!(is_clob_vault_address(&clob_vault_address(999)));
        assert!(!is_clob_vault_address(&clob_vault_address(1_000)));
        assert!(!is_clob_vault_address(megavault_address()));
        assert!(!is_clob_vault_address(
            "dydx1n88uc38xhjgxzw9nwre4ep2c8ga4fjxc565lnf"
        ));
    }
}

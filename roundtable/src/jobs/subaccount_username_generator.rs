//! `subaccount_username_generator` (ops.md §1.4 #19): gives subaccount 0 of every address a
//! username (also the address's affiliate referral code).
//!
//! Up to `SUBACCOUNT_USERNAME_BATCH_SIZE` subaccounts without one per run, all in one
//! transaction. A username is derived deterministically from (address, nonce): a capitalised
//! adjective, a capitalised noun and `SUBACCOUNT_USERNAME_SUFFIX_RANDOM_DIGITS` characters from
//! A–Z0–9, all picked by SHA-256 of `<address>/<nonce>`; a taken name is retried with the next
//! nonce, up to `ATTEMPT_PER_SUBACCOUNT` times (the account is retried at the next run after
//! that). The word lists are ours, so names differ from the reference's for the same address;
//! rows that already exist are never changed.

use async_trait::async_trait;
use indexer_store::roundtable::usernames::{insert_usernames, subaccounts_without_username};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::jobs::Deps;
use crate::metrics;
use crate::scheduler::{Job, RunContext};
use crate::JobError;

const ADJECTIVES: &[&str] = &[
    "able", "agile", "amber", "ancient", "azure", "bold", "brave", "bright", "brisk", "calm",
    "clever", "cosmic", "crimson", "crisp", "daring", "deep", "eager", "electric", "epic", "fair",
    "fancy", "fast", "fierce", "fluent", "frosty", "gentle", "giant", "golden", "grand", "happy",
    "hidden", "honest", "humble", "icy", "jolly", "keen", "kind", "lively", "lucky", "lunar",
    "mellow", "mighty", "modern", "noble", "polar", "proud", "quick", "quiet", "rapid", "royal",
    "rustic", "silent", "silver", "smart", "solar", "stable", "steady", "swift", "tidy", "urban",
    "vivid", "wild", "wise", "zesty",
];

const NOUNS: &[&str] = &[
    "anchor", "arrow", "badger", "beacon", "bison", "breeze", "canyon", "comet", "condor", "coral",
    "crane", "dolphin", "eagle", "ember", "falcon", "forest", "fox", "galaxy", "glacier", "harbor",
    "hawk", "heron", "island", "jaguar", "lagoon", "lantern", "leopard", "lion", "lynx", "maple",
    "meadow", "meteor", "otter", "owl", "panda", "panther", "pebble", "pioneer", "planet",
    "prairie", "quartz", "raven", "reef", "river", "rocket", "sailor", "sparrow", "summit",
    "thunder", "tiger", "topaz", "trail", "tundra", "valley", "voyager", "walrus", "willow",
    "wolf", "yak", "zebra", "pilot", "orbit", "nebula", "harvest",
];

const SUFFIX_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

fn capitalised(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|first| first.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

/// The username of `address` for attempt `nonce`.
pub fn username(address: &str, nonce: u32, suffix_len: usize) -> String {
    let digest = Sha256::digest(format!("{address}/{nonce}").as_bytes());
    let pick = |offset: usize, len: usize| {
        let word = u32::from_be_bytes(digest[offset..offset + 4].try_into().expect("4 bytes"));
        word as usize % len
    };
    let suffix: String = (0..suffix_len)
        .map(|i| SUFFIX_ALPHABET[digest[8 + i % 24] as usize % SUFFIX_ALPHABET.len()] as char)
        .collect();
    format!(
        "{}{}{suffix}",
        capitalised(ADJECTIVES[pick(0, ADJECTIVES.len())]),
        capitalised(NOUNS[pick(4, NOUNS.len())]),
    )
}

/// Settings of the job.
#[derive(Debug, Clone, Copy)]
pub struct UsernameSettings {
    pub batch_size: i64,
    pub suffix_len: usize,
    pub attempts: u32,
}

pub struct SubaccountUsernameGenerator {
    deps: Deps,
    settings: UsernameSettings,
}

impl SubaccountUsernameGenerator {
    pub fn new(deps: Deps, settings: UsernameSettings) -> Self {
        Self { deps, settings }
    }
}

#[async_trait]
impl Job for SubaccountUsernameGenerator {
    async fn run(&self, _ctx: &RunContext) -> Result<(), JobError> {
        let mut pending: Vec<(Uuid, String)> =
            subaccounts_without_username(&self.deps.pools.primary, self.settings.batch_size)
                .await?;
        if pending.is_empty() {
            return Ok(());
        }
        let total = pending.len();
        let mut tx = self.deps.pools.primary.begin().await?;
        for nonce in 0..self.settings.attempts.max(1) {
            let names: Vec<(String, Uuid)> = pending
                .iter()
                .map(|(id, address)| (username(address, nonce, self.settings.suffix_len), *id))
                .collect();
            let named = insert_usernames(&mut tx, &names).await?;
            pending.retain(|(id, _)| !named.contains(id));
            if pending.is_empty() {
                break;
            }
        }
        tx.commit().await?;
        if !pending.is_empty() {
            tracing::warn!(
                left = pending.len(),
                "usernames still taken after every attempt; retried next run"
            );
        }
        metrics::count(
            "roundtable_usernames_created_total",
            (total - pending.len()) as u64,
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_deterministic_and_shaped_like_the_reference() {
        let name = username("dydx1alice", 0, 3);
        assert_eq!(name, username("dydx1alice", 0, 3));
        assert_ne!(
            name,
            username("dydx1alice", 1, 3),
            "a new nonce gives a new name"
        );
        let suffix = &name[name.len() - 3..];
        assert!(
            suffix.bytes().all(|b| SUFFIX_ALPHABET.contains(&b)),
            "{name}"
        );
        let words = &name[..name.len() - 3];
        assert!(words.chars().next().unwrap().is_ascii_uppercase(), "{name}");
        assert_eq!(
            words.chars().filter(|c| c.is_ascii_uppercase()).count(),
            2,
            "{name}"
        );
    }
}

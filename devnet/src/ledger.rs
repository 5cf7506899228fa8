//! Balances of the simulated subaccounts, kept the way the protocol keeps them: a USDC balance in
//! quote quantums and, per perpetual, a signed size in base quantums with the funding index at
//! which its funding was last settled. Funding is settled lazily, as on chain: whenever a
//! subaccount changes, every position first pays (or receives) size × (index now − index then)
//! / 10^6 quote quantums, and the one `subaccount_update` event of the change carries the new
//! sizes, the new USDC balance and those payments.

use indexer_domain::serializable_int;
use indexer_proto::events::SubaccountUpdateEventV1;
use indexer_proto::protocol::v1::{
    IndexerAssetPosition, IndexerPerpetualPosition, IndexerSubaccountId,
};
use num_bigint::BigInt;

/// Asset id of USDC.
pub const USDC_ASSET_ID: u32 = 0;
/// Funding indexes are in parts per million of a quote quantum per base quantum.
const FUNDING_INDEX_SCALE: i128 = 1_000_000;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Position {
    /// Signed size in base quantums (negative = short).
    pub size: i64,
    /// The perpetual's funding index when this position last settled funding.
    pub funding_index: i64,
}

/// One change to a subaccount: size changes per market and a USDC change (trades, fees,
/// transfers), applied after funding is settled.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Change {
    pub sizes: Vec<(usize, i64)>,
    pub usdc: i64,
}

#[derive(Debug, Clone)]
pub struct Ledger {
    usdc: Vec<i64>,
    positions: Vec<Vec<Position>>,
    funding_index: Vec<i64>,
}

impl Ledger {
    pub fn new(accounts: usize, markets: usize) -> Self {
        Ledger {
            usdc: vec![0; accounts],
            positions: vec![vec![Position::default(); markets]; accounts],
            funding_index: vec![0; markets],
        }
    }

    pub fn usdc(&self, account: usize) -> i64 {
        self.usdc[account]
    }

    pub fn position(&self, account: usize, market: usize) -> Position {
        self.positions[account][market]
    }

    pub fn funding_index(&self, market: usize) -> i64 {
        self.funding_index[market]
    }

    /// Moves a perpetual's funding index (a funding tick); positions settle on their next change.
    pub fn add_funding(&mut self, market: usize, delta: i64) {
        self.funding_index[market] += delta;
    }

    /// Accounts holding a position in `market`, with their sizes.
    pub fn holders(&self, market: usize) -> impl Iterator<Item = (usize, i64)> + '_ {
        self.positions
            .iter()
            .enumerate()
            .map(move |(account, positions)| (account, positions[market].size))
            .filter(|(_, size)| *size != 0)
    }

    /// Settles funding, applies `change` and returns the event a full node emits for it.
    pub fn apply(
        &mut self,
        account: usize,
        subaccount_id: IndexerSubaccountId,
        change: &Change,
    ) -> SubaccountUpdateEventV1 {
        let payments = self.settle_funding(account);
        for &(market, delta) in &change.sizes {
            self.positions[account][market].size += delta;
        }
        self.usdc[account] += change.usdc;
        let mut reported: Vec<usize> = change.sizes.iter().map(|(m, _)| *m).collect();
        reported.extend(payments.iter().map(|(m, _)| *m));
        reported.sort_unstable();
        reported.dedup();
        let updated_perpetual_positions = reported
            .into_iter()
            .map(|market| {
                let payment = payments
                    .iter()
                    .find(|(m, _)| *m == market)
                    .map_or(0, |(_, p)| *p);
                IndexerPerpetualPosition {
                    perpetual_id: market as u32,
                    quantums: si(self.positions[account][market].size),
                    funding_index: si(self.funding_index[market]),
                    funding_payment: if payment == 0 { vec![] } else { si(payment) },
                }
            })
            .collect();
        SubaccountUpdateEventV1 {
            subaccount_id: Some(subaccount_id),
            updated_perpetual_positions,
            updated_asset_positions: vec![IndexerAssetPosition {
                asset_id: USDC_ASSET_ID,
                quantums: si(self.usdc[account]),
                index: 0,
            }],
        }
    }

    /// Brings every position of `account` to the current funding indexes; returns the non-zero
    /// payments (positive = paid by the subaccount), already taken from its USDC.
    fn settle_funding(&mut self, account: usize) -> Vec<(usize, i64)> {
        let mut payments = Vec::new();
        for (market, position) in self.positions[account].iter_mut().enumerate() {
            let index = self.funding_index[market];
            let payment = funding_payment(position.size, position.funding_index, index);
            position.funding_index = index;
            if payment != 0 {
                self.usdc[account] -= payment;
                payments.push((market, payment));
            }
        }
        payments
    }
}

/// Quote quantums a position of `size` pays for the index moving from `from` to `to`
/// (truncated toward zero; negative = received).
pub fn funding_payment(size: i64, from: i64, to: i64) -> i64 {
    let payment = i128::from(size) * (i128::from(to) - i128::from(from)) / FUNDING_INDEX_SCALE;
    i64::try_from(payment).expect("funding payments fit in i64")
}

pub fn si(value: i64) -> Vec<u8> {
    serializable_int::encode(&BigInt::from(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id() -> IndexerSubaccountId {
        IndexerSubaccountId {
            owner: "owner".into(),
            number: 0,
        }
    }

    #[test]
    fn funding_settles_on_the_next_change_and_the_event_carries_it() {
        let mut ledger = Ledger::new(1, 2);
        ledger.apply(
            0,
            id(),
            &Change {
                sizes: vec![(1, 2_000_000)],
                usdc: 1_000,
            },
        );
        ledger.add_funding(1, 500);
        let event = ledger.apply(
            0,
            id(),
            &Change {
                sizes: vec![],
                usdc: -10,
            },
        );
        // 2e6 × 500 / 1e6 = 1 000 paid.
        assert_eq!(ledger.usdc(0), 1_000 - 1_000 - 10);
        assert_eq!(event.updated_perpetual_positions.len(), 1);
        let position = &event.updated_perpetual_positions[0];
        assert_eq!(position.perpetual_id, 1);
        assert_eq!(position.funding_payment, si(1_000));
        assert_eq!(position.funding_index, si(500));
        assert_eq!(event.updated_asset_positions[0].quantums, si(-10));
    }

    #[test]
    fn shorts_receive_what_longs_pay() {
        assert_eq!(funding_payment(-3_000_000, 10, 20), -30);
        assert_eq!(funding_payment(3_000_000, 10, 20), 30);
        assert_eq!(funding_payment(0, 10, 20), 0);
    }
}

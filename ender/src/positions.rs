//! Perpetual position transitions (ingest.md §4.7.1, §4.7.4).
//!
//! Size, side, status and funding follow subaccount updates: open, increase/decrease (same side),
//! close (size 0) and flip (side changes: close + open). Entry/exit prices and sumOpen/sumClose
//! follow fills, applied to the latest position row. Realized PnL follows regular fills only
//! (quirk Q5).

use chrono::{DateTime, Utc};
use indexer_domain::{
    ids, weighted_average, Decimal, EventId, OrderSide, PerpetualPositionStatus, PositionSide,
};
use uuid::Uuid;

use crate::model::Position;

/// What a perpetual position update did to the open position.
#[derive(Debug, Clone, PartialEq)]
pub enum UpdateOutcome {
    /// Rows written, in order (a flip yields the closed row and the new one).
    Rows(Vec<Position>),
    /// Size 0 with no open position: nothing to do (quirk Q7, logged by the caller).
    ZeroWithoutOpenPosition,
}

/// Where a subaccount update event happened.
#[derive(Debug, Clone, Copy)]
pub struct EventAt {
    pub id: EventId,
    pub time: DateTime<Utc>,
    pub height: u32,
}

/// Applies a perpetual position update of `size` (signed, human) with settled funding change
/// `funding_delta` to `latest`, the latest position row of (subaccount, perpetual).
pub fn apply_position_update(
    latest: Option<&Position>,
    subaccount_id: Uuid,
    perpetual_id: u32,
    size: &Decimal,
    funding_delta: &Decimal,
    at: EventAt,
) -> UpdateOutcome {
    let side = PositionSide::from_size(size);
    let open = latest.filter(|p| p.status == PerpetualPositionStatus::Open);
    let Some(open) = open else {
        if size.is_zero() {
            return UpdateOutcome::ZeroWithoutOpenPosition;
        }
        return UpdateOutcome::Rows(vec![new_position(
            subaccount_id,
            perpetual_id,
            size,
            funding_delta.clone(),
            at,
        )]);
    };
    let settled = (&open.settled_funding + funding_delta).trim();
    if size.is_zero() || open.side != side {
        let mut closed = open.clone();
        closed.closed_at = Some(at.time);
        closed.closed_at_height = Some(at.height);
        closed.close_event_id = Some(at.id);
        closed.last_event_id = at.id;
        closed.settled_funding = settled;
        closed.status = PerpetualPositionStatus::Closed;
        closed.size = Decimal::zero();
        let mut rows = vec![closed];
        if !size.is_zero() {
            rows.push(new_position(
                subaccount_id,
                perpetual_id,
                size,
                Decimal::zero(),
                at,
            ));
        }
        return UpdateOutcome::Rows(rows);
    }
    let mut updated = open.clone();
    updated.size = size.trim();
    updated.last_event_id = at.id;
    updated.settled_funding = settled;
    // Signed max, as the reference (quirk Q4): for shorts this keeps the least negative size.
    if updated.max_size < updated.size {
        updated.max_size = updated.size.clone();
    }
    UpdateOutcome::Rows(vec![updated])
}

fn new_position(
    subaccount_id: Uuid,
    perpetual_id: u32,
    size: &Decimal,
    settled: Decimal,
    at: EventAt,
) -> Position {
    Position {
        id: ids::perpetual_position_uuid(subaccount_id, &at.id),
        subaccount_id,
        perpetual_id,
        side: PositionSide::from_size(size),
        status: PerpetualPositionStatus::Open,
        size: size.trim(),
        max_size: size.trim(),
        entry_price: Decimal::zero(),
        exit_price: None,
        sum_open: Decimal::zero(),
        sum_close: Decimal::zero(),
        created_at: at.time,
        closed_at: None,
        created_at_height: at.height,
        closed_at_height: None,
        open_event_id: at.id,
        close_event_id: None,
        last_event_id: at.id,
        settled_funding: settled.trim(),
        total_realized_pnl: None,
    }
}

/// The position as a fill sees it before being applied (fills' "before" columns).
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub size: Decimal,
    pub entry_price: Option<Decimal>,
    pub side: Option<PositionSide>,
}

/// Snapshot of the latest row: size = |sumOpen| − |sumClose|, entry null when 0.
pub fn snapshot(latest: Option<&Position>) -> Snapshot {
    match latest {
        None => Snapshot {
            size: Decimal::zero(),
            entry_price: None,
            side: None,
        },
        Some(p) => Snapshot {
            size: (p.sum_open.abs() - p.sum_close.abs()).trim(),
            entry_price: (!p.entry_price.is_zero()).then(|| p.entry_price.trim()),
            side: Some(p.side),
        },
    }
}

/// Applies a fill's size and price to the position's entry/exit aggregates.
pub fn apply_fill_aggregate(
    position: &mut Position,
    side: OrderSide,
    size: &Decimal,
    price: &Decimal,
) -> Result<(), indexer_domain::Error> {
    if position.side.is_increased_by(side) {
        position.entry_price = weighted_average(
            Some(&position.entry_price),
            &position.sum_open,
            Some(price),
            size,
        )?;
        position.sum_open = (&position.sum_open + size).trim();
    } else {
        position.exit_price = Some(weighted_average(
            position.exit_price.as_ref(),
            &position.sum_close,
            Some(price),
            size,
        )?);
        position.sum_close = (&position.sum_close + size).trim();
    }
    Ok(())
}

/// Change of `totalRealizedPnl` for a regular fill, from the snapshot before it: the fee is
/// always paid; a fill that reduces the position realizes (price − entry) × closed size.
pub fn realized_pnl_change(
    before: &Snapshot,
    side: OrderSide,
    size: &Decimal,
    price: &Decimal,
    fee: &Decimal,
) -> Decimal {
    let increases = before.side.is_none_or(|s| s.is_increased_by(side));
    if before.size.is_zero() || increases {
        return (-fee).trim();
    }
    let closing = if size < &before.size {
        size.clone()
    } else {
        before.size.clone()
    };
    let pnl = match (&before.entry_price, before.side) {
        (Some(entry), Some(PositionSide::Long)) => (price - entry) * &closing,
        (Some(entry), Some(PositionSide::Short)) => (entry - price) * &closing,
        _ => Decimal::zero(),
    };
    (pnl - fee).trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Decimal {
        Decimal::parse(s).unwrap()
    }

    fn at(event_index: u32) -> EventAt {
        EventAt {
            id: EventId::new(2, 1, event_index),
            time: DateTime::from_timestamp(1_704_067_201, 500_000_000).unwrap(),
            height: 2,
        }
    }

    const SUB: Uuid = Uuid::from_u128(1);

    /// The rows one update of SUB's position in perpetual 0 produces (it must produce rows).
    fn update(prior: Option<&Position>, size: &str, funding: &str, at: EventAt) -> Vec<Position> {
        match apply_position_update(prior, SUB, 0, &d(size), &d(funding), at) {
            UpdateOutcome::Rows(rows) => rows,
            other => panic!("expected rows, got {other:?}"),
        }
    }

    #[test]
    fn open_creates_an_open_row_with_the_spec_id_and_funding() {
        let r = update(None, "-0.1", "1.5", at(0));
        assert_eq!(r.len(), 1);
        let p = &r[0];
        assert_eq!(p.side, PositionSide::Short);
        assert_eq!(p.status, PerpetualPositionStatus::Open);
        assert_eq!(
            (p.size.to_string(), p.max_size.to_string()),
            ("-0.1".into(), "-0.1".into())
        );
        assert_eq!(p.settled_funding.to_string(), "1.5");
        assert_eq!(p.id, ids::perpetual_position_uuid(SUB, &at(0).id));
        assert_eq!(p.total_realized_pnl, None);
    }

    #[test]
    fn increase_and_decrease_keep_the_row_and_track_signed_max() {
        let open = update(None, "0.1", "0", at(0)).remove(0);
        let up = update(Some(&open), "0.3", "-0.25", at(1)).remove(0);
        assert_eq!(up.id, open.id);
        assert_eq!(
            (up.size.to_string(), up.max_size.to_string()),
            ("0.3".into(), "0.3".into())
        );
        assert_eq!(up.settled_funding.to_string(), "-0.25");
        assert_eq!(up.last_event_id, at(1).id);
        let down = update(Some(&up), "0.2", "0", at(2)).remove(0);
        assert_eq!(
            (down.size.to_string(), down.max_size.to_string()),
            ("0.2".into(), "0.3".into())
        );
        // Shorts keep the least negative value (quirk Q4).
        let short = update(None, "-0.1", "0", at(3)).remove(0);
        let bigger = update(Some(&short), "-0.5", "0", at(4)).remove(0);
        assert_eq!(bigger.max_size.to_string(), "-0.1");
    }

    #[test]
    fn close_sets_closed_fields_and_zero_size() {
        let open = update(None, "0.1", "0", at(0)).remove(0);
        let r = update(Some(&open), "0", "-1.5", at(5));
        assert_eq!(r.len(), 1);
        let c = &r[0];
        assert_eq!(c.status, PerpetualPositionStatus::Closed);
        assert!(c.size.is_zero());
        assert_eq!(c.closed_at_height, Some(2));
        assert_eq!(c.close_event_id, Some(at(5).id));
        assert_eq!(c.settled_funding.to_string(), "-1.5");
    }

    #[test]
    fn flip_closes_the_old_row_and_opens_a_new_one_with_zero_funding() {
        let short = update(None, "-0.1", "0", at(0)).remove(0);
        let r = update(Some(&short), "0.05", "-1.5", at(6));
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].id, short.id);
        assert_eq!(r[0].status, PerpetualPositionStatus::Closed);
        assert_eq!(r[0].settled_funding.to_string(), "-1.5");
        assert_eq!(r[1].side, PositionSide::Long);
        assert_eq!(r[1].size.to_string(), "0.05");
        assert!(r[1].settled_funding.is_zero());
        assert_eq!(r[1].open_event_id, at(6).id);
    }

    #[test]
    fn zero_update_without_open_position_does_nothing() {
        assert_eq!(
            apply_position_update(None, SUB, 0, &d("0"), &d("0"), at(0)),
            UpdateOutcome::ZeroWithoutOpenPosition
        );
    }

    #[test]
    fn fill_aggregates_average_entry_and_exit() {
        let mut p = update(None, "0.3", "0", at(0)).remove(0);
        apply_fill_aggregate(&mut p, OrderSide::Buy, &d("0.1"), &d("50000")).unwrap();
        apply_fill_aggregate(&mut p, OrderSide::Buy, &d("0.2"), &d("51000")).unwrap();
        assert_eq!(p.sum_open.to_string(), "0.3");
        assert_eq!(p.entry_price.to_string(), "50666.66666666666666666667");
        apply_fill_aggregate(&mut p, OrderSide::Sell, &d("0.1"), &d("52000")).unwrap();
        assert_eq!(p.sum_close.to_string(), "0.1");
        assert_eq!(p.exit_price.as_ref().unwrap().to_string(), "52000");
    }

    #[test]
    fn realized_pnl_charges_fees_and_realizes_on_reduction() {
        let flat = snapshot(None);
        assert_eq!(
            realized_pnl_change(&flat, OrderSide::Buy, &d("1"), &d("100"), &d("2.5")).to_string(),
            "-2.5"
        );
        let long = Snapshot {
            size: d("0.15"),
            entry_price: Some(d("49000")),
            side: Some(PositionSide::Long),
        };
        assert_eq!(
            realized_pnl_change(&long, OrderSide::Buy, &d("1"), &d("1"), &d("-0.5")).to_string(),
            "0.5"
        );
        // Selling 0.2 against 0.15 long at 52000: only 0.15 closes.
        assert_eq!(
            realized_pnl_change(&long, OrderSide::Sell, &d("0.2"), &d("52000"), &d("1"))
                .to_string(),
            "449"
        );
        let short = Snapshot {
            size: d("0.1"),
            entry_price: Some(d("50000")),
            side: Some(PositionSide::Short),
        };
        assert_eq!(
            realized_pnl_change(&short, OrderSide::Buy, &d("0.1"), &d("49000"), &d("0"))
                .to_string(),
            "100"
        );
    }

    #[test]
    fn snapshot_uses_sum_open_minus_sum_close_and_hides_zero_entry() {
        let mut p = update(None, "0.1", "0", at(0)).remove(0);
        let s = snapshot(Some(&p));
        assert_eq!(
            (s.size.to_string(), s.entry_price, s.side),
            ("0".into(), None, Some(PositionSide::Long))
        );
        p.sum_open = d("0.15");
        p.sum_close = d("0.05");
        p.entry_price = d("49000");
        let s = snapshot(Some(&p));
        assert_eq!(s.size.to_string(), "0.1");
        assert_eq!(s.entry_price.unwrap().to_string(), "49000");
    }
}

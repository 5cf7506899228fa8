//! Conversions between protocol integers (quantums, subticks, ppm, denom amounts) and the human
//! decimals the indexer stores and emits (ingest.md §3.10). Every function multiplies exactly by a
//! power of ten and strips trailing zeros, so the results print and store exactly like the
//! reference's. Market-dependent conversions hang off [`MarketParams`], the four numbers of a
//! `perpetual_markets` row that define its units.

use num_bigint::BigInt;

use crate::decimal::Decimal;
use crate::error::Result;

/// Atomic resolution of the quote asset (USDC, asset id 0): 1 quote quantum = 10^−6 USDC.
pub const QUOTE_ATOMIC_RESOLUTION: i64 = -6;
/// Asset id of USDC.
pub const USDC_ASSET_ID: u32 = 0;
/// Exponent of parts-per-million values.
pub const PPM_EXPONENT: i64 = -6;
/// Trading rewards are paid in a denom with 18 decimals.
pub const TRADING_REWARD_DENOM_EXPONENT: i64 = -18;
/// Length of the protocol funding period in hours (funding rates are published per 8 h).
pub const FUNDING_PERIOD_HOURS: u32 = 8;

/// The unit-defining parameters of a perpetual market.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MarketParams {
    /// `AR`: one base quantum is 10^AR base units (BTC-USD: −10).
    pub atomic_resolution: i32,
    /// `QCE`: 10^QCE quote quantums per base quantum per subtick (BTC-USD: −9).
    pub quantum_conversion_exponent: i32,
    /// `SPT`: subticks per tick (BTC-USD: 100 000).
    pub subticks_per_tick: u32,
    /// `SBQ`: step size in base quantums (BTC-USD: 1 000 000).
    pub step_base_quantums: u64,
}

impl MarketParams {
    /// Human size: quantums × 10^AR (orders, fills, positions; signed input allowed).
    pub fn size(&self, quantums: impl Into<BigInt>) -> Decimal {
        scaled(quantums, self.ar())
    }

    /// Inverse of [`MarketParams::size`]: size / 10^AR. Integral for valid sizes; use
    /// [`Decimal::to_u64_exact`] to get the protocol integer.
    pub fn quantums_from_size(&self, size: &Decimal) -> Decimal {
        size.mul_pow10(-self.ar()).trim()
    }

    /// Human price: subticks × 10^(QCE − 6 − AR) (order, fill and trigger prices).
    pub fn price(&self, subticks: impl Into<BigInt>) -> Decimal {
        scaled(subticks, self.price_exponent())
    }

    /// Inverse of [`MarketParams::price`]: price × 10^AR / 10^−6 / 10^QCE (reconstructing an
    /// order from its stored row, ingest.md §4.7.14).
    pub fn subticks_from_price(&self, price: &Decimal) -> Decimal {
        price.mul_pow10(-self.price_exponent()).trim()
    }

    /// Tick size: SPT × 10^(QCE − 6 − AR).
    pub fn tick_size(&self) -> Decimal {
        self.price(self.subticks_per_tick)
    }

    /// Step size: SBQ × 10^AR.
    pub fn step_size(&self) -> Decimal {
        self.size(self.step_base_quantums)
    }

    /// Human funding index: protocol funding index × 10^(−6 − 6 − AR).
    pub fn funding_index(&self, funding_index: &BigInt) -> Decimal {
        scaled(
            funding_index.clone(),
            PPM_EXPONENT + QUOTE_ATOMIC_RESOLUTION - self.ar(),
        )
    }

    /// Deleveraging fill price: (total_quote_quantums × 10^−6) / (fill_amount × 10^AR), both
    /// operands trimmed, divided with Postgres semantics, trimmed again — exactly the reference
    /// database step. Fails for a zero fill amount.
    pub fn deleveraging_price(
        &self,
        total_quote_quantums: u64,
        fill_amount: u64,
    ) -> Result<Decimal> {
        let quote = quote_amount(total_quote_quantums);
        let size = self.size(fill_amount);
        Ok(quote.div_pg(&size)?.trim())
    }

    fn ar(&self) -> i64 {
        i64::from(self.atomic_resolution)
    }

    fn price_exponent(&self) -> i64 {
        i64::from(self.quantum_conversion_exponent) + QUOTE_ATOMIC_RESOLUTION - self.ar()
    }
}

/// Quote quantums of a fill: fill quantums × subticks × 10^QCE.
pub fn quote_quantums(
    fill_quantums: u64,
    subticks: u64,
    quantum_conversion_exponent: i32,
) -> Decimal {
    let product = BigInt::from(fill_quantums) * BigInt::from(subticks);
    scaled(product, i64::from(quantum_conversion_exponent))
}

/// Human quote amount of a fill: human size × human price.
pub fn quote_amount_of(size: &Decimal, price: &Decimal) -> Decimal {
    (size * price).trim()
}

/// Human USDC amount of quote quantums: × 10^−6 (fees, builder and router fees, affiliate revenue
/// share, open-interest caps, deleveraging quote amounts).
pub fn quote_amount(quote_quantums: impl Into<BigInt>) -> Decimal {
    scaled(quote_quantums, QUOTE_ATOMIC_RESOLUTION)
}

/// Human asset amount: quantums × 10^(asset AR) (asset positions, transfer sizes).
pub fn asset_amount(quantums: impl Into<BigInt>, asset_atomic_resolution: i32) -> Decimal {
    scaled(quantums, i64::from(asset_atomic_resolution))
}

/// Oracle price: price_with_exponent × 10^(market exponent). Exact (the reference goes through a
/// float and keeps 15 significant digits; identical for real prices, quirk Q6).
pub fn oracle_price(price_with_exponent: u64, market_exponent: i32) -> Decimal {
    scaled(price_with_exponent, i64::from(market_exponent))
}

/// One-hour funding rate from an 8-hour rate in ppm: ppm × 10^−6 / 8. Used for
/// `funding_index_updates.rate`, next-funding samples and `defaultFundingRate1H`.
pub fn funding_rate_1h(funding_8h_ppm: i32) -> Decimal {
    // Dividing by 8 is multiplying by 0.125, which keeps the result exact.
    scaled(i64::from(funding_8h_ppm) * 125, PPM_EXPONENT - 3)
}

/// Change of `settledFunding` for a funding payment in quote quantums: −payment × 10^−6
/// (a positive payment is paid by the subaccount).
pub fn settled_funding_delta(funding_payment: &BigInt) -> Decimal {
    scaled(-funding_payment, QUOTE_ATOMIC_RESOLUTION)
}

/// Trading reward in coins: denom amount × 10^−18.
pub fn trading_reward(denom_amount: &BigInt) -> Decimal {
    scaled(denom_amount.clone(), TRADING_REWARD_DENOM_EXPONENT)
}

/// Initial margin fraction: initialMarginPpm / 10^6.
pub fn initial_margin_fraction(initial_margin_ppm: u32) -> Decimal {
    scaled(initial_margin_ppm, PPM_EXPONENT)
}

/// Maintenance margin fraction: (initialMarginPpm × maintenanceFractionPpm / 10^6) / 10^6.
pub fn maintenance_margin_fraction(
    initial_margin_ppm: u32,
    maintenance_fraction_ppm: u32,
) -> Decimal {
    let product = u64::from(initial_margin_ppm) * u64::from(maintenance_fraction_ppm);
    scaled(product, 2 * PPM_EXPONENT)
}

fn scaled(value: impl Into<BigInt>, exponent: i64) -> Decimal {
    Decimal::from_scaled(value, exponent).trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// BTC-USD as on mainnet (ingest.md §3.10 worked example).
    const BTC_USD: MarketParams = MarketParams {
        atomic_resolution: -10,
        quantum_conversion_exponent: -9,
        subticks_per_tick: 100_000,
        step_base_quantums: 1_000_000,
    };

    fn d(text: &str) -> Decimal {
        Decimal::parse(text).unwrap()
    }

    #[test]
    fn worked_example_size_and_price() {
        assert_eq!(BTC_USD.size(1_000_000_000u64).to_string(), "0.1");
        assert_eq!(BTC_USD.price(5_000_000_000u64).to_string(), "50000");
        assert_eq!(BTC_USD.size(-1_000_000_000i64).to_string(), "-0.1");
    }

    #[test]
    fn worked_example_quote_amounts() {
        let quote = quote_quantums(1_000_000_000, 5_000_000_000, -9);
        assert_eq!(quote.to_string(), "5000000000");
        assert_eq!(
            quote_amount(quote.to_bigint_exact().unwrap()).to_string(),
            "5000"
        );
        let size = BTC_USD.size(1_000_000_000u64);
        let price = BTC_USD.price(5_000_000_000u64);
        assert_eq!(quote_amount_of(&size, &price).to_string(), "5000");
        assert_eq!(quote_amount_of(&size, &price).scale(), 0);
    }

    #[test]
    fn worked_example_tick_and_step() {
        assert_eq!(BTC_USD.tick_size().to_string(), "1");
        assert_eq!(BTC_USD.step_size().to_string(), "0.0001");
    }

    #[test]
    fn worked_example_oracle_and_fees() {
        assert_eq!(oracle_price(5_000_000_000, -5).to_string(), "50000");
        assert_eq!(quote_amount(2_500_000u64).to_string(), "2.5");
        assert_eq!(quote_amount(-500_000i64).to_string(), "-0.5");
        assert_eq!(quote_amount(0u64).to_string(), "0");
    }

    #[test]
    fn worked_example_funding() {
        assert_eq!(funding_rate_1h(100).to_string(), "0.0000125");
        assert_eq!(funding_rate_1h(10).to_string(), "0.00000125");
        assert_eq!(funding_rate_1h(-1).to_string(), "-0.000000125");
        assert_eq!(
            BTC_USD.funding_index(&BigInt::from(123_456)).to_string(),
            "1234.56"
        );
        assert_eq!(
            settled_funding_delta(&BigInt::from(1_500_000)).to_string(),
            "-1.5"
        );
        assert_eq!(
            settled_funding_delta(&BigInt::from(-250)).to_string(),
            "0.00025"
        );
    }

    #[test]
    fn worked_example_trading_reward() {
        let denom = BigInt::from(1_500_000_000_000_000_000u64);
        let reward = trading_reward(&denom);
        assert_eq!(reward.to_string(), "1.5");
        assert_eq!(reward.to_fixed(18), "1.500000000000000000");
    }

    #[test]
    fn asset_amounts_use_the_asset_resolution() {
        assert_eq!(
            asset_amount(14_942_809_888u64, -6).to_string(),
            "14942.809888"
        );
        assert_eq!(asset_amount(10_000_000_000u64, -6).to_string(), "10000");
    }

    #[test]
    fn margin_fractions() {
        assert_eq!(initial_margin_fraction(50_000).to_string(), "0.05");
        assert_eq!(
            maintenance_margin_fraction(50_000, 600_000).to_string(),
            "0.03"
        );
        assert_eq!(initial_margin_fraction(20_000).to_string(), "0.02");
        assert_eq!(
            maintenance_margin_fraction(20_000, 600_000).to_string(),
            "0.012"
        );
        assert_eq!(
            maintenance_margin_fraction(1_000_000, 1_000_000).to_string(),
            "1"
        );
    }

    #[test]
    fn inverse_conversions_recover_protocol_integers() {
        assert_eq!(
            BTC_USD
                .subticks_from_price(&d("48000"))
                .to_u64_exact()
                .unwrap(),
            4_800_000_000
        );
        assert_eq!(
            BTC_USD
                .quantums_from_size(&d("0.2"))
                .to_u64_exact()
                .unwrap(),
            2_000_000_000
        );
        assert!(BTC_USD
            .subticks_from_price(&d("0.000000001"))
            .to_u64_exact()
            .is_err());
    }

    #[test]
    fn deleveraging_price_uses_postgres_division() {
        // 5000.123456 USDC for 0.3 BTC (3e9 quantums).
        let price = BTC_USD
            .deleveraging_price(5_000_123_456, 3_000_000_000)
            .unwrap();
        assert_eq!(price.to_string(), "16667.078186666667");
        let price = BTC_USD
            .deleveraging_price(5_000_000_000, 1_000_000_000)
            .unwrap();
        assert_eq!(price.to_string(), "50000");
        assert!(BTC_USD.deleveraging_price(1, 0).is_err());
    }
}

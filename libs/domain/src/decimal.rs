//! The one exact decimal type of the whole system. Every human amount (sizes, prices, fees,
//! funding, PnL) is a [`Decimal`]: arbitrary precision, never floating point. It wraps
//! `bigdecimal::BigDecimal` and keeps the number of fractional digits it carries (Postgres calls
//! that the *display scale*), because Postgres `numeric` division picks its result precision from
//! the operands' scales and ender must reproduce the reference database byte for byte (ingest.md
//! §3.10). Formatting follows the same section: plain digits, never an exponent, trailing zeros and
//! a dangling point stripped. The store converts to and from sqlx through [`Decimal::as_bigdecimal`]
//! and `From<BigDecimal>`.

use std::fmt;
use std::iter::Sum;
use std::ops::{Add, Mul, Neg, Sub};
use std::str::FromStr;

use bigdecimal::BigDecimal;
use num_bigint::{BigInt, Sign};
use num_traits::{Signed, ToPrimitive, Zero};

use crate::error::{Error, Result};

/// Significant decimal digits Postgres guarantees in a quotient (`NUMERIC_MIN_SIG_DIGITS`).
const PG_MIN_SIG_DIGITS: i64 = 16;
/// Decimal digits per Postgres `numeric` base-10000 digit (`DEC_DIGITS`).
const PG_DEC_DIGITS: i64 = 4;
/// Upper bound of a quotient's scale in Postgres (`NUMERIC_MAX_DISPLAY_SCALE`).
const PG_MAX_DISPLAY_SCALE: i64 = 1000;
/// Largest exponent magnitude accepted when parsing, so `1e999999999` cannot allocate a
/// billion-digit number (Postgres itself stops at 16383 fractional digits).
const MAX_PARSED_EXPONENT: i64 = 16_383;
/// Scale both sides of a weighted average are cast to (`numeric(256, 20)` in the reference).
const WEIGHTED_AVERAGE_SCALE: u32 = 20;

/// An exact decimal number. Equality, ordering and hashing are numeric (`1.0 == 1`).
///
/// Invariant: the carried scale is never negative, so it always equals what Postgres would report
/// as the display scale of the same value.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Decimal(BigDecimal);

impl Decimal {
    /// Zero (scale 0).
    pub fn zero() -> Self {
        Decimal(BigDecimal::zero())
    }

    /// `value × 10^exponent`, exactly. A negative exponent becomes the scale (`from_scaled(25, -1)`
    /// is `2.5`); a positive one appends zeros (`from_scaled(5, 3)` is `5000`).
    pub fn from_scaled(value: impl Into<BigInt>, exponent: i64) -> Self {
        Self::from_parts(value.into(), -exponent)
    }

    /// Parses a decimal string. Accepts plain (`-0.1`) and exponent form (`1.25e-7`, as produced by
    /// big.js for tiny funding rates); rejects anything else, including surrounding whitespace and
    /// exponents beyond ±16383.
    pub fn parse(text: &str) -> Result<Self> {
        let invalid = || Error::InvalidDecimal(text.to_owned());
        let well_formed = !text.is_empty()
            && text
                .chars()
                .all(|c| c.is_ascii_digit() || matches!(c, '.' | '-' | '+' | 'e' | 'E'))
            && text.chars().any(|c| c.is_ascii_digit());
        if !well_formed {
            return Err(invalid());
        }
        BigDecimal::from_str(text)
            .map(Decimal::from)
            .map_err(|_| invalid())
    }

    /// The wrapped `BigDecimal` (for sqlx and other libraries).
    pub fn as_bigdecimal(&self) -> &BigDecimal {
        &self.0
    }

    /// Unwraps into the `BigDecimal`.
    pub fn into_bigdecimal(self) -> BigDecimal {
        self.0
    }

    /// Number of fractional digits carried (Postgres display scale), e.g. 3 for `1.500`.
    pub fn scale(&self) -> u32 {
        let (_, scale) = self.0.as_bigint_and_exponent();
        u32::try_from(scale).expect("scale is non-negative by invariant and small")
    }

    /// True for zero.
    pub fn is_zero(&self) -> bool {
        self.0.is_zero()
    }

    /// True for values below zero.
    pub fn is_negative(&self) -> bool {
        self.0.is_negative()
    }

    /// True for values above zero.
    pub fn is_positive(&self) -> bool {
        self.0.is_positive()
    }

    /// Absolute value (same scale).
    pub fn abs(&self) -> Self {
        Decimal(self.0.abs())
    }

    /// `self × 10^exponent`, exactly.
    pub fn mul_pow10(&self, exponent: i64) -> Self {
        let (digits, scale) = self.0.as_bigint_and_exponent();
        Self::from_parts(digits, scale - exponent)
    }

    /// Removes trailing fractional zeros (Postgres `trim_scale`, the reference's
    /// `dydx_trim_scale`): `100.000` → `100` with scale 0. The value is unchanged.
    pub fn trim(&self) -> Self {
        let (mut digits, mut scale) = self.0.as_bigint_and_exponent();
        if digits.is_zero() {
            return Self::zero();
        }
        let ten = BigInt::from(10);
        while scale > 0 && (&digits % &ten).is_zero() {
            digits /= &ten;
            scale -= 1;
        }
        Self::from_parts(digits, scale)
    }

    /// Rounds (or pads) to exactly `scale` fractional digits, half away from zero: what a cast to
    /// `numeric(p, scale)` does in Postgres.
    pub fn round(&self, scale: u32) -> Self {
        let (digits, current) = self.0.as_bigint_and_exponent();
        let target = i64::from(scale);
        if current <= target {
            return Self::from_parts(digits * pow10(target - current), target);
        }
        let rounded = div_round_half_away(&digits, &pow10(current - target));
        Self::from_parts(rounded, target)
    }

    /// Renders with exactly `scale` fractional digits (rounded half away from zero), the way
    /// Postgres prints a `numeric(p, scale)` column: `to_fixed(18)` of `1.5` is
    /// `1.500000000000000000`.
    pub fn to_fixed(&self, scale: u32) -> String {
        render(&self.round(scale), false)
    }

    /// Postgres `numeric` division (ingest.md §3.10): the quotient is rounded half away from zero
    /// to the scale Postgres selects from the operands' weights and scales (at least 16
    /// significant digits). The result keeps that scale; call [`Decimal::trim`] where the
    /// reference trims. Vectors: `100/3` = `33.3333333333333333`, `1/3` =
    /// `0.33333333333333333333`.
    pub fn div_pg(&self, divisor: &Decimal) -> Result<Decimal> {
        if divisor.is_zero() {
            return Err(Error::DivisionByZero);
        }
        let result_scale = pg_division_scale(self, divisor);
        let (dividend_digits, dividend_scale) = self.0.as_bigint_and_exponent();
        let (divisor_digits, divisor_scale) = divisor.0.as_bigint_and_exponent();
        // a/b at scale r = round(A·10^(sb + r) / (B·10^sa)) / 10^r, all exponents non-negative.
        let numerator = dividend_digits * pow10(divisor_scale + result_scale);
        let denominator = divisor_digits * pow10(dividend_scale);
        let quotient = div_round_half_away(&numerator, &denominator);
        Ok(Self::from_parts(quotient, result_scale))
    }

    /// The value as a `BigInt` if it has no fractional part.
    pub fn to_bigint_exact(&self) -> Result<BigInt> {
        let trimmed = self.trim();
        let (digits, scale) = trimmed.0.into_bigint_and_exponent();
        if scale == 0 {
            Ok(digits)
        } else {
            Err(self.not_an_integer("an integer"))
        }
    }

    /// The value as a `u64` if it is a non-negative integer that fits.
    pub fn to_u64_exact(&self) -> Result<u64> {
        self.to_bigint_exact()
            .ok()
            .and_then(|value| value.to_u64())
            .ok_or_else(|| self.not_an_integer("u64"))
    }

    /// The value as an `i64` if it is an integer that fits.
    pub fn to_i64_exact(&self) -> Result<i64> {
        self.to_bigint_exact()
            .ok()
            .and_then(|value| value.to_i64())
            .ok_or_else(|| self.not_an_integer("i64"))
    }

    fn not_an_integer(&self, target: &'static str) -> Error {
        Error::NotAnInteger {
            value: self.to_string(),
            target,
        }
    }

    /// Builds from digits and a scale, folding a negative scale into the digits so the invariant
    /// (scale ≥ 0) holds.
    fn from_parts(digits: BigInt, scale: i64) -> Self {
        if scale < 0 {
            Decimal(BigDecimal::new(digits * pow10(-scale), 0))
        } else {
            Decimal(BigDecimal::new(digits, scale))
        }
    }
}

/// Weighted average of two prices as the reference database computes it (ingest.md §3.10): a
/// missing price counts as 0; numerator `p1·w1 + p2·w2` and denominator `w1 + w2` are rounded to
/// 20 fractional digits, divided with Postgres semantics, and trailing zeros are stripped.
/// Used for entry/exit prices and the running TWAP fill price. Fails if the weights sum to zero.
pub fn weighted_average(
    first_price: Option<&Decimal>,
    first_weight: &Decimal,
    second_price: Option<&Decimal>,
    second_weight: &Decimal,
) -> Result<Decimal> {
    let zero = Decimal::zero();
    let numerator =
        first_price.unwrap_or(&zero) * first_weight + second_price.unwrap_or(&zero) * second_weight;
    let denominator = first_weight + second_weight;
    let quotient = numerator
        .round(WEIGHTED_AVERAGE_SCALE)
        .div_pg(&denominator.round(WEIGHTED_AVERAGE_SCALE))?;
    Ok(quotient.trim())
}

/// Result scale of Postgres `numeric` division (`select_div_scale` in numeric.c).
fn pg_division_scale(dividend: &Decimal, divisor: &Decimal) -> i64 {
    let (weight1, first_digit1) = base10000_weight_and_first_digit(dividend);
    let (weight2, first_digit2) = base10000_weight_and_first_digit(divisor);
    let mut quotient_weight = weight1 - weight2;
    // Equal leading digits are assumed to mean dividend < divisor, as in Postgres.
    if first_digit1 <= first_digit2 {
        quotient_weight -= 1;
    }
    (PG_MIN_SIG_DIGITS - quotient_weight * PG_DEC_DIGITS)
        .max(i64::from(dividend.scale()))
        .max(i64::from(divisor.scale()))
        .clamp(0, PG_MAX_DISPLAY_SCALE)
}

/// Position (in base-10000 digits) and value of the most significant base-10000 digit of |x|, as
/// Postgres stores `numeric`: weight 0 for 1 ≤ |x| < 10000, −1 for 0.0001 ≤ |x| < 1. Zero is
/// (0, 0).
fn base10000_weight_and_first_digit(value: &Decimal) -> (i64, u32) {
    if value.is_zero() {
        return (0, 0);
    }
    let (digits, scale) = value.0.as_bigint_and_exponent();
    let decimal_digits = digits.magnitude().to_string();
    let len = decimal_digits.len() as i64;
    let leading_exponent = len - 1 - scale;
    let weight = leading_exponent.div_euclid(PG_DEC_DIGITS);
    // Decimal digits from the leading one down to 10^(4·weight): between 1 and 4 of them.
    let wanted = leading_exponent - weight * PG_DEC_DIGITS + 1;
    let taken = wanted.min(len) as usize;
    let mut first: u32 = decimal_digits[..taken]
        .parse()
        .expect("at most four ASCII digits");
    for _ in taken as i64..wanted {
        first *= 10;
    }
    (weight, first)
}

/// Integer division rounding half away from zero.
fn div_round_half_away(numerator: &BigInt, denominator: &BigInt) -> BigInt {
    let quotient = numerator / denominator;
    let remainder = numerator % denominator;
    if remainder.abs() * 2 >= denominator.abs() {
        let away = if (numerator.sign() == Sign::Minus) == (denominator.sign() == Sign::Minus) {
            BigInt::from(1)
        } else {
            BigInt::from(-1)
        };
        quotient + away
    } else {
        quotient
    }
}

fn pow10(exponent: i64) -> BigInt {
    let exponent =
        u32::try_from(exponent).expect("power-of-ten exponent is small and non-negative");
    num_traits::pow(BigInt::from(10), exponent as usize)
}

/// Plain rendering; `strip` removes trailing fractional zeros and a dangling point.
fn render(value: &Decimal, strip: bool) -> String {
    let (digits, scale) = value.0.as_bigint_and_exponent();
    if digits.is_zero() && strip {
        return "0".to_owned();
    }
    let mut magnitude = digits.magnitude().to_string();
    let mut scale = usize::try_from(scale).expect("scale is non-negative by invariant");
    if strip {
        while scale > 0 && magnitude.ends_with('0') {
            magnitude.pop();
            scale -= 1;
        }
    }
    let sign = if digits.sign() == Sign::Minus {
        "-"
    } else {
        ""
    };
    if scale == 0 {
        return format!("{sign}{magnitude}");
    }
    if magnitude.len() <= scale {
        let zeros = "0".repeat(scale - magnitude.len());
        return format!("{sign}0.{zeros}{magnitude}");
    }
    let (integer, fraction) = magnitude.split_at(magnitude.len() - scale);
    format!("{sign}{integer}.{fraction}")
}

impl fmt::Display for Decimal {
    /// Plain digits, no exponent, trailing zeros and dangling point stripped (`100.000` → `100`,
    /// `0.000` → `0`, `-0.10` → `-0.1`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&render(self, true))
    }
}

impl fmt::Debug for Decimal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Decimal({})", render(self, false))
    }
}

impl FromStr for Decimal {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self> {
        Decimal::parse(text)
    }
}

impl From<BigDecimal> for Decimal {
    fn from(value: BigDecimal) -> Self {
        let (digits, scale) = value.into_bigint_and_exponent();
        Decimal::from_parts(digits, scale)
    }
}

impl From<Decimal> for BigDecimal {
    fn from(value: Decimal) -> Self {
        value.0
    }
}

impl From<BigInt> for Decimal {
    fn from(value: BigInt) -> Self {
        Decimal::from_parts(value, 0)
    }
}

macro_rules! from_integer {
    ($($int:ty),*) => {$(
        impl From<$int> for Decimal {
            fn from(value: $int) -> Self {
                Decimal::from_parts(BigInt::from(value), 0)
            }
        }
    )*};
}
from_integer!(u8, u16, u32, u64, u128, i8, i16, i32, i64, i128);

macro_rules! binary_op {
    ($trait:ident, $method:ident) => {
        impl $trait<&Decimal> for &Decimal {
            type Output = Decimal;
            fn $method(self, rhs: &Decimal) -> Decimal {
                Decimal::from((&self.0).$method(&rhs.0))
            }
        }
        impl $trait<Decimal> for Decimal {
            type Output = Decimal;
            fn $method(self, rhs: Decimal) -> Decimal {
                (&self).$method(&rhs)
            }
        }
        impl $trait<&Decimal> for Decimal {
            type Output = Decimal;
            fn $method(self, rhs: &Decimal) -> Decimal {
                (&self).$method(rhs)
            }
        }
        impl $trait<Decimal> for &Decimal {
            type Output = Decimal;
            fn $method(self, rhs: Decimal) -> Decimal {
                self.$method(&rhs)
            }
        }
    };
}
binary_op!(Add, add);
binary_op!(Sub, sub);
binary_op!(Mul, mul);

impl Neg for Decimal {
    type Output = Decimal;
    fn neg(self) -> Decimal {
        Decimal(-self.0)
    }
}

impl Neg for &Decimal {
    type Output = Decimal;
    fn neg(self) -> Decimal {
        Decimal(-&self.0)
    }
}

impl Sum for Decimal {
    fn sum<I: Iterator<Item = Decimal>>(iter: I) -> Decimal {
        iter.fold(Decimal::zero(), |total, item| total + item)
    }
}

impl<'a> Sum<&'a Decimal> for Decimal {
    fn sum<I: Iterator<Item = &'a Decimal>>(iter: I) -> Decimal {
        iter.fold(Decimal::zero(), |total, item| total + item)
    }
}

impl serde::Serialize for Decimal {
    /// A JSON string in the plain stripped form, e.g. `"0.1"`.
    fn serialize<S: serde::Serializer>(
        &self,
        serializer: S,
    ) -> std::result::Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Decimal {
    /// Accepts a string (plain or exponent form) or a JSON integer; rejects JSON floats, which
    /// would already have lost precision.
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Self, D::Error> {
        deserializer.deserialize_any(DecimalVisitor)
    }
}

struct DecimalVisitor;

impl serde::de::Visitor<'_> for DecimalVisitor {
    type Value = Decimal;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a decimal string or an integer")
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> std::result::Result<Decimal, E> {
        Decimal::parse(text).map_err(E::custom)
    }

    fn visit_u64<E: serde::de::Error>(self, value: u64) -> std::result::Result<Decimal, E> {
        Ok(Decimal::from(value))
    }

    fn visit_i64<E: serde::de::Error>(self, value: i64) -> std::result::Result<Decimal, E> {
        Ok(Decimal::from(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> Decimal {
        Decimal::parse(text).unwrap()
    }

    #[test]
    fn from_scaled_multiplies_by_a_power_of_ten_exactly() {
        assert_eq!(
            Decimal::from_scaled(1_000_000_000u64, -10).to_string(),
            "0.1"
        );
        assert_eq!(
            Decimal::from_scaled(5_000_000_000u64, -5).to_string(),
            "50000"
        );
        assert_eq!(Decimal::from_scaled(5, 3).to_string(), "5000");
        assert_eq!(Decimal::from_scaled(-500_000i64, -6).to_string(), "-0.5");
        let big = BigInt::from(1_500_000_000_000_000_000u64);
        assert_eq!(Decimal::from_scaled(big, -18).to_string(), "1.5");
        assert_eq!(
            Decimal::from_scaled(u64::MAX, -30).to_string(),
            "0.000000000018446744073709551615"
        );
    }

    #[test]
    fn display_strips_trailing_zeros_and_never_uses_exponents() {
        assert_eq!(d("100.000").to_string(), "100");
        assert_eq!(d("0.000").to_string(), "0");
        assert_eq!(d("10").to_string(), "10");
        assert_eq!(d("-0.10").to_string(), "-0.1");
        assert_eq!(d("-0").to_string(), "0");
        assert_eq!(d("1e-20").to_string(), "0.00000000000000000001");
        assert_eq!(d("1.5e21").to_string(), "1500000000000000000000");
        assert_eq!(d("1.25e-7").to_string(), "0.000000125");
    }

    #[test]
    fn parse_rejects_garbage() {
        for bad in [
            "", " 1", "1 ", "abc", "1,5", "NaN", "inf", "-", ".", "e5", "0x10",
        ] {
            assert!(Decimal::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }

    #[test]
    fn parse_keeps_the_written_scale() {
        assert_eq!(d("1.500").scale(), 3);
        assert_eq!(d("1e3").scale(), 0);
        assert_eq!(d("1e3").to_string(), "1000");
    }

    #[test]
    fn arithmetic_is_exact_and_tracks_scale_like_postgres() {
        let sum = d("0.1") + d("0.2");
        assert_eq!(sum, d("0.3"));
        assert_eq!(sum.scale(), 1);
        let product = d("0.1") * d("50000");
        assert_eq!(product.to_string(), "5000");
        assert_eq!(product.scale(), 1);
        assert_eq!((d("1") - d("1.25")).to_string(), "-0.25");
        assert_eq!((-d("2.5")).to_string(), "-2.5");
        let total: Decimal = [d("1.1"), d("2.2"), d("3.3")].iter().sum();
        assert_eq!(total.to_string(), "6.6");
    }

    #[test]
    fn equality_and_hash_are_numeric() {
        use std::collections::HashSet;
        assert_eq!(d("1.0"), d("1"));
        let set: HashSet<Decimal> = [d("1.0"), d("1"), d("1.000")].into_iter().collect();
        assert_eq!(set.len(), 1);
        assert!(d("-1") < d("0.5"));
    }

    #[test]
    fn trim_removes_zeros_and_scale() {
        let trimmed = d("100.000").trim();
        assert_eq!(trimmed.scale(), 0);
        assert_eq!(trimmed, d("100"));
        assert_eq!(d("0.000").trim().scale(), 0);
        assert_eq!(d("0.0500").trim().scale(), 2);
    }

    #[test]
    fn round_is_half_away_from_zero() {
        assert_eq!(d("2.5").round(0).to_string(), "3");
        assert_eq!(d("-2.5").round(0).to_string(), "-3");
        assert_eq!(d("2.49").round(1).to_string(), "2.5");
        assert_eq!(d("-0.05").round(1).to_string(), "-0.1");
        assert_eq!(d("-0.04").round(1).to_string(), "0");
        assert_eq!(d("1.5").round(3).scale(), 3);
    }

    #[test]
    fn to_fixed_prints_a_numeric_column_scale() {
        assert_eq!(d("1.5").to_fixed(18), "1.500000000000000000");
        assert_eq!(d("0").to_fixed(2), "0.00");
        assert_eq!(d("-1.005").to_fixed(2), "-1.01");
    }

    #[test]
    fn div_pg_matches_postgres_vectors() {
        assert_eq!(
            d("100").div_pg(&d("3")).unwrap().to_string(),
            "33.3333333333333333"
        );
        assert_eq!(
            d("1").div_pg(&d("3")).unwrap().to_string(),
            "0.33333333333333333333"
        );
        assert_eq!(
            d("5000.123456").div_pg(&d("0.3")).unwrap().to_string(),
            "16667.078186666667"
        );
    }

    #[test]
    fn div_pg_scale_follows_postgres_rules() {
        // Equal leading base-10000 digits: Postgres assumes dividend < divisor (20 digits).
        assert_eq!(d("1").div_pg(&d("1")).unwrap().scale(), 20);
        assert_eq!(
            d("2").div_pg(&d("3")).unwrap().to_string(),
            "0.66666666666666666667"
        );
        // Operand scale wins when larger.
        assert_eq!(
            d("1")
                .div_pg(&d("3.000000000000000000000000"))
                .unwrap()
                .scale(),
            24
        );
        // Tiny dividend: more fractional digits to keep 16 significant ones.
        assert_eq!(
            d("0.0000005").div_pg(&d("3")).unwrap().to_string(),
            "0.000000166666666666666667"
        );
        // Huge dividend: scale floors at 0, rounding half away from zero.
        assert_eq!(
            d("1000000000000000000000")
                .div_pg(&d("7"))
                .unwrap()
                .to_string(),
            "142857142857142857143"
        );
        // ... unless an operand carries more fractional digits.
        assert_eq!(
            d("1000000000000000000000")
                .div_pg(&d("0.7"))
                .unwrap()
                .to_string(),
            "1428571428571428571428.6"
        );
    }

    #[test]
    fn div_pg_rounds_negative_quotients_away_from_zero() {
        assert_eq!(
            d("-2").div_pg(&d("3")).unwrap().to_string(),
            "-0.66666666666666666667"
        );
        assert_eq!(
            d("2").div_pg(&d("-3")).unwrap().to_string(),
            "-0.66666666666666666667"
        );
        assert_eq!(
            d("-100").div_pg(&d("-3")).unwrap().to_string(),
            "33.3333333333333333"
        );
    }

    #[test]
    fn div_pg_by_zero_fails() {
        assert_eq!(d("1").div_pg(&d("0.000")), Err(Error::DivisionByZero));
    }

    #[test]
    fn div_pg_of_zero_is_zero() {
        assert_eq!(d("0").div_pg(&d("7")).unwrap().to_string(), "0");
    }

    #[test]
    fn weighted_average_matches_reference_vectors() {
        let avg = weighted_average(Some(&d("1")), &d("1"), Some(&d("2")), &d("2")).unwrap();
        assert_eq!(avg.to_string(), "1.66666666666666666667");
        let avg = weighted_average(
            Some(&d("0.0000001")),
            &d("1"),
            Some(&d("0.0000002")),
            &d("2"),
        )
        .unwrap();
        assert_eq!(avg.to_string(), "0.000000166666666666666667");
    }

    #[test]
    fn weighted_average_treats_missing_price_as_zero() {
        let avg = weighted_average(None, &d("0"), Some(&d("50000")), &d("0.1")).unwrap();
        assert_eq!(avg.to_string(), "50000");
        assert_eq!(avg.scale(), 0);
        let avg = weighted_average(None, &d("1"), Some(&d("3")), &d("1")).unwrap();
        assert_eq!(avg.to_string(), "1.5");
    }

    #[test]
    fn weighted_average_of_zero_weights_fails() {
        assert_eq!(
            weighted_average(Some(&d("1")), &d("0"), Some(&d("2")), &d("0")),
            Err(Error::DivisionByZero)
        );
    }

    #[test]
    fn integer_extraction_is_exact() {
        assert_eq!(d("5000000000.000").to_u64_exact().unwrap(), 5_000_000_000);
        assert!(d("1.5").to_u64_exact().is_err());
        assert!(d("-1").to_u64_exact().is_err());
        assert_eq!(d("-1").to_i64_exact().unwrap(), -1);
        assert!(d("18446744073709551616").to_u64_exact().is_err());
    }

    #[test]
    fn serde_uses_json_strings() {
        assert_eq!(serde_json::to_string(&d("100.50")).unwrap(), "\"100.5\"");
        let back: Decimal = serde_json::from_str("\"1.25e-7\"").unwrap();
        assert_eq!(back, d("0.000000125"));
        let integer: Decimal = serde_json::from_str("-42").unwrap();
        assert_eq!(integer, d("-42"));
        assert!(serde_json::from_str::<Decimal>("0.1").is_err());
    }

    #[test]
    fn bigdecimal_round_trip_keeps_value() {
        let value = d("-123.4500");
        let inner: BigDecimal = value.clone().into();
        assert_eq!(Decimal::from(inner), value);
        let negative_scale = BigDecimal::new(BigInt::from(5), -3);
        let converted = Decimal::from(negative_scale);
        assert_eq!(converted.scale(), 0);
        assert_eq!(converted.to_string(), "5000");
    }
}

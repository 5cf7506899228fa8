//! JSON value types of the API (serve.md §0.1): decimals, bigint ids and heights as strings,
//! timestamps as ISO-8601 with milliseconds, and maps that keep insertion order (§0.3).
//!
//! Each type decodes straight from its Postgres column, serialises exactly as the reference
//! prints it, and documents itself in the OpenAPI schema.

use std::borrow::Cow;
use std::fmt;

use bigdecimal::BigDecimal;
use chrono::{DateTime, Utc};
use indexer_domain::Decimal;
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgArgumentBuffer, PgTypeInfo, PgValueFormat, PgValueRef};
use sqlx::{Decode, Encode, Postgres, Type};
use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaFormat, Type as SchemaType};
use utoipa::openapi::{KnownFormat, RefOr};
use utoipa::{PartialSchema, ToSchema};

/// A decimal amount as a JSON string.
///
/// Values read from a `numeric` column keep the scale they were stored with (`"100.000000"` stays
/// so, as Postgres prints it); values the server computes are built with [`Numeric::computed`],
/// which strips trailing zeros the way the reference's big.js `toFixed()` does.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Numeric(Decimal);

impl Numeric {
    /// A value as stored (its scale is kept when printed).
    pub fn stored(value: Decimal) -> Self {
        Numeric(value)
    }

    /// A computed value, printed in minimal form (`"0.05"`, `"-12.5"`, `"0"`).
    pub fn computed(value: Decimal) -> Self {
        Numeric(value.trim())
    }

    pub fn zero() -> Self {
        Numeric(Decimal::zero())
    }

    pub fn decimal(&self) -> &Decimal {
        &self.0
    }

    pub fn into_decimal(self) -> Decimal {
        self.0
    }
}

impl fmt::Display for Numeric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0.to_fixed(self.0.scale()))
    }
}

impl fmt::Debug for Numeric {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Numeric({self})")
    }
}

impl Serialize for Numeric {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl Type<Postgres> for Numeric {
    fn type_info() -> PgTypeInfo {
        <BigDecimal as Type<Postgres>>::type_info()
    }

    fn compatible(ty: &PgTypeInfo) -> bool {
        <BigDecimal as Type<Postgres>>::compatible(ty)
    }
}

impl<'r> Decode<'r, Postgres> for Numeric {
    /// Decodes with the column's display scale. (sqlx's own `BigDecimal` decoding drops it and
    /// rounds the scale up to a multiple of four: `25.5` would come back as `25.5000`.)
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        match value.format() {
            PgValueFormat::Binary => decode_binary_numeric(value.as_bytes()?).map(Numeric),
            PgValueFormat::Text => Ok(Numeric(Decimal::parse(value.as_str()?)?)),
        }
    }
}

/// Postgres' binary `numeric`: ndigits, weight, sign, dscale (16 bits each), then base-10000
/// digits, most significant first; the value is Σ digit × 10000^(weight − i).
fn decode_binary_numeric(bytes: &[u8]) -> Result<Decimal, BoxDynError> {
    const POSITIVE: u16 = 0x0000;
    const NEGATIVE: u16 = 0x4000;
    let word = |index: usize| -> Result<u16, BoxDynError> {
        bytes
            .get(index * 2..index * 2 + 2)
            .map(|b| u16::from_be_bytes([b[0], b[1]]))
            .ok_or_else(|| "truncated numeric".into())
    };
    let ndigits = usize::from(word(0)?);
    let weight = i64::from(word(1)? as i16);
    let sign = word(2)?;
    let dscale = u32::from(word(3)?);
    if sign != POSITIVE && sign != NEGATIVE {
        return Err("numeric NaN or infinity cannot be a decimal".into());
    }
    let mut digits = num_bigint::BigInt::from(0);
    for index in 0..ndigits {
        let digit = word(4 + index)?;
        if digit >= 10_000 {
            return Err("numeric digit out of range".into());
        }
        digits = digits * 10_000 + digit;
    }
    if sign == NEGATIVE {
        digits = -digits;
    }
    let exponent = 4 * (weight - ndigits as i64 + 1);
    Ok(Decimal::from_scaled(digits, exponent).round(dscale))
}

impl PartialSchema for Numeric {
    fn schema() -> RefOr<Schema> {
        string_schema(
            "Decimal number in plain notation (never an exponent)",
            None,
            "64123.45",
        )
    }
}

impl ToSchema for Numeric {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("Decimal")
    }
}

/// A Postgres `bigint` (block height, clob pair id, client id, …) as a base-10 JSON string.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct IntString(pub i64);

impl fmt::Display for IntString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for IntString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IntString({})", self.0)
    }
}

impl Serialize for IntString {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.0)
    }
}

impl Type<Postgres> for IntString {
    fn type_info() -> PgTypeInfo {
        <i64 as Type<Postgres>>::type_info()
    }

    fn compatible(ty: &PgTypeInfo) -> bool {
        <i64 as Type<Postgres>>::compatible(ty)
    }
}

impl<'r> Decode<'r, Postgres> for IntString {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        Ok(IntString(<i64 as Decode<Postgres>>::decode(value)?))
    }
}

impl Encode<'_, Postgres> for IntString {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        <i64 as Encode<Postgres>>::encode_by_ref(&self.0, buf)
    }
}

impl PartialSchema for IntString {
    fn schema() -> RefOr<Schema> {
        string_schema("Base-10 integer as a string", None, "15813000")
    }
}

impl ToSchema for IntString {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("IntString")
    }
}

/// A point in time as ISO-8601 UTC with exactly three fractional digits and `Z`.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IsoTime(pub DateTime<Utc>);

impl fmt::Display for IsoTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&indexer_domain::time::to_iso(&self.0))
    }
}

impl fmt::Debug for IsoTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IsoTime({self})")
    }
}

impl Serialize for IsoTime {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl Type<Postgres> for IsoTime {
    fn type_info() -> PgTypeInfo {
        <DateTime<Utc> as Type<Postgres>>::type_info()
    }

    fn compatible(ty: &PgTypeInfo) -> bool {
        <DateTime<Utc> as Type<Postgres>>::compatible(ty)
    }
}

impl<'r> Decode<'r, Postgres> for IsoTime {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        Ok(IsoTime(<DateTime<Utc> as Decode<Postgres>>::decode(value)?))
    }
}

impl PartialSchema for IsoTime {
    fn schema() -> RefOr<Schema> {
        string_schema(
            "ISO-8601 UTC time with milliseconds",
            Some(KnownFormat::DateTime),
            "2024-05-01T12:34:56.789Z",
        )
    }
}

impl ToSchema for IsoTime {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed("IsoTime")
    }
}

/// A JSON object whose keys keep the order they were inserted in (markets keyed by ticker,
/// positions keyed by market or symbol). In OpenAPI, annotate fields with
/// `#[schema(value_type = HashMap<String, V>)]`.
#[derive(Clone, Debug, PartialEq)]
pub struct OrderedMap<V>(pub Vec<(String, V)>);

impl<V> Default for OrderedMap<V> {
    fn default() -> Self {
        OrderedMap(Vec::new())
    }
}

impl<V> OrderedMap<V> {
    pub fn get(&self, key: &str) -> Option<&V> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.0.iter().map(|(_, v)| v)
    }
}

impl<V: Serialize> Serialize for OrderedMap<V> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, value) in &self.0 {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

fn string_schema(description: &str, format: Option<KnownFormat>, example: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(SchemaType::String)
        .format(format.map(SchemaFormat::KnownFormat))
        .description(Some(description))
        .examples([serde_json::Value::String(example.to_owned())])
        .into()
}

/// OpenAPI schema of a string enum listing its exact spellings.
pub fn enum_schema(values: &[&str]) -> utoipa::openapi::schema::Object {
    ObjectBuilder::new()
        .schema_type(SchemaType::String)
        .enum_values(Some(values.iter().copied()))
        .build()
}

/// Schema functions for `#[schema(schema_with = ...)]` on string fields holding an enum of
/// serve.md Appendix A.
pub mod enums {
    use indexer_domain::{
        ApiOrderStatus, ApiTimeInForce, CandleResolution, FillType, Liquidity, MarketType,
        OrderSide, OrderType, PerpetualMarketStatus, PerpetualMarketType, PerpetualPositionStatus,
        PositionSide, TradeType, TransferType,
    };
    use utoipa::openapi::schema::Object;

    macro_rules! schema_fn {
        ($($name:ident => $enum:ty),+ $(,)?) => {$(
            pub fn $name() -> Object {
                let values: Vec<&str> = <$enum>::ALL.iter().map(|v| v.as_str()).collect();
                super::enum_schema(&values)
            }
        )+};
    }

    schema_fn! {
        order_side => OrderSide,
        order_type => OrderType,
        api_order_status => ApiOrderStatus,
        api_time_in_force => ApiTimeInForce,
        liquidity => Liquidity,
        fill_type => FillType,
        trade_type => TradeType,
        market_type => MarketType,
        perpetual_market_type => PerpetualMarketType,
        perpetual_market_status => PerpetualMarketStatus,
        perpetual_position_status => PerpetualPositionStatus,
        position_side => PositionSide,
        transfer_type => TransferType,
        candle_resolution => CandleResolution,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> Decimal {
        Decimal::parse(text).unwrap()
    }

    #[test]
    fn stored_numeric_keeps_its_scale_and_computed_is_minimal() {
        assert_eq!(Numeric::stored(d("100.000000")).to_string(), "100.000000");
        assert_eq!(Numeric::computed(d("100.000000")).to_string(), "100");
        assert_eq!(Numeric::computed(d("-0.0500")).to_string(), "-0.05");
        assert_eq!(
            serde_json::to_string(&Numeric::stored(d("0.0001"))).unwrap(),
            "\"0.0001\""
        );
    }

    #[test]
    fn binary_numerics_keep_their_display_scale() {
        // 25.5 with dscale 1: digits [25, 5000], weight 0.
        let bytes = [0, 2, 0, 0, 0, 0, 0, 1, 0, 25, 0x13, 0x88];
        assert_eq!(decode_binary_numeric(&bytes).unwrap().to_fixed(1), "25.5");
        assert_eq!(decode_binary_numeric(&bytes).unwrap().scale(), 1);
        // -100.000000: digits [100], weight 0, dscale 6 (trailing zero groups are not stored).
        let bytes = [0, 1, 0, 0, 0x40, 0, 0, 6, 0, 100];
        let value = decode_binary_numeric(&bytes).unwrap();
        assert_eq!(Numeric::stored(value).to_string(), "-100.000000");
        // 0.0001: digits [1], weight -1, dscale 4.
        let bytes = [0, 1, 0xff, 0xff, 0, 0, 0, 4, 0, 1];
        assert_eq!(
            Numeric::stored(decode_binary_numeric(&bytes).unwrap()).to_string(),
            "0.0001"
        );
        // 12000000 (weight 1, one digit 1200): no fraction.
        let bytes = [0, 1, 0, 1, 0, 0, 0, 0, 0x04, 0xb0];
        assert_eq!(
            Numeric::stored(decode_binary_numeric(&bytes).unwrap()).to_string(),
            "12000000"
        );
        // Zero with scale 2.
        let bytes = [0, 0, 0, 0, 0, 0, 0, 2];
        assert_eq!(
            Numeric::stored(decode_binary_numeric(&bytes).unwrap()).to_string(),
            "0.00"
        );
    }

    #[test]
    fn ints_and_times_are_strings() {
        assert_eq!(
            serde_json::to_string(&IntString(15_813_000)).unwrap(),
            "\"15813000\""
        );
        let time = DateTime::parse_from_rfc3339("2024-05-01T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            serde_json::to_string(&IsoTime(time)).unwrap(),
            "\"2024-05-01T12:00:00.000Z\""
        );
    }

    #[test]
    fn ordered_map_keeps_insertion_order() {
        let map = OrderedMap(vec![("b".to_owned(), 1), ("a".to_owned(), 2)]);
        assert_eq!(serde_json::to_string(&map).unwrap(), r#"{"b":1,"a":2}"#);
    }
}

//! Protocol `SerializableInt` fields (ingest.md §3.1): arbitrary-size signed integers carried in
//! protobuf `bytes` as Go's `big.Int.GobEncode` output. Byte 0 is `(version << 1) | sign` with
//! version 1, followed by the big-endian magnitude; an empty byte string is 0. Position sizes,
//! funding indices, funding payments and trading rewards arrive in this form.

use num_bigint::{BigInt, BigUint, Sign};
use num_traits::Zero;

use crate::decimal::Decimal;
use crate::error::{Error, Result};

/// The only gob encoding version Go has ever written.
const GOB_VERSION: u8 = 1;

/// Decodes GobEncode bytes. Empty bytes (a nil `big.Int`) are 0; a version other than 1 is
/// rejected, as the reference database decoder does.
pub fn decode(bytes: &[u8]) -> Result<BigInt> {
    let Some((&header, magnitude)) = bytes.split_first() else {
        return Ok(BigInt::zero());
    };
    let version = header >> 1;
    if version != GOB_VERSION {
        return Err(Error::SerializableIntVersion(version));
    }
    let sign = if header & 1 == 1 {
        Sign::Minus
    } else {
        Sign::Plus
    };
    Ok(BigInt::from_biguint(
        sign,
        BigUint::from_bytes_be(magnitude),
    ))
}

/// Decodes and scales in one step: `value × 10^exponent`, trailing zeros stripped (e.g. a
/// position's quantums with the market's atomic resolution).
pub fn decode_scaled(bytes: &[u8], exponent: i64) -> Result<Decimal> {
    Ok(Decimal::from_scaled(decode(bytes)?, exponent).trim())
}

/// Encodes like Go's `GobEncode` of a non-nil `big.Int` (zero is `[0x02]`).
pub fn encode(value: &BigInt) -> Vec<u8> {
    let sign_bit = u8::from(value.sign() == Sign::Minus);
    let mut bytes = vec![(GOB_VERSION << 1) | sign_bit];
    if !value.is_zero() {
        bytes.extend(value.magnitude().to_bytes_be());
    }
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(hex_text: &str) -> Vec<u8> {
        hex::decode(hex_text.replace(' ', "")).unwrap()
    }

    const VECTORS: &[(&str, i128)] = &[
        ("", 0),
        ("02", 0),
        ("02 3b 9a ca 00", 1_000_000_000),
        ("03 3b 9a ca 00", -1_000_000_000),
        ("03 1d cd 65 00", -500_000_000),
        ("02 01 e2 40", 123_456),
        ("02 14 d1 12 0d 7b 16 00 00", 1_500_000_000_000_000_000),
    ];

    #[test]
    fn decodes_spec_vectors() {
        for (hex_text, value) in VECTORS {
            assert_eq!(
                decode(&bytes(hex_text)).unwrap(),
                BigInt::from(*value),
                "{hex_text}"
            );
        }
    }

    #[test]
    fn encodes_spec_vectors() {
        for (hex_text, value) in VECTORS.iter().skip(1) {
            assert_eq!(encode(&BigInt::from(*value)), bytes(hex_text), "{value}");
        }
    }

    #[test]
    fn round_trips_values_beyond_64_bits() {
        let huge = BigInt::from(u128::MAX) * BigInt::from(-7);
        assert_eq!(decode(&encode(&huge)).unwrap(), huge);
    }

    #[test]
    fn rejects_other_versions() {
        assert_eq!(
            decode(&bytes("04 01")),
            Err(Error::SerializableIntVersion(2))
        );
        assert_eq!(decode(&bytes("00")), Err(Error::SerializableIntVersion(0)));
    }

    #[test]
    fn decode_scaled_applies_the_exponent() {
        let size = decode_scaled(&bytes("03 3b 9a ca 00"), -10).unwrap();
        assert_eq!(size.to_string(), "-0.1");
        assert_eq!(size.scale(), 1);
        let reward = decode_scaled(&bytes("02 14 d1 12 0d 7b 16 00 00"), -18).unwrap();
        assert_eq!(reward.to_string(), "1.5");
    }
}

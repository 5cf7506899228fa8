//! The Java-compatible murmur2 partitioner (spec ingest §2.2).
//!
//! Every producer of `to-vulcan` (the protocol, ender, roundtable, bazooka, vulcan) must put a
//! given order id on the same partition, otherwise vulcan sees an order's place / update / remove
//! out of order. The protocol and the reference services use Kafka's Java `DefaultPartitioner`
//! for keyed messages, so ours computes exactly the same function.

/// Seed of Kafka's Java murmur2.
const SEED: u32 = 0x9747_b28c;
const M: u32 = 0x5bd1_e995;
const R: u32 = 24;

/// Kafka's Java `Utils.murmur2`: 32-bit MurmurHash2 with seed `0x9747b28c`, returned as the
/// signed int Java returns.
pub fn murmur2(data: &[u8]) -> i32 {
    let mut h: u32 = SEED ^ data.len() as u32;
    let mut chunks = data.chunks_exact(4);
    for chunk in &mut chunks {
        let mut k = u32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let tail = chunks.remainder();
    if !tail.is_empty() {
        // Java's fall-through switch over the 1..=3 trailing bytes.
        for (i, byte) in tail.iter().enumerate().rev() {
            h ^= u32::from(*byte) << (8 * i);
        }
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h as i32
}

/// The partition Kafka's Java partitioner picks for `key` among `partitions` partitions:
/// `(murmur2(key) & 0x7fffffff) % partitions`.
///
/// # Panics
/// When `partitions` is not positive: a topic always has at least one partition, so that is a
/// caller bug.
pub fn partition_for_key(key: &[u8], partitions: i32) -> i32 {
    assert!(
        partitions > 0,
        "a topic has at least one partition, got {partitions}"
    );
    (murmur2(key) & 0x7fff_ffff) % partitions
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// Spec ingest §10.3: the SHA-256 of an encoded `IndexerOrderId`.
    const ORDER_ID_KEY: &str = "8d7c60afdf6805f13355bbaac83e5d01ab6d93d443fc060d227fa5662835b6bb";

    /// Spec ingest §10.3: the encoding of `IndexerSubaccountId{owner: dydx1n88…565lnf, number: 0}`,
    /// i.e. the order-id encoding's embedded subaccount message.
    const SUBACCOUNT_KEY: &str =
        "0a2b64796478316e38387563333878686a67787a77396e777265346570326338676134666a78633536356c6e66";

    #[test]
    fn order_id_key_matches_the_spec_vector() {
        let key = unhex(ORDER_ID_KEY);
        assert_eq!(murmur2(&key), 757_300_523);
        assert_eq!(partition_for_key(&key, 210), 203);
    }

    #[test]
    fn subaccount_key_matches_the_spec_vector() {
        assert_eq!(partition_for_key(&unhex(SUBACCOUNT_KEY), 3), 0);
    }

    #[test]
    fn matches_kafka_java_for_short_keys_and_every_tail_length() {
        // Values from Kafka's own UtilsTest.testMurmur2 (Java client).
        let cases: [(&[u8], i32); 6] = [
            (b"21", -973_932_308),
            (b"foobar", -790_332_482),
            (b"a-little-bit-long-string", -985_981_536),
            (b"a-little-bit-longer-string", -1_486_304_829),
            (
                b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8",
                -58_897_971,
            ),
            (b"abc", 479_470_107),
        ];
        for (key, expected) in cases {
            assert_eq!(
                murmur2(key),
                expected,
                "murmur2({:?})",
                String::from_utf8_lossy(key)
            );
        }
    }

    #[test]
    fn negative_hashes_still_give_a_valid_partition() {
        // murmur2("21") is negative; the sign bit is masked, not the absolute value taken.
        let hash = murmur2(b"21");
        assert!(hash < 0);
        assert_eq!(partition_for_key(b"21", 210), (hash & 0x7fff_ffff) % 210);
        assert_ne!(
            partition_for_key(b"21", 210),
            hash.unsigned_abs() as i32 % 210
        );
    }
}

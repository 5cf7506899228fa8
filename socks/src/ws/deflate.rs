//! permessage-deflate (RFC 7692) as socks negotiates it: no context takeover in either
//! direction, a 32 KiB window.
//!
//! Without context takeover every message is compressed on its own, so no compressor state is
//! kept per connection (zlib-style state is hundreds of KB; 10 000 connections would need
//! gigabytes) and a data frame's tail, the same for every subscriber, is compressed **once**: a
//! connection's frame is then its short head (`{"type":…,"connection_id":…,"message_id":N,`) as a
//! stored (uncompressed) deflate block followed by the shared compressed tail. Both parts end on a
//! byte boundary and neither is final, so their concatenation is a valid message payload.

use std::cell::RefCell;

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

/// Messages shorter than this are sent uncompressed (RFC 7692 lets every message choose): the
/// deflate framing would make them longer, or save too little to pay for the CPU.
pub const MIN_BYTES: usize = 128;

/// The empty stored block a sync flush ends with; the sender strips it, the receiver appends it.
const SYNC_TRAILER: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

thread_local! {
    /// One compressor per worker thread, reset for every message (no context takeover).
    static COMPRESSOR: RefCell<Compress> = RefCell::new(Compress::new(Compression::fast(), false));
}

/// Compresses `text` as one message payload: raw deflate, sync-flushed, trailer stripped.
pub fn compress(text: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() / 2 + 64);
    COMPRESSOR.with(|compressor| {
        let mut compressor = compressor.borrow_mut();
        compressor.reset();
        deflate_into(&mut compressor, text, &mut out);
    });
    debug_assert!(out.ends_with(&SYNC_TRAILER));
    out.truncate(out.len().saturating_sub(SYNC_TRAILER.len()));
    out
}

fn deflate_into(compressor: &mut Compress, mut input: &[u8], out: &mut Vec<u8>) {
    loop {
        if out.capacity() - out.len() < 64 {
            out.reserve(out.len().max(256));
        }
        let before = compressor.total_in();
        compressor
            .compress_vec(input, out, FlushCompress::Sync)
            .expect("deflating memory into a growing buffer cannot fail");
        input = &input[(compressor.total_in() - before) as usize..];
        // Done when everything is consumed and the flush did not fill the space it had.
        if input.is_empty() && out.len() < out.capacity() {
            return;
        }
    }
}

/// Bytes a stored block adds before its data (header byte, LEN, NLEN).
pub const STORED_BLOCK_OVERHEAD: usize = 5;

/// Appends `head` as a stored deflate block (not final, byte-aligned): the per-connection part
/// of a data frame whose compressed tail is shared.
pub fn push_stored_block(head: &[u8], out: &mut Vec<u8>) {
    let len = u16::try_from(head.len()).expect("frame heads are far below 64 KiB");
    // BFINAL = 0, BTYPE = 00 (stored); the remaining five bits pad to the byte boundary.
    out.push(0x00);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&(!len).to_le_bytes());
    out.extend_from_slice(head);
}

/// Why a compressed client message could not be inflated.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum InflateError {
    #[error("inflated message exceeds {0} bytes")]
    TooBig(usize),
    #[error("invalid deflate data")]
    Corrupt,
}

/// Inflates one message payload (the client uses no context takeover, so every message is
/// self-contained), refusing output above `max` bytes.
pub fn inflate(payload: &[u8], max: usize) -> Result<Vec<u8>, InflateError> {
    let mut inflater = Decompress::new(false);
    let mut out = Vec::with_capacity((payload.len() * 3).min(max) + 64);
    for part in [payload, &SYNC_TRAILER[..]] {
        let mut input = part;
        loop {
            if out.capacity() - out.len() < 64 {
                out.reserve(out.len().max(256));
            }
            let (in_before, out_before) = (inflater.total_in(), inflater.total_out());
            let status = inflater
                .decompress_vec(input, &mut out, FlushDecompress::Sync)
                .map_err(|_| InflateError::Corrupt)?;
            if out.len() > max {
                return Err(InflateError::TooBig(max));
            }
            input = &input[(inflater.total_in() - in_before) as usize..];
            let stuck = inflater.total_in() == in_before && inflater.total_out() == out_before;
            if status == Status::StreamEnd || (input.is_empty() && out.len() < out.capacity()) {
                break;
            }
            if stuck {
                return Err(InflateError::Corrupt);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(n: usize) -> String {
        (0..n)
            .map(|i| {
                format!(
                    "{{\"price\":\"{}.5\",\"size\":\"{}\"}},",
                    100 + i % 7,
                    i % 13
                )
            })
            .collect()
    }

    #[test]
    fn a_compressed_message_inflates_back_and_is_smaller() {
        let original = text(200);
        let packed = compress(original.as_bytes());
        assert!(packed.len() * 3 < original.len(), "{} bytes", packed.len());
        assert!(!packed.ends_with(&SYNC_TRAILER), "the trailer is stripped");
        let unpacked = inflate(&packed, 1 << 20).unwrap();
        assert_eq!(unpacked, original.as_bytes());
    }

    #[test]
    fn a_stored_head_followed_by_a_shared_tail_is_one_valid_message() {
        let tail = text(50);
        let shared = compress(tail.as_bytes());
        for head in ["{\"type\":\"channel_data\",\"message_id\":1,", "{\"a\":2,"] {
            let mut payload = Vec::new();
            push_stored_block(head.as_bytes(), &mut payload);
            payload.extend_from_slice(&shared);
            let unpacked = inflate(&payload, 1 << 20).unwrap();
            assert_eq!(
                String::from_utf8(unpacked).unwrap(),
                format!("{head}{tail}")
            );
        }
    }

    #[test]
    fn the_compressor_keeps_no_context_between_messages() {
        let first = compress(text(30).as_bytes());
        let again = compress(text(30).as_bytes());
        assert_eq!(
            first, again,
            "same input, same output: nothing carried over"
        );
    }

    #[test]
    fn inflate_refuses_output_above_the_limit_and_garbage() {
        let big = "a".repeat(100_000);
        let packed = compress(big.as_bytes());
        assert_eq!(inflate(&packed, 10_000), Err(InflateError::TooBig(10_000)));
        assert_eq!(
            inflate(&[0xff, 0xff, 0xff, 0xff], 1000),
            Err(InflateError::Corrupt)
        );
    }
}

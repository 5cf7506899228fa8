//! Channel sequence numbers kept in Redis (beyond.md §1) and the stream epoch they belong to.

use redis::Value;

use crate::script_value::{array, string, ScriptReplyError};
use crate::scripts;
use crate::{Cache, CacheError};

/// Reserved numbers: for each counter, the last number reserved (the first is
/// `last - count + 1`), and the epoch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReservedSeqs {
    pub epoch: String,
    pub last: Vec<u64>,
}

/// Adds `count` to each counter key atomically and returns the new values with the stream epoch
/// (set to `epoch_candidate` if Redis has none).
pub async fn reserve_seqs(
    cache: &Cache,
    counters: &[(String, u64)],
    epoch_candidate: &str,
) -> Result<ReservedSeqs, CacheError> {
    let mut invocation = scripts::reserve_seqs().prepare_invoke();
    invocation
        .key(cache.keys().stream_epoch())
        .arg(epoch_candidate);
    for (key, count) in counters {
        invocation.key(key).arg(*count);
    }
    let reply: Value = invocation.invoke_async(&mut cache.conn()).await?;
    Ok(parse_reserved(reply, counters.len())?)
}

/// The stream epoch, created from `epoch_candidate` if Redis has none.
pub async fn stream_epoch(cache: &Cache, epoch_candidate: &str) -> Result<String, CacheError> {
    Ok(reserve_seqs(cache, &[], epoch_candidate).await?.epoch)
}

fn parse_reserved(reply: Value, expected: usize) -> Result<ReservedSeqs, ScriptReplyError> {
    let mut items = array(reply)?.into_iter();
    let epoch = string(
        items
            .next()
            .ok_or(ScriptReplyError::Shape("missing epoch"))?,
    )?;
    let last = items
        .map(|v| {
            let text = string(v)?;
            text.parse().map_err(|_| ScriptReplyError::Number(text))
        })
        .collect::<Result<Vec<u64>, _>>()?;
    if last.len() != expected {
        return Err(ScriptReplyError::Shape("one value per counter"));
    }
    Ok(ReservedSeqs { epoch, last })
}

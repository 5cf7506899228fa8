//! The outbox relay (beyond.md §2): publishes committed outbox rows in id order — Kafka messages
//! with the idempotent producer, Redis effects with their exactly-once script — and deletes them
//! once acknowledged. After a crash anywhere it publishes whatever was committed and not yet
//! deleted; consumers drop duplicates by `seq`.

use std::sync::Arc;
use std::time::Duration;

use indexer_bus::headers::MessageHeaders;
use indexer_bus::producer::{BusProducer, OutgoingMessage};
use indexer_bus::topics::Topic;
use indexer_cache::Cache;
use indexer_store::write::{delete_outbox_through, pending_outbox, OutboxRow};
use sqlx::PgPool;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::redis_io::{applied_marker_key, apply_effect, effect_of, REDIS_TOPIC};

/// Why a relay round failed (it is retried).
#[derive(Debug, thiserror::Error)]
pub enum RelayError {
    #[error(transparent)]
    Store(#[from] indexer_store::StoreError),
    #[error(transparent)]
    Bus(#[from] indexer_bus::BusError),
    #[error(transparent)]
    Cache(#[from] indexer_cache::CacheError),
    #[error("outbox row {id}: {reason}")]
    BadRow { id: i64, reason: String },
}

/// Publishes the outbox.
pub struct Relay {
    pool: PgPool,
    producer: BusProducer,
    cache: Cache,
    batch_size: i64,
}

impl Relay {
    pub fn new(pool: PgPool, producer: BusProducer, cache: Cache) -> Self {
        Relay {
            pool,
            producer,
            cache,
            batch_size: 1000,
        }
    }

    /// Publishes one batch of the oldest rows; returns how many rows were published.
    pub async fn publish_batch(&self) -> Result<usize, RelayError> {
        let mut conn = self
            .pool
            .acquire()
            .await
            .map_err(indexer_store::StoreError::from)?;
        let rows = pending_outbox(&mut conn, self.batch_size).await?;
        let Some(last) = rows.last().map(|r| r.id) else {
            return Ok(0);
        };
        let epoch = indexer_store::ender_progress(&mut *conn)
            .await?
            .map(|p| p.epoch)
            .unwrap_or_else(Uuid::nil);
        let marker = applied_marker_key(&self.cache, &epoch);
        for run in runs_by_topic(&rows) {
            if run[0].topic == REDIS_TOPIC {
                for row in run {
                    let effect = effect_of(&row.payload).map_err(|e| RelayError::BadRow {
                        id: row.id,
                        reason: e.to_string(),
                    })?;
                    apply_effect(&self.cache, &marker, row.id, &effect).await?;
                }
                continue;
            }
            let topic = Topic::from_base_name(&run[0].topic).ok_or_else(|| RelayError::BadRow {
                id: run[0].id,
                reason: format!("unknown topic {}", run[0].topic),
            })?;
            let messages: Vec<OutgoingMessage> = run.iter().map(outgoing).collect();
            self.producer.send_all(topic, &messages).await?;
            metrics::counter!("ender_outbox_published_total", "topic" => topic.base_name())
                .increment(messages.len() as u64);
        }
        delete_outbox_through(&mut conn, last).await?;
        Ok(rows.len())
    }

    /// Publishes until `shutdown`, waking on `notify` (a committed block) or every 200 ms.
    pub async fn run(self, notify: Arc<Notify>, shutdown: CancellationToken) {
        let mut backoff = Duration::from_millis(100);
        loop {
            match self.publish_batch().await {
                Ok(0) => {
                    backoff = Duration::from_millis(100);
                    metrics::gauge!("ender_outbox_backlog").set(0.0);
                    tokio::select! {
                        _ = shutdown.cancelled() => return,
                        _ = notify.notified() => {}
                        _ = tokio::time::sleep(Duration::from_millis(200)) => {}
                    }
                }
                Ok(_) => backoff = Duration::from_millis(100),
                Err(error) => {
                    tracing::warn!(%error, "outbox relay failed; retrying");
                    if let Ok(mut conn) = self.pool.acquire().await {
                        if let Ok(backlog) = indexer_store::write::outbox_backlog(&mut conn).await {
                            metrics::gauge!("ender_outbox_backlog").set(backlog as f64);
                        }
                    }
                    metrics::counter!("ender_outbox_relay_failures_total").increment(1);
                    tokio::select! {
                        _ = shutdown.cancelled() => return,
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
    }
}

/// Consecutive rows of the same topic (order is kept inside and across runs).
fn runs_by_topic(rows: &[OutboxRow]) -> Vec<&[OutboxRow]> {
    let mut runs = Vec::new();
    let mut start = 0;
    for i in 1..=rows.len() {
        if i == rows.len() || rows[i].topic != rows[start].topic {
            runs.push(&rows[start..i]);
            start = i;
        }
    }
    runs
}

fn outgoing(row: &OutboxRow) -> OutgoingMessage {
    let mut headers = MessageHeaders::new();
    if let Some(map) = row.headers.as_object() {
        for (name, value) in map {
            let text = value
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| value.to_string());
            headers.insert(name.clone(), text.into_bytes());
        }
    }
    OutgoingMessage::new(row.partition_key.clone(), row.payload.clone()).with_headers(headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: i64, topic: &str) -> OutboxRow {
        OutboxRow {
            id,
            block_height: 1,
            topic: topic.into(),
            partition_key: None,
            payload: vec![],
            headers: serde_json::json!({"seq": "3"}),
        }
    }

    #[test]
    fn runs_keep_order_and_split_on_topic_changes() {
        let rows = vec![row(1, "a"), row(2, "a"), row(3, "b"), row(4, "a")];
        let ids: Vec<Vec<i64>> = runs_by_topic(&rows)
            .iter()
            .map(|r| r.iter().map(|x| x.id).collect())
            .collect();
        assert_eq!(ids, vec![vec![1, 2], vec![3], vec![4]]);
        assert!(runs_by_topic(&[]).is_empty());
    }

    #[test]
    fn headers_become_kafka_headers() {
        let message = outgoing(&row(1, "a"));
        assert_eq!(message.headers.get_str("seq"), Some("3"));
    }
}

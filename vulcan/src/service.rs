//! The running service: a reader task takes `to-vulcan` messages off Kafka, the processor applies
//! them in batches (as many as are waiting, up to `VULCAN_BATCH_SIZE`), a publisher sends each
//! batch's messages and dead letters in order and only then marks its offsets done; done offsets
//! are committed every `VULCAN_COMMIT_INTERVAL_MS`. Delivery is at-least-once end to end.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use indexer_base::config::{KafkaSettings, PostgresSettings, RedisSettings};
use indexer_base::Shutdown;
use indexer_bus::{
    BusConsumer, BusError, BusProducer, ConsumerOptions, MessageMeta, OffsetReset, OutgoingMessage,
    Topic,
};
use indexer_cache::{BookSide, Cache};
use indexer_proto::off_chain_updates::OffChainUpdateV1;
use indexer_store::{PgPool, Pools};
use prost::Message;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

use crate::config::VulcanSettings;
use crate::markets::{Context, Markets};
use crate::metrics;
use crate::pipeline::{AppliedBatch, Inbound, ProcessedBatch, Processor};

/// Consumer group of every vulcan instance (instances share the partitions).
pub const GROUP: &str = "vulcan";

/// Messages read ahead of the processor.
const READ_AHEAD: usize = 8_192;
/// Processed batches waiting for the publisher.
const PUBLISH_AHEAD: usize = 16;
/// Back-off before retrying a batch after a Redis / Postgres / Kafka error.
const RETRY_BACKOFF: Duration = Duration::from_millis(500);

/// Everything the service connects to.
pub struct Connections {
    pub cache: Cache,
    pub pools: Pools,
    pub kafka: KafkaSettings,
}

impl Connections {
    pub async fn open(
        redis: &RedisSettings,
        postgres: &PostgresSettings,
        kafka: KafkaSettings,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            cache: Cache::connect(redis).await?,
            pools: Pools::connect(postgres).await?,
            kafka,
        })
    }
}

/// Loads markets and the latest height once (vulcan cannot validate anything without them).
pub async fn load_context(db: &PgPool) -> anyhow::Result<Context> {
    let context = Context::new(Markets::default(), None);
    refresh_markets(db, &context).await?;
    refresh_height(db, &context).await?;
    Ok(context)
}

async fn refresh_markets(db: &PgPool, context: &Context) -> anyhow::Result<()> {
    let mut conn = db.acquire().await?;
    let rows = indexer_store::read::ender_state::load_perpetual_markets(&mut conn).await?;
    context.set_markets(Markets::from_rows(&rows));
    Ok(())
}

async fn refresh_height(db: &PgPool, context: &Context) -> anyhow::Result<()> {
    context.set_latest_height(indexer_store::last_processed_height(db).await?);
    Ok(())
}

/// Spawns every task of the service into `tasks`; they stop when `shutdown` triggers.
pub async fn spawn(
    connections: Connections,
    settings: VulcanSettings,
    shutdown: Shutdown,
    readiness: indexer_base::Readiness,
    tasks: &mut JoinSet<anyhow::Result<()>>,
) -> anyhow::Result<()> {
    let Connections {
        cache,
        pools,
        kafka,
    } = connections;
    let reader_db = pools.reader().clone();
    let context = load_context(&reader_db).await?;
    let processor = Processor::new(
        cache.clone(),
        Some(pools.primary.clone()),
        context.clone(),
        settings.processor(),
    );

    let reset = if settings.process_from_beginning {
        OffsetReset::Earliest
    } else {
        OffsetReset::Latest
    };
    let options = ConsumerOptions::new(GROUP, [Topic::ToVulcan]).offset_reset(reset);
    let decoder: indexer_bus::Decoder<Decoded> = Box::new(|bytes: &[u8]| {
        OffChainUpdateV1::decode(bytes)
            .map(|update| Decoded {
                update,
                raw: bytes.to_vec(),
            })
            .map_err(|e| format!("not an OffChainUpdateV1: {e}"))
    });
    let consumer = Arc::new(BusConsumer::subscribe(&kafka, &options, decoder)?);
    let producer = BusProducer::new(&kafka)?;
    readiness.set_ready("kafka_consumer", true);
    register_probes(&readiness, &cache, &pools.primary);

    let (inbound_tx, inbound_rx) = mpsc::channel(READ_AHEAD);
    let (batch_tx, batch_rx) = mpsc::channel(PUBLISH_AHEAD);
    tasks.spawn(read(Arc::clone(&consumer), inbound_tx, shutdown.clone()));
    tasks.spawn(process(
        processor,
        inbound_rx,
        batch_tx,
        settings.batch_size,
    ));
    tasks.spawn(publish(
        producer,
        consumer,
        batch_rx,
        settings.commit_interval,
    ));
    tasks.spawn(refresh_loop(
        reader_db.clone(),
        context.clone(),
        settings.markets_refresh,
        shutdown.clone(),
        Refresh::Markets,
    ));
    tasks.spawn(refresh_loop(
        reader_db,
        context.clone(),
        settings.height_refresh,
        shutdown.clone(),
        Refresh::Height,
    ));
    tasks.spawn(book_depth_loop(
        cache,
        context,
        settings.book_depth_interval,
        shutdown,
    ));
    Ok(())
}

fn register_probes(readiness: &indexer_base::Readiness, cache: &Cache, db: &PgPool) {
    let cache = cache.clone();
    readiness.register("redis", move || {
        let cache = cache.clone();
        async move { cache.ping().await }
    });
    let db = db.clone();
    readiness.register("postgres", move || {
        let db = db.clone();
        async move { sqlx_ping(&db).await }
    });
}

async fn sqlx_ping(db: &PgPool) -> Result<(), indexer_store::StoreError> {
    indexer_store::last_processed_height(db).await.map(|_| ())
}

/// A decoded message with its raw bytes (kept for dead-lettering).
pub struct Decoded {
    update: OffChainUpdateV1,
    raw: Vec<u8>,
}

/// Reads messages until shutdown. Undecodable messages are dead-lettered by the consumer itself.
async fn read(
    consumer: Arc<BusConsumer<Decoded>>,
    tx: mpsc::Sender<Inbound>,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    loop {
        let received = tokio::select! {
            _ = shutdown.wait() => return Ok(()),
            received = consumer.next() => received?,
        };
        metrics::received();
        let meta = received.meta;
        let inbound = Inbound {
            update: received.value.update,
            raw: received.value.raw,
            key: meta.key.clone(),
            headers: meta.headers.clone(),
            kafka_timestamp_ms: meta.timestamp_ms,
            received: Instant::now(),
            meta: Some(meta),
        };
        if tx.send(inbound).await.is_err() {
            return Ok(());
        }
    }
}

/// A processed batch on its way to the publisher.
pub struct Done {
    pub result: ProcessedBatch,
    pub metas: Vec<MessageMeta>,
    /// When each message of the batch was received.
    pub received: Vec<Instant>,
}

/// Forms batches of whatever is waiting and applies them, pipelined: as soon as batch k's script
/// has run, batch k+1's script is sent (if messages are waiting) while batch k is finished
/// (Postgres, decisions, subaccount seqs, messages), so Redis and this process work at the same
/// time. Scripts still run strictly in Kafka order, and a failed step is retried alone until it
/// succeeds: a failed script is re-sent (safe, see README "Replays") before any later batch's;
/// a failed finish is retried without re-applying its script.
pub async fn process(
    processor: Processor,
    mut rx: mpsc::Receiver<Inbound>,
    tx: mpsc::Sender<Done>,
    batch_size: usize,
) -> anyhow::Result<()> {
    let mut in_flight: Option<tokio::task::JoinHandle<Applying>> = None;
    loop {
        let current = match in_flight.take() {
            Some(handle) => handle.await?,
            None => {
                let Some(first) = rx.recv().await else {
                    return Ok(());
                };
                let mut batch = vec![first];
                take_waiting(&mut rx, &mut batch, batch_size);
                apply_until_done(processor.clone(), batch).await
            }
        };
        let mut next = Vec::new();
        take_waiting(&mut rx, &mut next, batch_size);
        if !next.is_empty() {
            in_flight = Some(tokio::spawn(apply_until_done(processor.clone(), next)));
        }
        let Applying {
            batch,
            applied,
            started,
        } = current;
        let result = loop {
            match processor.finish(&batch, &applied).await {
                Ok(result) => break result,
                Err(error) => {
                    tracing::error!(%error, size = batch.len(), "finishing a batch failed; retrying it");
                    metrics::retry("finish");
                    tokio::time::sleep(RETRY_BACKOFF).await;
                }
            }
        };
        metrics::batch(batch.len(), started.elapsed());
        for message in &batch {
            metrics::processing_latency(message.received.elapsed());
        }
        let done = Done {
            result,
            metas: batch.iter().filter_map(|m| m.meta.clone()).collect(),
            received: batch.iter().map(|m| m.received).collect(),
        };
        if tx.send(done).await.is_err() {
            return Ok(());
        }
    }
}

/// Moves messages already waiting into `batch`, up to `batch_size` (never waits: under load
/// batches grow to the limit by themselves, when idle each message goes alone).
fn take_waiting(rx: &mut mpsc::Receiver<Inbound>, batch: &mut Vec<Inbound>, batch_size: usize) {
    while batch.len() < batch_size {
        match rx.try_recv() {
            Ok(next) => batch.push(next),
            Err(_) => break,
        }
    }
}

/// A batch whose script has run.
struct Applying {
    batch: Vec<Inbound>,
    applied: AppliedBatch,
    started: Instant,
}

async fn apply_until_done(processor: Processor, batch: Vec<Inbound>) -> Applying {
    let started = Instant::now();
    loop {
        match processor.apply(&batch).await {
            Ok(applied) => {
                return Applying {
                    batch,
                    applied,
                    started,
                }
            }
            Err(error) => {
                tracing::error!(%error, size = batch.len(), "applying a batch to Redis failed; retrying it");
                metrics::retry("apply");
                tokio::time::sleep(RETRY_BACKOFF).await;
            }
        }
    }
}

/// Publishes batches in order, then commits their offsets periodically.
async fn publish(
    producer: BusProducer,
    consumer: Arc<BusConsumer<Decoded>>,
    mut rx: mpsc::Receiver<Done>,
    commit_interval: Duration,
) -> anyhow::Result<()> {
    let mut done: BTreeMap<(String, i32), MessageMeta> = BTreeMap::new();
    let mut last_commit = Instant::now();
    while let Some(batch) = rx.recv().await {
        while let Err(error) = send_batch(&producer, &batch.result).await {
            tracing::error!(%error, "publishing a batch failed; re-sending it");
            metrics::retry("publish");
            tokio::time::sleep(RETRY_BACKOFF).await;
        }
        for received in &batch.received {
            metrics::publish_latency(received.elapsed());
        }
        for meta in batch.metas {
            done.insert((meta.topic.clone(), meta.partition), meta);
        }
        if last_commit.elapsed() >= commit_interval || rx.is_empty() {
            commit(&consumer, &mut done).await;
            last_commit = Instant::now();
        }
    }
    commit(&consumer, &mut done).await;
    producer.flush(Duration::from_secs(10)).await?;
    Ok(())
}

async fn commit(consumer: &BusConsumer<Decoded>, done: &mut BTreeMap<(String, i32), MessageMeta>) {
    for meta in std::mem::take(done).into_values() {
        if let Err(error) = consumer.commit(&meta).await {
            // Not fatal: the next commit covers it; a restart replays a little (idempotent).
            tracing::warn!(%error, "committing vulcan progress failed");
        }
    }
}

/// Sends a batch's output topic by topic, keeping order within each topic.
async fn send_batch(producer: &BusProducer, batch: &ProcessedBatch) -> Result<(), BusError> {
    for letter in &batch.dead_letters {
        let topic = producer.names().dead_letter(Topic::ToVulcan);
        producer
            .send_to(
                &topic,
                letter.key.as_deref(),
                &letter.payload,
                &letter.headers,
            )
            .await?;
    }
    for topic in [
        Topic::ToWebsocketsOrderbooks,
        Topic::ToWebsocketsSubaccounts,
        Topic::ToVulcan,
    ] {
        let messages: Vec<OutgoingMessage> = batch
            .outgoing
            .iter()
            .filter(|m| m.topic == topic)
            .map(|m| {
                OutgoingMessage::new(m.key.clone(), m.payload.clone())
                    .with_headers(m.headers.clone())
            })
            .collect();
        if !messages.is_empty() {
            producer.send_all(topic, &messages).await?;
        }
    }
    Ok(())
}

#[derive(Clone, Copy)]
enum Refresh {
    Markets,
    Height,
}

async fn refresh_loop(
    db: PgPool,
    context: Context,
    every: Duration,
    shutdown: Shutdown,
    what: Refresh,
) -> anyhow::Result<()> {
    let mut ticker = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = shutdown.wait() => return Ok(()),
            _ = ticker.tick() => {}
        }
        let result = match what {
            Refresh::Markets => refresh_markets(&db, &context).await,
            Refresh::Height => refresh_height(&db, &context).await,
        };
        if let Err(error) = result {
            tracing::warn!(%error, "refreshing vulcan's market / height cache failed; keeping the old values");
        }
    }
}

async fn book_depth_loop(
    cache: Cache,
    context: Context,
    every: Duration,
    shutdown: Shutdown,
) -> anyhow::Result<()> {
    let mut ticker = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = shutdown.wait() => return Ok(()),
            _ = ticker.tick() => {}
        }
        for market in context.markets().iter() {
            for side in [BookSide::Buy, BookSide::Sell] {
                let key = cache.keys().orderbook_levels(&market.ticker, side);
                let levels: Result<u64, _> = redis::cmd("HLEN")
                    .arg(key)
                    .query_async(&mut cache.conn())
                    .await;
                match levels {
                    Ok(n) => metrics::book_depth(&market.ticker, side.as_str(), n),
                    Err(error) => tracing::warn!(%error, "sampling book depth failed"),
                }
            }
        }
    }
}

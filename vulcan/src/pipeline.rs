//! One batch of `to-vulcan` messages, in order: plan each (pure), apply all their Redis
//! operations in one atomic script call, do the batch's Postgres work in at most two statements,
//! decide each message's output (pure), number the subaccount messages, and hand back the Kafka
//! messages to publish. Ordering per order id is kept because operations run in Kafka order.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use indexer_bus::consumer::dead_letter_headers;
use indexer_bus::{MessageHeaders, MessageMeta, Topic};
use indexer_cache::orders::{OpOutcome, OrderOp};
use indexer_cache::{apply_order_ops, reserve_seqs, Cache, CacheError};
use indexer_domain::order_id::{order_id_key, subaccount_key};
use indexer_proto::off_chain_updates::OffChainUpdateV1;
use indexer_proto::socks::{OrderbookMessage, SubaccountMessage};
use indexer_store::read::vulcan_orders;
use indexer_store::write::OrderRow;
use indexer_store::{PgPool, StoreError};
use prost::Message;
use uuid::Uuid;

use crate::decide::{decide, pg_needs, DecideSettings, Decision, PgNeed};
use crate::markets::Context;
use crate::messages::{ORDERBOOK_VERSION, SUBACCOUNT_VERSION};
use crate::metrics;
use crate::plan::{plan, Command, Rejection};

/// Header names vulcan reads and writes (ingest.md §2.6, beyond.md §1).
pub mod headers {
    pub const MESSAGE_RECEIVED_TIMESTAMP: &str = "message_received_timestamp";
    pub const EVENT_TYPE: &str = "event_type";
    /// Position of the message in its channel id's stream.
    pub const SEQ: &str = "seq";
    /// The stream epoch the seq belongs to.
    pub const EPOCH: &str = "epoch";
    /// `<channel>/<id>`, e.g. `v4_orderbook/BTC-USD`, `v4_subaccounts/dydx1…/0`.
    pub const CHANNEL: &str = "channel";
    /// Which writer numbered the message: `vulcan` (ender's messages carry none).
    pub const SOURCE: &str = "source";
    pub const SOURCE_VULCAN: &str = "vulcan";
}

/// A consumed message.
#[derive(Debug, Clone)]
pub struct Inbound {
    pub update: OffChainUpdateV1,
    /// The value as received (for dead-lettering).
    pub raw: Vec<u8>,
    pub key: Option<Vec<u8>>,
    pub headers: MessageHeaders,
    pub kafka_timestamp_ms: Option<i64>,
    /// When vulcan took the message off the wire (latency start).
    pub received: Instant,
    /// Where it came from (absent for messages fed directly, e.g. by the benchmark).
    pub meta: Option<MessageMeta>,
}

/// A message to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub topic: Topic,
    pub key: Option<Vec<u8>>,
    pub payload: Vec<u8>,
    pub headers: MessageHeaders,
}

/// A copy of a refused message for `to-vulcan-dead-letter`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeadLetter {
    pub key: Option<Vec<u8>>,
    pub payload: Vec<u8>,
    pub headers: MessageHeaders,
    pub reason: String,
}

/// What a batch produced.
#[derive(Debug, Default)]
pub struct ProcessedBatch {
    /// In publishing order.
    pub outgoing: Vec<Outgoing>,
    pub dead_letters: Vec<DeadLetter>,
    /// Per input message, in order: its decision (`None` for refused messages).
    pub decisions: Vec<Option<Decision>>,
}

/// A batch whose Redis script has run: each message's plan and script outcome.
#[derive(Debug)]
pub struct AppliedBatch {
    planned: Vec<Result<Command, Rejection>>,
    outcomes: Vec<Option<OpOutcome>>,
    height: Option<i64>,
    /// The stream epoch the script's seqs belong to.
    epoch: String,
    epoch_candidate: String,
}

/// Tunables of the processor.
#[derive(Debug, Clone)]
pub struct ProcessorSettings {
    pub decide: DecideSettings,
    /// `SEND_WEBSOCKET_MESSAGES`: false drops websocket messages (fast sync).
    pub send_websocket_messages: bool,
    /// How long a confirmed stateful placement waits for its Postgres row before it is
    /// announced without the row's fields.
    pub missing_row_wait: Duration,
}

impl Default for ProcessorSettings {
    fn default() -> Self {
        Self {
            decide: DecideSettings::default(),
            send_websocket_messages: true,
            missing_row_wait: Duration::from_secs(10),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    #[error(transparent)]
    Redis(#[from] CacheError),
    #[error(transparent)]
    Postgres(#[from] StoreError),
}

/// Applies batches of messages. Cheap to clone.
#[derive(Clone)]
pub struct Processor {
    cache: Cache,
    db: Option<PgPool>,
    context: Context,
    settings: ProcessorSettings,
}

impl Processor {
    /// `db` may be `None` only where no message needs Postgres (benchmarks of short-term flow);
    /// then rows are treated as absent.
    pub fn new(
        cache: Cache,
        db: Option<PgPool>,
        context: Context,
        settings: ProcessorSettings,
    ) -> Self {
        Self {
            cache,
            db,
            context,
            settings,
        }
    }

    pub fn context(&self) -> &Context {
        &self.context
    }

    /// Processes `batch` in order. On error nothing is published; the caller retries the batch
    /// (re-applying is safe, see README "Replays").
    pub async fn process(&self, batch: &[Inbound]) -> Result<ProcessedBatch, ProcessError> {
        let applied = self.apply(batch).await?;
        self.finish(batch, &applied).await
    }

    /// The Redis half of a batch: plans every message (pure) and applies all their operations in
    /// one atomic script call. The service pipelines this call for the next batch with
    /// [`Processor::finish`] of the current one; once it succeeded, retrying the batch means
    /// retrying only `finish`, never re-applying it after a later batch.
    pub async fn apply(&self, batch: &[Inbound]) -> Result<AppliedBatch, ProcessError> {
        let markets = self.context.markets();
        let height = self.context.latest_height();
        let planned: Vec<Result<Command, Rejection>> = batch
            .iter()
            .map(|m| plan(&m.update, &markets, height))
            .collect();

        let ops: Vec<OrderOp> = planned
            .iter()
            .filter_map(|p| p.as_ref().ok().and_then(Command::op))
            .collect();
        let now_ms = chrono::Utc::now().timestamp_millis();
        let epoch_candidate = Uuid::new_v4().to_string();
        let applied = apply_order_ops(&self.cache, &ops, now_ms, &epoch_candidate).await?;
        let mut outcomes = applied.outcomes.into_iter();
        let outcomes: Vec<Option<OpOutcome>> = planned
            .iter()
            .map(|p| match p {
                Ok(c) if c.op().is_some() => outcomes.next(),
                _ => None,
            })
            .collect();
        Ok(AppliedBatch {
            planned,
            outcomes,
            height,
            epoch: applied.epoch,
            epoch_candidate,
        })
    }

    /// The rest of a batch after its script ran: Postgres, decisions, subaccount seqs, the
    /// messages to publish. Safe to retry with the same `applied`.
    pub async fn finish(
        &self,
        batch: &[Inbound],
        applied: &AppliedBatch,
    ) -> Result<ProcessedBatch, ProcessError> {
        let AppliedBatch {
            planned,
            outcomes,
            height,
            epoch,
            epoch_candidate,
        } = applied;
        let rows = self.load_rows(planned, outcomes).await?;
        let mut result = ProcessedBatch::default();
        let mut subaccount_drafts = Vec::new();
        for ((inbound, plan), outcome) in batch.iter().zip(planned).zip(outcomes) {
            let headers = augmented_headers(inbound, plan.as_ref().ok());
            match plan {
                Err(rejection) => {
                    metrics::rejected(&rejection.0);
                    tracing::warn!(reason = %rejection, source = ?inbound.meta.as_ref().map(|m| (&m.topic, m.partition, m.offset)), "invalid to-vulcan message; dead-lettering it");
                    result
                        .dead_letters
                        .push(dead_letter(inbound, &headers, &rejection.0));
                    result.decisions.push(None);
                }
                Ok(command) => {
                    let decision = decide(
                        command,
                        outcome.as_ref(),
                        &rows,
                        *height,
                        &self.settings.decide,
                    );
                    metrics::decided(command.kind(), &decision);
                    self.collect(
                        &mut result,
                        &mut subaccount_drafts,
                        inbound,
                        &headers,
                        epoch,
                        &decision,
                    );
                    result.decisions.push(Some(decision));
                }
            }
        }
        self.number_subaccount_messages(&mut result, subaccount_drafts, epoch_candidate)
            .await?;
        Ok(result)
    }

    fn collect(
        &self,
        result: &mut ProcessedBatch,
        drafts: &mut Vec<(usize, String, MessageHeaders)>,
        inbound: &Inbound,
        headers: &MessageHeaders,
        epoch: &str,
        decision: &Decision,
    ) {
        if let Some(reason) = &decision.dead_letter {
            tracing::info!(reason, source = ?inbound.meta.as_ref().map(|m| (&m.topic, m.partition, m.offset)), "to-vulcan message changed nothing; dead-lettering a copy");
            result
                .dead_letters
                .push(dead_letter(inbound, headers, reason));
        }
        if let Some((order_id, update)) = &decision.requeue {
            result.outgoing.push(Outgoing {
                topic: Topic::ToVulcan,
                key: Some(order_id_key(order_id).to_vec()),
                payload: update.clone(),
                headers: headers.clone(),
            });
        }
        if !self.settings.send_websocket_messages {
            return;
        }
        for level in &decision.levels {
            let message = OrderbookMessage {
                contents: level.contents(),
                clob_pair_id: level.clob_pair_id.to_string(),
                version: ORDERBOOK_VERSION.into(),
            };
            let headers = headers
                .clone()
                .with(headers::SEQ, level.seq.to_string())
                .with(headers::EPOCH, epoch)
                .with(headers::CHANNEL, format!("v4_orderbook/{}", level.ticker));
            result.outgoing.push(Outgoing {
                topic: Topic::ToWebsocketsOrderbooks,
                key: None,
                payload: message.encode_to_vec(),
                headers,
            });
        }
        for update in &decision.subaccounts {
            let message = SubaccountMessage {
                block_height: String::new(),
                transaction_index: 0,
                event_index: 0,
                contents: update.contents.clone(),
                subaccount_id: Some(update.subaccount.clone()),
                version: SUBACCOUNT_VERSION.into(),
            };
            let channel_id = format!("{}/{}", update.subaccount.owner, update.subaccount.number);
            drafts.push((result.outgoing.len(), channel_id, headers.clone()));
            result.outgoing.push(Outgoing {
                topic: Topic::ToWebsocketsSubaccounts,
                key: Some(subaccount_key(&update.subaccount)),
                payload: message.encode_to_vec(),
                headers: MessageHeaders::new(),
            });
        }
    }

    /// Gives every subaccount message of the batch the next number of its channel's vulcan
    /// stream, reserving all numbers in one script call.
    async fn number_subaccount_messages(
        &self,
        result: &mut ProcessedBatch,
        drafts: Vec<(usize, String, MessageHeaders)>,
        epoch_candidate: &str,
    ) -> Result<(), ProcessError> {
        if drafts.is_empty() {
            return Ok(());
        }
        let mut counts: BTreeMap<&str, u64> = BTreeMap::new();
        for (_, channel, _) in &drafts {
            *counts.entry(channel.as_str()).or_default() += 1;
        }
        let keys = self.cache.keys();
        let counters: Vec<(String, u64)> = counts
            .iter()
            .map(|(channel, n)| {
                let (owner, number) = channel.rsplit_once('/').expect("owner/number");
                (
                    keys.subaccount_vulcan_seq(owner, number.parse().unwrap_or(0)),
                    *n,
                )
            })
            .collect();
        let reserved = reserve_seqs(&self.cache, &counters, epoch_candidate).await?;
        let mut next: HashMap<&str, u64> = counts
            .iter()
            .zip(&reserved.last)
            .map(|((channel, n), last)| (*channel, last - n + 1))
            .collect();
        for (index, channel, headers) in &drafts {
            let seq = next
                .get_mut(channel.as_str())
                .expect("every channel reserved");
            result.outgoing[*index].headers = headers
                .clone()
                .with(headers::SEQ, seq.to_string())
                .with(headers::EPOCH, reserved.epoch.as_str())
                .with(headers::CHANNEL, format!("v4_subaccounts/{channel}"))
                .with(headers::SOURCE, headers::SOURCE_VULCAN);
            *seq += 1;
        }
        Ok(())
    }

    /// Runs the batch's status updates (one statement), then its row loads (one statement),
    /// waiting for rows that must exist.
    async fn load_rows(
        &self,
        planned: &[Result<Command, Rejection>],
        outcomes: &[Option<OpOutcome>],
    ) -> Result<HashMap<Uuid, OrderRow>, ProcessError> {
        let needs: Vec<PgNeed> = planned
            .iter()
            .zip(outcomes)
            .filter_map(|(p, o)| {
                p.as_ref()
                    .ok()
                    .map(|c| pg_needs(c, o.as_ref(), &self.settings.decide))
            })
            .flatten()
            .collect();
        let mut rows = HashMap::new();
        let Some(db) = &self.db else { return Ok(rows) };
        if needs.is_empty() {
            return Ok(rows);
        }
        let statuses: Vec<(Uuid, String)> = needs
            .iter()
            .filter_map(|n| match n {
                PgNeed::SetStatus(id, status) => Some((*id, status.as_str().to_string())),
                _ => None,
            })
            .collect();
        for row in vulcan_orders::set_order_statuses(db, &statuses).await? {
            rows.insert(row.id, row);
        }
        let loads: Vec<Uuid> = needs
            .iter()
            .filter_map(|n| match n {
                PgNeed::Required(id) | PgNeed::Optional(id) => Some(*id),
                PgNeed::SetStatus(..) => None,
            })
            .filter(|id| !rows.contains_key(id))
            .collect();
        for row in vulcan_orders::orders_by_ids(db, &loads).await? {
            rows.insert(row.id, row);
        }
        let required: Vec<Uuid> = needs
            .iter()
            .filter_map(|n| match n {
                PgNeed::Required(id) if !rows.contains_key(id) => Some(*id),
                _ => None,
            })
            .collect();
        if !required.is_empty() {
            self.wait_for_rows(db, required, &mut rows).await?;
        }
        Ok(rows)
    }

    /// Ender commits a stateful order before relaying its placement, so a missing row is
    /// normally a replica catching up: poll, then give up loudly.
    async fn wait_for_rows(
        &self,
        db: &PgPool,
        mut missing: Vec<Uuid>,
        rows: &mut HashMap<Uuid, OrderRow>,
    ) -> Result<(), ProcessError> {
        let deadline = Instant::now() + self.settings.missing_row_wait;
        while !missing.is_empty() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(200)).await;
            for row in vulcan_orders::orders_by_ids(db, &missing).await? {
                rows.insert(row.id, row);
            }
            missing.retain(|id| !rows.contains_key(id));
        }
        for id in missing {
            tracing::error!(order = %id, "stateful order not found in the database; announcing it without its row");
        }
        Ok(())
    }
}

/// Input headers plus the defaults vulcan sets when absent (ingest.md §2.6).
fn augmented_headers(inbound: &Inbound, command: Option<&Command>) -> MessageHeaders {
    let mut headers = inbound.headers.clone();
    if headers.get(headers::MESSAGE_RECEIVED_TIMESTAMP).is_none() {
        if let Some(ts) = inbound.kafka_timestamp_ms {
            headers.insert(headers::MESSAGE_RECEIVED_TIMESTAMP, ts.to_string());
        }
    }
    if headers.get(headers::EVENT_TYPE).is_none() {
        if let Some(command) = command {
            headers.insert(headers::EVENT_TYPE, command.default_event_type());
        }
    }
    headers
}

fn dead_letter(inbound: &Inbound, headers: &MessageHeaders, reason: &str) -> DeadLetter {
    let mut headers = headers.clone().with(dead_letter_headers::REASON, reason);
    if let Some(meta) = &inbound.meta {
        headers.insert(dead_letter_headers::SOURCE_TOPIC, meta.topic.as_str());
        headers.insert(
            dead_letter_headers::SOURCE_PARTITION,
            meta.partition.to_string(),
        );
        headers.insert(dead_letter_headers::SOURCE_OFFSET, meta.offset.to_string());
    }
    if let Some(ts) = inbound.kafka_timestamp_ms {
        headers.insert(dead_letter_headers::ORIGINAL_TIMESTAMP, ts.to_string());
    }
    DeadLetter {
        key: inbound.key.clone(),
        payload: inbound.raw.clone(),
        headers,
        reason: reason.to_string(),
    }
}

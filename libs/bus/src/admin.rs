//! Topic administration for bazooka and the test kit: create the catalogue, clear it, report
//! watermarks and consumer lag (spec ops §2.1).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use indexer_base::config::KafkaSettings;
use rdkafka::admin::{
    AdminClient, AdminOptions, NewPartitions, NewTopic, TopicReplication, TopicResult,
};
use rdkafka::client::DefaultClientContext;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::{KafkaError, RDKafkaErrorCode};
use rdkafka::util::Timeout;
use rdkafka::{Offset, TopicPartitionList};

use crate::client::{base_config, blocking, MAX_MESSAGE_BYTES};
use crate::topics::{desired_topics, TopicLayout, TopicNames, TopicSpec};
use crate::BusError;

/// A topic whose partition count differs from its target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionChange {
    pub name: String,
    pub from: i32,
    pub to: i32,
}

/// What `ensure_topics` has to do, decided from the desired and the existing topics alone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TopicPlan {
    pub to_create: Vec<TopicSpec>,
    pub to_grow: Vec<PartitionChange>,
    /// Topics with more partitions than the target: Kafka cannot shrink them; reported only.
    pub over_target: Vec<PartitionChange>,
    pub up_to_date: Vec<String>,
}

/// Decides which topics to create and which to grow. The decision is taken per desired topic,
/// so an empty broker yields "create everything" (the reference returned early when the broker
/// had no topics at all, because it tested the existing list instead of the to-create list).
pub fn plan_topics(desired: &[TopicSpec], existing: &BTreeMap<String, i32>) -> TopicPlan {
    let mut plan = TopicPlan::default();
    for spec in desired {
        match existing.get(&spec.name).copied() {
            None => plan.to_create.push(spec.clone()),
            Some(have) if have < spec.partitions => plan.to_grow.push(PartitionChange {
                name: spec.name.clone(),
                from: have,
                to: spec.partitions,
            }),
            Some(have) if have > spec.partitions => plan.over_target.push(PartitionChange {
                name: spec.name.clone(),
                from: have,
                to: spec.partitions,
            }),
            Some(_) => plan.up_to_date.push(spec.name.clone()),
        }
    }
    plan
}

/// What `ensure_topics` did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EnsureReport {
    pub created: Vec<TopicSpec>,
    pub grown: Vec<PartitionChange>,
    pub over_target: Vec<PartitionChange>,
    pub unchanged: Vec<String>,
}

impl EnsureReport {
    /// True when the broker already had every topic with enough partitions.
    pub fn is_noop(&self) -> bool {
        self.created.is_empty() && self.grown.is_empty()
    }
}

impl fmt::Display for EnsureReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_noop() {
            writeln!(
                f,
                "no topics to create or grow: all {} topics already exist",
                self.unchanged.len() + self.over_target.len()
            )?;
        }
        for t in &self.created {
            writeln!(f, "created {} with {} partition(s)", t.name, t.partitions)?;
        }
        for g in &self.grown {
            writeln!(f, "grew {} from {} to {} partitions", g.name, g.from, g.to)?;
        }
        for o in &self.over_target {
            writeln!(
                f,
                "warning: {} has {} partitions, more than the target {}; Kafka cannot shrink it",
                o.name, o.from, o.to
            )?;
        }
        Ok(())
    }
}

/// How `clear_topics` removed the records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClearMethod {
    /// DeleteRecords up to each partition's high watermark (topics, offsets and groups kept).
    DeleteRecords,
    /// The broker does not support DeleteRecords: topics were deleted and recreated with the
    /// same partition counts. Offsets restart at 0; consumer groups' committed offsets for
    /// them are stale and fall back to `auto.offset.reset`.
    RecreatedTopics,
    /// Every topic was already empty.
    NothingToClear,
}

/// What `clear_topics` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClearReport {
    pub method: ClearMethod,
    /// Topics cleared and how many records each held.
    pub cleared: Vec<(String, i64)>,
    /// Why DeleteRecords was abandoned, when it was.
    pub fallback_reason: Option<String>,
}

impl fmt::Display for ClearReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.method {
            ClearMethod::DeleteRecords => writeln!(f, "cleared with DeleteRecords")?,
            ClearMethod::RecreatedTopics => writeln!(
                f,
                "broker refused DeleteRecords ({}); deleted and recreated the topics",
                self.fallback_reason.as_deref().unwrap_or("unsupported")
            )?,
            ClearMethod::NothingToClear => writeln!(f, "every topic was already empty")?,
        }
        for (name, records) in &self.cleared {
            writeln!(f, "  {name}: {records} record(s) removed")?;
        }
        Ok(())
    }
}

/// Low and high watermark of one partition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartitionWatermarks {
    pub partition: i32,
    pub low: i64,
    pub high: i64,
}

/// Watermarks of every partition of a topic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicStatus {
    pub name: String,
    pub partitions: Vec<PartitionWatermarks>,
}

impl TopicStatus {
    /// Records currently retained across all partitions.
    pub fn retained(&self) -> i64 {
        self.partitions.iter().map(|p| p.high - p.low).sum()
    }
}

/// A group's position on one partition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupPartitionStatus {
    pub topic: String,
    pub partition: i32,
    /// Next offset the group will read; `None` when it never committed here.
    pub committed: Option<i64>,
    pub high: i64,
    /// Messages not yet consumed: `high - committed`.
    pub lag: Option<i64>,
}

/// A consumer group's committed offsets and lag on the catalogue topics it has committed to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupStatus {
    pub group: String,
    pub partitions: Vec<GroupPartitionStatus>,
}

impl GroupStatus {
    pub fn total_lag(&self) -> i64 {
        self.partitions.iter().filter_map(|p| p.lag).sum()
    }
}

/// Watermarks of the catalogue topics that exist and lag of the groups asked about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusStatus {
    pub topics: Vec<TopicStatus>,
    pub groups: Vec<GroupStatus>,
}

impl fmt::Display for BusStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for topic in &self.topics {
            writeln!(f, "{} ({} retained)", topic.name, topic.retained())?;
            for p in topic.partitions.iter().filter(|p| p.high > 0) {
                writeln!(f, "  [{}] low {} high {}", p.partition, p.low, p.high)?;
            }
        }
        for group in &self.groups {
            writeln!(f, "group {} (lag {})", group.group, group.total_lag())?;
            for p in &group.partitions {
                let committed = p.committed.map_or("-".to_string(), |c| c.to_string());
                let lag = p.lag.map_or("-".to_string(), |l| l.to_string());
                writeln!(
                    f,
                    "  {}[{}] committed {committed} high {} lag {lag}",
                    p.topic, p.partition, p.high
                )?;
            }
        }
        Ok(())
    }
}

/// Retry policy for clearing (the reference: 3 attempts, 2^attempt × 3 s).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClearRetry {
    pub attempts: u32,
    pub base_delay: Duration,
}

impl Default for ClearRetry {
    fn default() -> Self {
        Self {
            attempts: 3,
            base_delay: Duration::from_secs(3),
        }
    }
}

/// Admin operations over the catalogue topics named by the settings' prefix.
pub struct BusAdmin {
    admin: AdminClient<DefaultClientContext>,
    /// A group-less consumer for metadata and watermark queries (blocking calls).
    meta: Arc<BaseConsumer>,
    settings: KafkaSettings,
    names: TopicNames,
    timeout: Duration,
}

impl fmt::Debug for BusAdmin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BusAdmin")
            .field("prefix", &self.names.prefix())
            .finish_non_exhaustive()
    }
}

impl BusAdmin {
    pub fn new(settings: &KafkaSettings) -> Result<Self, BusError> {
        Ok(Self {
            admin: base_config(settings).create().map_err(BusError::Client)?,
            meta: Arc::new(base_config(settings).create().map_err(BusError::Client)?),
            settings: settings.clone(),
            names: TopicNames::from_settings(settings),
            timeout: settings.connection_timeout.max(Duration::from_secs(10)),
        })
    }

    pub fn names(&self) -> &TopicNames {
        &self.names
    }

    /// Every topic on the broker with its partition count.
    pub async fn list_topics(&self) -> Result<BTreeMap<String, i32>, BusError> {
        let meta = Arc::clone(&self.meta);
        let timeout = self.timeout;
        blocking(move || {
            let metadata =
                meta.fetch_metadata(None, Timeout::After(timeout))
                    .map_err(|source| BusError::Query {
                        what: "listing topics".into(),
                        source,
                    })?;
            Ok(metadata
                .topics()
                .iter()
                .filter(|t| t.error().is_none())
                .map(|t| (t.name().to_string(), t.partitions().len() as i32))
                .collect())
        })
        .await
    }

    /// Creates every missing catalogue and dead-letter topic with `layout`'s partitions and the
    /// settings' replication factor, and grows topics that have fewer partitions. Running it
    /// again changes nothing and says so.
    pub async fn ensure_topics(&self, layout: &TopicLayout) -> Result<EnsureReport, BusError> {
        let desired = desired_topics(&self.names, layout);
        let existing = self.list_topics().await?;
        let plan = plan_topics(&desired, &existing);
        self.create(&plan.to_create).await?;
        self.grow(&plan.to_grow).await?;
        if !plan.to_create.is_empty() || !plan.to_grow.is_empty() {
            self.wait_for_partitions(&desired).await?;
        }
        for over in &plan.over_target {
            tracing::warn!(topic = %over.name, have = over.from, target = over.to,
                "topic has more partitions than the target; Kafka cannot shrink it");
        }
        Ok(EnsureReport {
            created: plan.to_create,
            grown: plan.to_grow,
            over_target: plan.over_target,
            unchanged: plan.up_to_date,
        })
    }

    /// Deletes every record of every existing catalogue and dead-letter topic. Uses
    /// DeleteRecords; if the broker does not support it (or accepts it without moving the low
    /// watermark), deletes and recreates the topics instead. The report says which.
    pub async fn clear_topics(&self, retry: ClearRetry) -> Result<ClearReport, BusError> {
        let existing = self.list_topics().await?;
        let ours: Vec<(String, i32)> = desired_topics(&self.names, &TopicLayout::production())
            .into_iter()
            .filter_map(|spec| existing.get(&spec.name).map(|p| (spec.name, *p)))
            .collect();
        let mut to_clear = Vec::new();
        for (name, _) in &ours {
            let status = self.topic_status(name).await?;
            if status.retained() > 0 {
                to_clear.push(status);
            }
        }
        if to_clear.is_empty() {
            return Ok(ClearReport {
                method: ClearMethod::NothingToClear,
                cleared: Vec::new(),
                fallback_reason: None,
            });
        }
        let cleared: Vec<(String, i64)> = to_clear
            .iter()
            .map(|t| (t.name.clone(), t.retained()))
            .collect();
        match self.delete_records_with_retry(&to_clear, retry).await {
            Ok(()) => Ok(ClearReport {
                method: ClearMethod::DeleteRecords,
                cleared,
                fallback_reason: None,
            }),
            Err(DeleteRecordsFailure::Unsupported(reason)) => {
                tracing::warn!(%reason, "DeleteRecords unsupported; recreating topics");
                let specs: Vec<TopicSpec> = to_clear
                    .iter()
                    .map(|t| TopicSpec {
                        name: t.name.clone(),
                        partitions: t.partitions.len() as i32,
                    })
                    .collect();
                self.recreate(&specs).await?;
                Ok(ClearReport {
                    method: ClearMethod::RecreatedTopics,
                    cleared,
                    fallback_reason: Some(reason),
                })
            }
            Err(DeleteRecordsFailure::Failed(error)) => Err(error),
            Err(DeleteRecordsFailure::Dropped(reason)) => {
                Err(admin_error("DeleteRecords", "topics".into(), reason))
            }
        }
    }

    /// Watermarks of every existing catalogue topic (dead letters included), and committed
    /// offsets and lag of each named group.
    pub async fn status(&self, groups: &[&str]) -> Result<BusStatus, BusError> {
        let existing = self.list_topics().await?;
        let mut topics = Vec::new();
        for spec in desired_topics(&self.names, &TopicLayout::production()) {
            if existing.contains_key(&spec.name) {
                topics.push(self.topic_status(&spec.name).await?);
            }
        }
        let mut group_statuses = Vec::new();
        for group in groups {
            group_statuses.push(self.group_status(group, &topics).await?);
        }
        Ok(BusStatus {
            topics,
            groups: group_statuses,
        })
    }

    /// Deletes the named topics; topics that do not exist are ignored. Returns those deleted.
    pub async fn delete_topics(&self, names: &[String]) -> Result<Vec<String>, BusError> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        let results = self
            .admin
            .delete_topics(&refs, &self.options())
            .await
            .map_err(|e| admin_error("DeleteTopics", names.join(","), e.to_string()))?;
        let mut deleted = Vec::new();
        for result in results {
            match result {
                Ok(name) => deleted.push(name),
                Err((_, RDKafkaErrorCode::UnknownTopicOrPartition)) => {}
                Err((name, code)) => {
                    return Err(admin_error("DeleteTopics", name, code.to_string()))
                }
            }
        }
        Ok(deleted)
    }

    /// Low and high watermark of every partition of `name`.
    pub async fn topic_status(&self, name: &str) -> Result<TopicStatus, BusError> {
        let meta = Arc::clone(&self.meta);
        let timeout = self.timeout;
        let name = name.to_string();
        blocking(move || {
            let partitions = partition_count_blocking(&meta, &name, timeout)?;
            let mut out = Vec::with_capacity(partitions as usize);
            for partition in 0..partitions {
                let (low, high) = meta
                    .fetch_watermarks(&name, partition, Timeout::After(timeout))
                    .map_err(|source| BusError::Query {
                        what: format!("watermarks of {name}[{partition}]"),
                        source,
                    })?;
                out.push(PartitionWatermarks {
                    partition,
                    low,
                    high,
                });
            }
            Ok(TopicStatus {
                name,
                partitions: out,
            })
        })
        .await
    }

    async fn group_status(
        &self,
        group: &str,
        topics: &[TopicStatus],
    ) -> Result<GroupStatus, BusError> {
        let mut config = base_config(&self.settings);
        config
            .set("group.id", group)
            .set("enable.auto.commit", "false");
        let consumer: BaseConsumer = config.create().map_err(BusError::Client)?;
        let mut wanted = TopicPartitionList::new();
        // Dead-letter topics are written by the bus itself, never consumed by a group.
        for topic in topics
            .iter()
            .filter(|t| self.names.topic_of(&t.name).is_some())
        {
            for p in &topic.partitions {
                wanted.add_partition(&topic.name, p.partition);
            }
        }
        let timeout = self.timeout;
        let group_name = group.to_string();
        let committed = blocking(move || {
            consumer
                .committed_offsets(wanted, Timeout::After(timeout))
                .map_err(|source| BusError::Query {
                    what: format!("committed offsets of group {group_name}"),
                    source,
                })
        })
        .await?;
        let mut partitions = Vec::new();
        for topic in topics {
            let rows = group_rows(topic, &committed);
            if rows.iter().any(|r| r.committed.is_some()) {
                partitions.extend(rows);
            }
        }
        Ok(GroupStatus {
            group: group.to_string(),
            partitions,
        })
    }

    async fn create(&self, specs: &[TopicSpec]) -> Result<(), BusError> {
        if specs.is_empty() {
            return Ok(());
        }
        let replication = self.settings.replication_factor;
        // Kafka's default topic limit is about 1 MB; blocks on to-ender reach 4 MiB.
        let max_message_bytes = MAX_MESSAGE_BYTES.to_string();
        let new_topics: Vec<NewTopic> = specs
            .iter()
            .map(|s| {
                NewTopic::new(&s.name, s.partitions, TopicReplication::Fixed(replication))
                    .set("max.message.bytes", &max_message_bytes)
            })
            .collect();
        let results = self
            .admin
            .create_topics(&new_topics, &self.options())
            .await
            .map_err(|e| admin_error("CreateTopics", joined(specs), e.to_string()))?;
        check_results(
            "CreateTopics",
            results,
            RDKafkaErrorCode::TopicAlreadyExists,
        )
    }

    async fn grow(&self, changes: &[PartitionChange]) -> Result<(), BusError> {
        if changes.is_empty() {
            return Ok(());
        }
        let new_partitions: Vec<NewPartitions> = changes
            .iter()
            .map(|c| NewPartitions::new(&c.name, c.to as usize))
            .collect();
        let names = changes
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>()
            .join(",");
        let results = self
            .admin
            .create_partitions(&new_partitions, &self.options())
            .await
            .map_err(|e| {
                let reason = if error_code(&e) == Some(RDKafkaErrorCode::UnsupportedFeature) {
                    format!(
                        "the broker does not support CreatePartitions ({e}); delete and recreate \
                         the topic to change its partition count"
                    )
                } else {
                    e.to_string()
                };
                admin_error("CreatePartitions", names, reason)
            })?;
        check_results("CreatePartitions", results, RDKafkaErrorCode::NoError)
    }

    /// Topic creation is asynchronous on a real cluster; wait until metadata shows every topic
    /// with its partitions so producers that start right after find them.
    async fn wait_for_partitions(&self, desired: &[TopicSpec]) -> Result<(), BusError> {
        let deadline = tokio::time::Instant::now() + self.timeout;
        loop {
            let existing = self.list_topics().await?;
            let missing: Vec<&TopicSpec> = desired
                .iter()
                .filter(|s| existing.get(&s.name).is_none_or(|p| *p < s.partitions))
                .collect();
            if missing.is_empty() {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                let names = missing.iter().map(|s| s.name.as_str()).collect::<Vec<_>>();
                return Err(admin_error(
                    "waiting for topics",
                    names.join(","),
                    "not visible in metadata after creation".into(),
                ));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    async fn delete_records_with_retry(
        &self,
        topics: &[TopicStatus],
        retry: ClearRetry,
    ) -> Result<(), DeleteRecordsFailure> {
        let mut attempt = 0;
        loop {
            let failure = match self.delete_records(topics).await {
                Ok(()) => return Ok(()),
                Err(DeleteRecordsFailure::Unsupported(reason)) => {
                    return Err(DeleteRecordsFailure::Unsupported(reason))
                }
                Err(failure) => failure,
            };
            attempt += 1;
            if attempt >= retry.attempts {
                return Err(self.after_last_attempt(failure).await);
            }
            let delay = retry.base_delay * 2u32.pow(attempt - 1);
            tracing::warn!(error = %failure, attempt, ?delay, "clearing topics failed; retrying");
            tokio::time::sleep(delay).await;
        }
    }

    /// A broker that advertises DeleteRecords but drops the connection on every attempt while
    /// still answering metadata does not implement it (tansu's in-memory engine): treat it as
    /// unsupported. Any other persistent failure is reported.
    async fn after_last_attempt(&self, failure: DeleteRecordsFailure) -> DeleteRecordsFailure {
        match failure {
            DeleteRecordsFailure::Dropped(reason) if self.list_topics().await.is_ok() => {
                DeleteRecordsFailure::Unsupported(format!(
                    "the broker dropped the connection on every DeleteRecords attempt but answers \
                     metadata ({reason})"
                ))
            }
            DeleteRecordsFailure::Dropped(reason) => {
                DeleteRecordsFailure::Failed(admin_error("DeleteRecords", "topics".into(), reason))
            }
            other => other,
        }
    }

    async fn delete_records(&self, topics: &[TopicStatus]) -> Result<(), DeleteRecordsFailure> {
        let mut offsets = TopicPartitionList::new();
        for topic in topics {
            for p in topic.partitions.iter().filter(|p| p.high > p.low) {
                offsets
                    .add_partition_offset(&topic.name, p.partition, Offset::Offset(p.high))
                    .map_err(|e| {
                        DeleteRecordsFailure::Failed(admin_error(
                            "DeleteRecords",
                            topic.name.clone(),
                            e.to_string(),
                        ))
                    })?;
            }
        }
        let result = self.admin.delete_records(&offsets, &self.options()).await;
        let result = match result {
            Ok(list) => list,
            Err(e) => return Err(classify_delete_records(e.to_string(), error_code(&e))),
        };
        for elem in result.elements() {
            if let Err(e) = elem.error() {
                return Err(classify_delete_records(
                    format!("{}[{}]: {e}", elem.topic(), elem.partition()),
                    error_code(&e),
                ));
            }
        }
        // Some brokers acknowledge DeleteRecords without deleting anything: check the low
        // watermarks actually moved.
        for topic in topics {
            let after = self
                .topic_status(&topic.name)
                .await
                .map_err(DeleteRecordsFailure::Failed)?;
            let before_high: BTreeMap<i32, i64> = topic
                .partitions
                .iter()
                .map(|p| (p.partition, p.high))
                .collect();
            for p in &after.partitions {
                if p.low < before_high.get(&p.partition).copied().unwrap_or(0) {
                    return Err(DeleteRecordsFailure::Unsupported(format!(
                        "DeleteRecords was acknowledged but {}[{}] still starts at offset {}",
                        topic.name, p.partition, p.low
                    )));
                }
            }
        }
        Ok(())
    }

    async fn recreate(&self, specs: &[TopicSpec]) -> Result<(), BusError> {
        let names: Vec<String> = specs.iter().map(|s| s.name.clone()).collect();
        self.delete_topics(&names).await?;
        self.wait_until_gone(&names).await?;
        self.create(specs).await?;
        self.wait_for_partitions(specs).await
    }

    async fn wait_until_gone(&self, names: &[String]) -> Result<(), BusError> {
        let deadline = tokio::time::Instant::now() + self.timeout;
        loop {
            let existing = self.list_topics().await?;
            let remaining: Vec<&String> =
                names.iter().filter(|n| existing.contains_key(*n)).collect();
            if remaining.is_empty() {
                return Ok(());
            }
            if tokio::time::Instant::now() >= deadline {
                let list = remaining
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(",");
                return Err(admin_error(
                    "waiting for deletion",
                    list,
                    "topics still listed".into(),
                ));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    fn options(&self) -> AdminOptions {
        AdminOptions::new().operation_timeout(Some(Timeout::After(self.timeout)))
    }
}

/// Why DeleteRecords failed: the broker lacks it (fall back to recreating), the connection was
/// dropped (retry; persistent drops mean unsupported), or another error (retry, then report).
enum DeleteRecordsFailure {
    Unsupported(String),
    Dropped(String),
    Failed(BusError),
}

impl fmt::Display for DeleteRecordsFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DeleteRecordsFailure::Unsupported(reason) => write!(f, "unsupported: {reason}"),
            DeleteRecordsFailure::Dropped(reason) => write!(f, "connection dropped: {reason}"),
            DeleteRecordsFailure::Failed(error) => write!(f, "{error}"),
        }
    }
}

fn classify_delete_records(reason: String, code: Option<RDKafkaErrorCode>) -> DeleteRecordsFailure {
    match code {
        Some(
            RDKafkaErrorCode::UnsupportedVersion
            | RDKafkaErrorCode::UnsupportedFeature
            | RDKafkaErrorCode::InvalidRequest
            | RDKafkaErrorCode::PolicyViolation
            | RDKafkaErrorCode::Unknown,
        ) => DeleteRecordsFailure::Unsupported(reason),
        Some(RDKafkaErrorCode::BrokerTransportFailure) => DeleteRecordsFailure::Dropped(reason),
        _ => DeleteRecordsFailure::Failed(admin_error("DeleteRecords", "topics".into(), reason)),
    }
}

/// One row per partition of `topic` with the group's committed offset, if any.
fn group_rows(topic: &TopicStatus, committed: &TopicPartitionList) -> Vec<GroupPartitionStatus> {
    topic
        .partitions
        .iter()
        .map(|p| {
            let committed =
                committed
                    .find_partition(&topic.name, p.partition)
                    .and_then(|e| match e.offset() {
                        Offset::Offset(n) => Some(n),
                        _ => None,
                    });
            GroupPartitionStatus {
                topic: topic.name.clone(),
                partition: p.partition,
                committed,
                high: p.high,
                lag: committed.map(|c| (p.high - c).max(0)),
            }
        })
        .collect()
}

fn partition_count_blocking(
    meta: &BaseConsumer,
    name: &str,
    timeout: Duration,
) -> Result<i32, BusError> {
    let metadata = meta
        .fetch_metadata(Some(name), Timeout::After(timeout))
        .map_err(|source| BusError::Query {
            what: format!("metadata of {name}"),
            source,
        })?;
    metadata
        .topics()
        .iter()
        .find(|t| t.name() == name && t.error().is_none() && !t.partitions().is_empty())
        .map(|t| t.partitions().len() as i32)
        .ok_or_else(|| BusError::UnknownTopic {
            topic: name.to_string(),
        })
}

/// Fails on the first per-topic error other than `tolerated`.
fn check_results(
    operation: &'static str,
    results: Vec<TopicResult>,
    tolerated: RDKafkaErrorCode,
) -> Result<(), BusError> {
    for result in results {
        if let Err((name, code)) = result {
            if code != tolerated {
                return Err(admin_error(operation, name, code.to_string()));
            }
        }
    }
    Ok(())
}

/// The librdkafka error code of `error`, including admin-operation errors (which
/// `KafkaError::rdkafka_error_code` leaves out).
fn error_code(error: &KafkaError) -> Option<RDKafkaErrorCode> {
    match error {
        KafkaError::AdminOp(code) => Some(*code),
        other => other.rdkafka_error_code(),
    }
}

fn admin_error(operation: &'static str, resource: String, reason: String) -> BusError {
    BusError::Admin {
        operation,
        resource,
        reason,
    }
}

fn joined(specs: &[TopicSpec]) -> String {
    specs
        .iter()
        .map(|s| s.name.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// Creates every missing topic of the catalogue (see [`BusAdmin::ensure_topics`]).
pub async fn ensure_topics(
    settings: &KafkaSettings,
    layout: &TopicLayout,
) -> Result<EnsureReport, BusError> {
    BusAdmin::new(settings)?.ensure_topics(layout).await
}

/// Clears every catalogue topic (see [`BusAdmin::clear_topics`]).
pub async fn clear_topics(settings: &KafkaSettings) -> Result<ClearReport, BusError> {
    BusAdmin::new(settings)?
        .clear_topics(ClearRetry::default())
        .await
}

/// Watermarks and group lag (see [`BusAdmin::status`]).
pub async fn status(settings: &KafkaSettings, groups: &[&str]) -> Result<BusStatus, BusError> {
    BusAdmin::new(settings)?.status(groups).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn specs() -> Vec<TopicSpec> {
        desired_topics(&TopicNames::new("p."), &TopicLayout::production())
    }

    #[test]
    fn an_empty_broker_gets_every_topic() {
        let plan = plan_topics(&specs(), &BTreeMap::new());
        assert_eq!(plan.to_create.len(), 16);
        assert!(plan.to_grow.is_empty() && plan.up_to_date.is_empty());
    }

    #[test]
    fn only_missing_topics_are_created_and_small_ones_grown() {
        let mut existing: BTreeMap<String, i32> = specs()
            .into_iter()
            .map(|s| (s.name, s.partitions))
            .collect();
        existing.remove("p.to-ender");
        existing.insert("p.to-vulcan".into(), 1);
        existing.insert("p.to-websockets-subaccounts".into(), 5);
        existing.insert("unrelated".into(), 4);
        let plan = plan_topics(&specs(), &existing);
        assert_eq!(
            plan.to_create,
            vec![TopicSpec {
                name: "p.to-ender".into(),
                partitions: 1
            }]
        );
        assert_eq!(
            plan.to_grow,
            vec![PartitionChange {
                name: "p.to-vulcan".into(),
                from: 1,
                to: 210
            }]
        );
        assert_eq!(plan.over_target.len(), 1);
        assert_eq!(plan.up_to_date.len(), 13);
    }

    #[test]
    fn report_says_when_nothing_was_done() {
        let report = EnsureReport {
            unchanged: vec!["a".into(), "b".into()],
            ..Default::default()
        };
        assert!(report.is_noop());
        assert!(report.to_string().contains("no topics to create"));
    }
}

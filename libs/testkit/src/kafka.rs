//! Unique Kafka topic names per test.
//!
//! `TestTopics::new().await` picks a fresh prefix (`t<8 hex>.`), points `KafkaSettings` at
//! `KAFKA_BROKER_URLS` (default 127.0.0.1:9092) with that prefix, and creates every catalogue
//! and dead-letter topic under it with one partition (or the production counts on request).
//! Dropping it deletes those topics, best effort; `cleanup().await` does the same and reports
//! failures. Drop every producer and consumer of the topics first: a librdkafka client that
//! fetches from a topic tansu just deleted can crash the test process (see libs/bus/README.md).

use indexer_base::config::{Env, KafkaSettings};
use indexer_bus::admin::BusAdmin;
use indexer_bus::topics::{desired_topics, Topic, TopicLayout, TopicNames};
use indexer_bus::BusError;

/// A unique topic prefix such as `t1a2b3c4d.`.
pub fn unique_prefix() -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("t{}.", &id[..8])
}

/// Settings for the test broker with the given topic prefix, replication factor 1 and a short
/// consumer session. Everything else comes from the environment (so CI can point
/// `KAFKA_BROKER_URLS` elsewhere) or the defaults.
pub fn settings_with_prefix(prefix: &str) -> KafkaSettings {
    let mut settings = KafkaSettings::from_env(&Env::process())
        .expect("Kafka settings from the environment are valid");
    settings.topic_prefix = prefix.to_string();
    settings.replication_factor = 1;
    // tansu holds a new group's first join for about half the session timeout; 10 s (Kafka's
    // minimum is 6 s) keeps group tests at ~5 s instead of ~30 s.
    settings.session_timeout = std::time::Duration::from_secs(10);
    settings.heartbeat_interval = std::time::Duration::from_secs(3);
    settings
}

/// The catalogue's topics under a unique prefix, created on the real broker.
pub struct TestTopics {
    pub settings: KafkaSettings,
    pub names: TopicNames,
    cleaned: bool,
}

impl TestTopics {
    /// Every topic with one partition.
    pub async fn new() -> Self {
        Self::with_layout(TopicLayout::uniform(1)).await
    }

    /// Every topic with its production partition count (to-vulcan 210, subaccounts 3).
    pub async fn production() -> Self {
        Self::with_layout(TopicLayout::production()).await
    }

    /// Every topic laid out as `layout` says.
    pub async fn with_layout(layout: TopicLayout) -> Self {
        let this = Self::unprovisioned();
        BusAdmin::new(&this.settings)
            .expect("Kafka admin client")
            .ensure_topics(&layout)
            .await
            .expect("creating the test topics");
        this
    }

    /// A fresh prefix with no topics created yet (for tests of topic creation itself). The
    /// catalogue topics are still deleted at the end if they were created meanwhile.
    pub fn unprovisioned() -> Self {
        let settings = settings_with_prefix(&unique_prefix());
        Self {
            names: TopicNames::from_settings(&settings),
            settings,
            cleaned: false,
        }
    }

    /// Broker name of `topic` under this prefix.
    pub fn name(&self, topic: Topic) -> String {
        self.names.name(topic)
    }

    /// Broker name of `topic`'s dead-letter topic under this prefix.
    pub fn dead_letter(&self, topic: Topic) -> String {
        self.names.dead_letter(topic)
    }

    /// Deletes every topic under this prefix; errors are returned (use in tests that care).
    pub async fn cleanup(mut self) -> Result<(), BusError> {
        self.cleaned = true;
        delete_prefixed(&self.settings).await
    }
}

impl Drop for TestTopics {
    fn drop(&mut self) {
        if self.cleaned {
            return;
        }
        // Drop cannot await; the admin client runs its own thread, so a plain executor on a
        // separate thread can drive the deletion even from inside a tokio runtime.
        let settings = self.settings.clone();
        let handle = std::thread::spawn(move || {
            let _ = block_on_fresh_runtime(delete_prefixed(&settings));
        });
        let _ = handle.join();
    }
}

/// Deletes the catalogue and dead-letter topics named under `settings`' prefix.
async fn delete_prefixed(settings: &KafkaSettings) -> Result<(), BusError> {
    let admin = BusAdmin::new(settings)?;
    let existing = admin.list_topics().await?;
    let ours: Vec<String> = desired_topics(admin.names(), &TopicLayout::production())
        .into_iter()
        .map(|spec| spec.name)
        .filter(|name| existing.contains_key(name))
        .collect();
    admin.delete_topics(&ours).await.map(|_| ())
}

/// Runs `future` to completion on a throwaway current-thread runtime (the admin calls use the
/// blocking pool, so a bare executor would not do).
fn block_on_fresh_runtime<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime for test cleanup")
        .block_on(future)
}

//! The process contract every service keeps (`/healthz`, `/metrics`, exit 0 on SIGTERM), and
//! the blocks devnet publishes on `to-ender` decode, in height order from 0.

use std::process::{Command, Stdio};
use std::time::Duration;

use indexer_bus::consumer::{BusConsumer, ConsumerOptions, Decoder, StartAt};
use indexer_bus::topics::Topic;
use indexer_proto::indexer_manager::IndexerTendermintBlock;
use indexer_testkit::kafka::TestTopics;
use prost::Message;

#[test]
fn starts_serves_health_and_metrics_and_exits_cleanly_on_sigterm() {
    indexer_testkit::process::assert_service_lifecycle_with_env(
        env!("CARGO_BIN_EXE_devnet"),
        &[("DEVNET_BLOCK_INTERVAL_MS", "0")],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishes_decodable_blocks_in_height_order_on_to_ender() {
    let topics = TestTopics::new().await;
    let mut devnet = Command::new(env!("CARGO_BIN_EXE_devnet"))
        .env("ADMIN_HOST", "127.0.0.1")
        .env("ADMIN_PORT", "0")
        .env("NODE_ENV", "test")
        .env("LOG_LEVEL", "warn")
        .env_remove("BUGSNAG_KEY")
        .env("KAFKA_TOPIC_PREFIX", &topics.settings.topic_prefix)
        .env("DEVNET_BLOCK_INTERVAL_MS", "20")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("devnet starts");

    // Raw bytes: a decoder error would dead-letter the message and hide the failure.
    let decoder: Decoder<Vec<u8>> = Box::new(|bytes: &[u8]| Ok(bytes.to_vec()));
    let options = ConsumerOptions::new(
        format!("devnet-test-{}", uuid::Uuid::new_v4()),
        [Topic::ToEnder],
    );
    let consumer = BusConsumer::assign(&topics.settings, &options, StartAt::Beginning, decoder)
        .await
        .unwrap();
    let mut heights = Vec::new();
    for _ in 0..5 {
        let message = tokio::time::timeout(Duration::from_secs(30), consumer.next())
            .await
            .expect("devnet publishes blocks")
            .unwrap();
        heights.push(
            IndexerTendermintBlock::decode(message.value.as_slice())
                .unwrap()
                .height,
        );
    }
    devnet.kill().unwrap();
    devnet.wait().unwrap();
    assert_eq!(heights, [0, 1, 2, 3, 4]);
    drop(consumer);
    topics.cleanup().await.unwrap();
}

//! Against the real broker (KAFKA_BROKER_URLS, default 127.0.0.1:9092). Every test works under
//! its own topic prefix and deletes its topics at the end. Consumers use assign mode except
//! where consumer groups themselves are under test (a group join takes seconds on tansu).

use std::future::Future;
use std::time::Duration;

use indexer_bus::admin::{BusAdmin, ClearMethod, ClearRetry};
use indexer_bus::consumer::dead_letter_headers;
use indexer_bus::{
    partition_for_key, BusConsumer, BusError, BusProducer, ConsumerOptions, Decoder, HandleError,
    MessageHeaders, MessageMeta, OffsetReset, OutgoingMessage, StartAt, Topic, TopicLayout,
};
use indexer_testkit::kafka::TestTopics;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::{Headers, Message};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{ClientConfig, Offset, TopicPartitionList};

/// Upper bound for waiting on something that should arrive; a hang fails instead of blocking
/// the suite. Not a performance assertion.
const PATIENCE: Duration = Duration::from_secs(60);

async fn patiently<F: Future>(what: &str, future: F) -> F::Output {
    tokio::time::timeout(PATIENCE, future)
        .await
        .unwrap_or_else(|_| panic!("gave up waiting for {what}"))
}

/// Accepts `ok:<text>` and returns `<text>`; anything else is malformed.
fn text_decoder() -> Decoder<String> {
    Box::new(|bytes: &[u8]| {
        let text = std::str::from_utf8(bytes).map_err(|e| format!("not utf-8: {e}"))?;
        text.strip_prefix("ok:")
            .map(str::to_string)
            .ok_or_else(|| format!("expected ok:<text>, got {text:?}"))
    })
}

fn fresh_group() -> String {
    format!("test-{}", uuid::Uuid::new_v4().simple())
}

fn unhex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

async fn send_text(producer: &BusProducer, topic: Topic, text: &str) -> i64 {
    producer
        .send(topic, None, text.as_bytes(), &MessageHeaders::new())
        .await
        .expect("send")
        .offset
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ensure_topics_creates_every_topic_once() {
    let topics = TestTopics::unprovisioned();
    let admin = BusAdmin::new(&topics.settings).unwrap();

    let first = admin
        .ensure_topics(&TopicLayout::production())
        .await
        .unwrap();
    assert_eq!(first.created.len(), 16, "{first}");
    let on_broker = admin.list_topics().await.unwrap();
    for topic in Topic::ALL {
        assert_eq!(
            on_broker.get(&topics.name(topic)),
            Some(&topic.production_partitions()),
            "{topic}"
        );
        assert_eq!(
            on_broker.get(&topics.dead_letter(topic)),
            Some(&1),
            "{topic}"
        );
    }

    let second = admin
        .ensure_topics(&TopicLayout::production())
        .await
        .unwrap();
    assert!(second.is_noop(), "{second}");
    assert!(second.created.is_empty());
    assert_eq!(second.unchanged.len(), 16);
    assert!(
        second.to_string().contains("no topics to create"),
        "{second}"
    );

    // Growing a topic needs CreatePartitions, which some brokers (tansu 0.6) lack: either it
    // grows, or the error names the operation and the topic.
    let wider = TopicLayout::production().with(Topic::ToWebsocketsTrades, 2);
    match admin.ensure_topics(&wider).await {
        Ok(report) => {
            assert_eq!(report.grown.len(), 1, "{report}");
            let after = admin.list_topics().await.unwrap();
            assert_eq!(after.get(&topics.name(Topic::ToWebsocketsTrades)), Some(&2));
        }
        Err(BusError::Admin {
            operation,
            resource,
            reason,
        }) => {
            assert_eq!(operation, "CreatePartitions");
            assert_eq!(resource, topics.name(Topic::ToWebsocketsTrades));
            assert!(
                reason.contains("does not support CreatePartitions"),
                "{reason}"
            );
        }
        Err(other) => panic!("unexpected error growing a topic: {other}"),
    }
    topics.cleanup().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keyed_messages_land_on_the_java_murmur2_partition() {
    let topics = TestTopics::production().await;
    let producer = BusProducer::new(&topics.settings).unwrap();

    // Spec ingest §10.3.
    let order_key = unhex("8d7c60afdf6805f13355bbaac83e5d01ab6d93d443fc060d227fa5662835b6bb");
    let delivered = producer
        .send(
            Topic::ToVulcan,
            Some(&order_key),
            b"place",
            &MessageHeaders::new(),
        )
        .await
        .unwrap();
    assert_eq!(delivered.partition, 203);
    let subaccount_key = unhex(
        "0a2b64796478316e38387563333878686a67787a77396e777265346570326338676134666a78633536356c6e66",
    );
    let delivered = producer
        .send(
            Topic::ToWebsocketsSubaccounts,
            Some(&subaccount_key),
            b"update",
            &MessageHeaders::new(),
        )
        .await
        .unwrap();
    assert_eq!(delivered.partition, 0);

    // librdkafka's own murmur2_random partitioner, given no explicit partition, agrees with
    // ours on many keys: either placement path is safe.
    let raw: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &topics.settings.brokers)
        .set("partitioner", "murmur2_random")
        .create()
        .unwrap();
    let vulcan = topics.name(Topic::ToVulcan);
    for i in 0..40u32 {
        let key = format!("order-{i}-{}", i * 7919).into_bytes();
        let by_librdkafka = raw
            .send(
                FutureRecord::to(&vulcan).key(&key).payload(b"x".as_slice()),
                Duration::from_secs(10),
            )
            .await
            .unwrap()
            .partition;
        let by_bus = producer
            .send(Topic::ToVulcan, Some(&key), b"x", &MessageHeaders::new())
            .await
            .unwrap()
            .partition;
        assert_eq!(by_librdkafka, partition_for_key(&key, 210), "key {i}");
        assert_eq!(by_bus, by_librdkafka, "key {i}");
    }
    drop((producer, raw));
    topics.cleanup().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_all_keeps_order_within_each_partition() {
    let topics =
        TestTopics::with_layout(TopicLayout::uniform(1).with(Topic::ToWebsocketsSubaccounts, 3))
            .await;
    let producer = BusProducer::new(&topics.settings).unwrap();
    let keys: [&[u8]; 3] = [b"alice:0", b"bob:0", b"carol:1"];
    let batch: Vec<OutgoingMessage> = (0..30)
        .map(|i| {
            let key = keys[i % 3];
            OutgoingMessage::new(Some(key.to_vec()), format!("ok:{i}").into_bytes())
                .with_headers(MessageHeaders::new().with("n", i.to_string()))
        })
        .collect();
    let delivered = producer
        .send_all(Topic::ToWebsocketsSubaccounts, &batch)
        .await
        .unwrap();
    assert_eq!(delivered.len(), 30);
    for (i, d) in delivered.iter().enumerate() {
        assert_eq!(
            d.partition,
            partition_for_key(keys[i % 3], 3),
            "message {i}"
        );
    }

    // Read everything back: per partition, messages come in batch order with their headers.
    let options = ConsumerOptions::new(fresh_group(), [Topic::ToWebsocketsSubaccounts]);
    let consumer = BusConsumer::assign(
        &topics.settings,
        &options,
        StartAt::Beginning,
        text_decoder(),
    )
    .await
    .unwrap();
    let mut seen: std::collections::BTreeMap<i32, Vec<usize>> = Default::default();
    for _ in 0..30 {
        let received = patiently("batch message", consumer.next()).await.unwrap();
        let n: usize = received.value.parse().unwrap();
        assert_eq!(
            received.meta.headers.get_str("n"),
            Some(n.to_string().as_str())
        );
        seen.entry(received.meta.partition).or_default().push(n);
    }
    for numbers in seen.values() {
        let mut sorted = numbers.clone();
        sorted.sort();
        assert_eq!(numbers, &sorted, "partition order broken: {numbers:?}");
    }
    assert_eq!(seen.values().map(Vec::len).sum::<usize>(), 30);
    drop((producer, consumer));
    topics.cleanup().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_block_of_almost_4_mib_round_trips() {
    let topics = TestTopics::new().await;
    let producer = BusProducer::new(&topics.settings).unwrap();
    // Incompressible bytes, so lz4 cannot shrink it below the limit.
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut block = b"ok:".to_vec();
    block.extend((0..4 * 1024 * 1024 - 64 * 1024).map(|_| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        b'a' + (state % 26) as u8
    }));
    producer
        .send(Topic::ToEnder, None, &block, &MessageHeaders::new())
        .await
        .unwrap();
    let options = ConsumerOptions::new(fresh_group(), [Topic::ToEnder]);
    let consumer = BusConsumer::assign(
        &topics.settings,
        &options,
        StartAt::Beginning,
        text_decoder(),
    )
    .await
    .unwrap();
    let received = patiently("the big block", consumer.next()).await.unwrap();
    assert_eq!(received.value.as_bytes(), &block[3..]);
    drop((consumer, producer));
    topics.cleanup().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_message_is_dead_lettered_and_skipped() {
    let topics = TestTopics::new().await;
    let producer = BusProducer::new(&topics.settings).unwrap();
    let ender = topics.name(Topic::ToEnder);

    send_text(&producer, Topic::ToEnder, "ok:block-1").await;
    let bad_offset = producer
        .send(
            Topic::ToEnder,
            Some(b"k1"),
            b"garbage",
            &MessageHeaders::new().with("trace", "abc"),
        )
        .await
        .unwrap()
        .offset;
    // A message with no value at all (a tombstone), produced with the raw client.
    let raw: FutureProducer = ClientConfig::new()
        .set("bootstrap.servers", &topics.settings.brokers)
        .create()
        .unwrap();
    let null_offset = raw
        .send(
            FutureRecord::<[u8], [u8]>::to(&ender),
            Duration::from_secs(10),
        )
        .await
        .unwrap()
        .offset;
    send_text(&producer, Topic::ToEnder, "ok:block-2").await;

    let group = fresh_group();
    let options =
        ConsumerOptions::new(&group, [Topic::ToEnder]).offset_reset(OffsetReset::Earliest);
    let consumer = BusConsumer::assign(
        &topics.settings,
        &options,
        StartAt::Committed,
        text_decoder(),
    )
    .await
    .unwrap();
    let mut handled = Vec::new();
    for _ in 0..2 {
        patiently(
            "a good message",
            consumer.process_next(|r| {
                handled.push(r.value);
                async { Ok::<(), String>(()) }
            }),
        )
        .await
        .unwrap();
    }
    assert_eq!(handled, ["block-1", "block-2"]);

    // A message that decodes but its handler refuses can be dead-lettered the same way.
    let poison_offset = send_text(&producer, Topic::ToEnder, "ok:poison").await;
    let poison = patiently("the poison message", consumer.next())
        .await
        .unwrap();
    assert_eq!(poison.meta.offset, poison_offset);
    consumer
        .dead_letter(&poison, "order not found")
        .await
        .unwrap();

    // Both malformed messages are on the dead-letter topic, with their provenance.
    let dead = read_all(
        &topics.settings.brokers,
        &topics.dead_letter(Topic::ToEnder),
        3,
    )
    .await;
    assert_eq!(dead.len(), 3);
    let (payload, key, headers) = &dead[0];
    assert_eq!(payload.as_deref(), Some(b"garbage".as_slice()));
    assert_eq!(key.as_deref(), Some(b"k1".as_slice()));
    assert_eq!(headers.get_str("trace"), Some("abc"));
    assert_eq!(
        headers.get_str(dead_letter_headers::SOURCE_TOPIC),
        Some(ender.as_str())
    );
    assert_eq!(
        headers.get_str(dead_letter_headers::SOURCE_PARTITION),
        Some("0")
    );
    assert_eq!(
        headers.get_str(dead_letter_headers::SOURCE_OFFSET),
        Some(bad_offset.to_string().as_str())
    );
    assert!(headers
        .get_str(dead_letter_headers::REASON)
        .unwrap()
        .contains("expected ok:<text>"));
    let stamp: i64 = headers
        .get_str(dead_letter_headers::ORIGINAL_TIMESTAMP)
        .unwrap()
        .parse()
        .unwrap();
    assert!(stamp > 1_600_000_000_000, "{stamp}");
    let (_, _, null_headers) = &dead[1];
    assert_eq!(
        null_headers.get_str(dead_letter_headers::SOURCE_OFFSET),
        Some(null_offset.to_string().as_str())
    );
    assert_eq!(
        null_headers.get_str(dead_letter_headers::REASON),
        Some("message has no value")
    );

    let (poison_payload, _, poison_headers) = &dead[2];
    assert_eq!(poison_payload.as_deref(), Some(b"ok:poison".as_slice()));
    assert_eq!(
        poison_headers.get_str(dead_letter_headers::REASON),
        Some("order not found")
    );

    // Everything, malformed and refused included, is committed: the group has no lag.
    let status = BusAdmin::new(&topics.settings)
        .unwrap()
        .status(&[group.as_str()])
        .await
        .unwrap();
    let group_status = &status.groups[0];
    let row = group_status
        .partitions
        .iter()
        .find(|p| p.topic == ender)
        .expect("group committed on to-ender");
    assert_eq!(row.committed, Some(5));
    assert_eq!(row.lag, Some(0));
    drop((consumer, producer, raw));
    topics.cleanup().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offsets_are_committed_only_after_the_handler_succeeds() {
    let topics = TestTopics::new().await;
    let producer = BusProducer::new(&topics.settings).unwrap();
    for text in ["ok:m1", "ok:m2", "ok:m3"] {
        send_text(&producer, Topic::ToEnder, text).await;
    }
    let options =
        ConsumerOptions::new(fresh_group(), [Topic::ToEnder]).offset_reset(OffsetReset::Earliest);
    let start = || {
        BusConsumer::assign(
            &topics.settings,
            &options,
            StartAt::Committed,
            text_decoder(),
        )
    };

    // First run: m1 handled, m2 refused by the handler (ender would stop here).
    {
        let consumer = start().await.unwrap();
        let meta = patiently("m1", consumer.process_next(ok_handler))
            .await
            .unwrap();
        assert_eq!(meta.offset, 0);
        let failure = patiently(
            "m2",
            consumer.process_next(|_| async { Err::<(), _>("database down") }),
        )
        .await
        .unwrap_err();
        match failure {
            HandleError::Handler { meta, error } => {
                assert_eq!(meta.offset, 1);
                assert_eq!(error, "database down");
            }
            HandleError::Bus(e) => panic!("unexpected bus error {e}"),
        }
    }

    // Restart: m2 comes again (never committed), m1 does not.
    {
        let consumer = start().await.unwrap();
        let first = patiently("m2 again", consumer.next()).await.unwrap();
        assert_eq!((first.value.as_str(), first.meta.offset), ("m2", 1));
        consumer.commit(&first.meta).await.unwrap();
        let meta = patiently("m3", consumer.process_next(ok_handler))
            .await
            .unwrap();
        assert_eq!(meta.offset, 2);
    }

    // Restart again: nothing handled is re-delivered; the next message is the new one.
    send_text(&producer, Topic::ToEnder, "ok:m4").await;
    let consumer = start().await.unwrap();
    let next = patiently("m4", consumer.next()).await.unwrap();
    assert_eq!((next.value.as_str(), next.meta.offset), ("m4", 3));
    drop((consumer, producer));
    topics.cleanup().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscribed_group_reports_its_lag() {
    let topics = TestTopics::new().await;
    let producer = BusProducer::new(&topics.settings).unwrap();
    for i in 0..5 {
        send_text(
            &producer,
            Topic::ToWebsocketsTrades,
            &format!("ok:trade-{i}"),
        )
        .await;
    }
    let group = fresh_group();
    let options = ConsumerOptions::new(&group, [Topic::ToWebsocketsTrades])
        .offset_reset(OffsetReset::Earliest);
    let consumer = BusConsumer::subscribe(&topics.settings, &options, text_decoder()).unwrap();
    assert_eq!(consumer.group_id(), group);
    for expected in ["trade-0", "trade-1"] {
        let meta: MessageMeta = patiently(
            "a trade",
            consumer.process_next(|r| async move {
                assert_eq!(r.value, expected);
                Ok::<(), String>(())
            }),
        )
        .await
        .unwrap();
        assert_eq!(meta.topic, topics.name(Topic::ToWebsocketsTrades));
    }

    let status = BusAdmin::new(&topics.settings)
        .unwrap()
        .status(&[group.as_str(), "a-group-that-never-committed"])
        .await
        .unwrap();
    let trades = status
        .topics
        .iter()
        .find(|t| t.name == topics.name(Topic::ToWebsocketsTrades))
        .unwrap();
    assert_eq!(
        (trades.partitions[0].low, trades.partitions[0].high),
        (0, 5)
    );
    assert_eq!(trades.retained(), 5);
    let ours = &status.groups[0];
    assert_eq!(ours.group, group);
    assert_eq!(ours.partitions.len(), 1, "{status}");
    assert_eq!(ours.partitions[0].committed, Some(2));
    assert_eq!(ours.partitions[0].lag, Some(3));
    assert_eq!(ours.total_lag(), 3);
    assert!(status.groups[1].partitions.is_empty(), "{status}");
    assert!(status.to_string().contains("lag 3"), "{status}");
    drop((consumer, producer));
    topics.cleanup().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clear_topics_empties_every_topic_and_says_how() {
    let topics = TestTopics::new().await;
    let admin = BusAdmin::new(&topics.settings).unwrap();
    {
        let producer = BusProducer::new(&topics.settings).unwrap();
        for i in 0..3 {
            send_text(&producer, Topic::ToEnder, &format!("ok:old-{i}")).await;
        }
        send_text(&producer, Topic::ToWebsocketsMarkets, "ok:old").await;
    }
    let retry = ClearRetry {
        attempts: 2,
        base_delay: Duration::from_millis(200),
    };
    let report = admin.clear_topics(retry).await.unwrap();
    println!("{report}");
    assert!(
        matches!(
            report.method,
            ClearMethod::DeleteRecords | ClearMethod::RecreatedTopics
        ),
        "{report}"
    );
    let mut cleared = report.cleared.clone();
    cleared.sort();
    assert_eq!(
        cleared,
        vec![
            (topics.name(Topic::ToEnder), 3),
            (topics.name(Topic::ToWebsocketsMarkets), 1)
        ]
    );

    // Every topic still exists, holds nothing, and takes new messages.
    let status = admin.status(&[]).await.unwrap();
    assert_eq!(status.topics.len(), 16);
    assert!(status.topics.iter().all(|t| t.retained() == 0), "{status}");
    let producer = BusProducer::new(&topics.settings).unwrap();
    send_text(&producer, Topic::ToEnder, "ok:new").await;
    let options = ConsumerOptions::new(fresh_group(), [Topic::ToEnder]);
    let consumer = BusConsumer::assign(
        &topics.settings,
        &options,
        StartAt::Beginning,
        text_decoder(),
    )
    .await
    .unwrap();
    let first = patiently("the new message", consumer.next()).await.unwrap();
    assert_eq!(first.value, "new");

    // Clients are dropped before topics may be deleted and recreated (see README: librdkafka
    // clients fetching a topic tansu just deleted can crash).
    drop(consumer);
    drop(producer);
    let second = admin.clear_topics(retry).await.unwrap();
    assert_eq!(second.method, report.method, "{second}");
    assert_eq!(second.cleared, vec![(topics.name(Topic::ToEnder), 1)]);
    let third = admin.clear_topics(retry).await.unwrap();
    assert_eq!(third.method, ClearMethod::NothingToClear, "{third}");
    topics.cleanup().await.unwrap();
}

async fn ok_handler(_: indexer_bus::Received<String>) -> Result<(), String> {
    Ok(())
}

type RawRecord = (Option<Vec<u8>>, Option<Vec<u8>>, MessageHeaders);

/// Reads up to `count` messages of partition 0 of `topic` from the beginning.
async fn read_all(brokers: &str, topic: &str, count: usize) -> Vec<RawRecord> {
    let brokers = brokers.to_string();
    let topic = topic.to_string();
    tokio::task::spawn_blocking(move || {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &brokers)
            .set("group.id", fresh_group())
            .set("enable.auto.commit", "false")
            .create()
            .unwrap();
        let mut assignment = TopicPartitionList::new();
        assignment
            .add_partition_offset(&topic, 0, Offset::Beginning)
            .unwrap();
        consumer.assign(&assignment).unwrap();
        let deadline = std::time::Instant::now() + PATIENCE;
        let mut out = Vec::new();
        while out.len() < count && std::time::Instant::now() < deadline {
            if let Some(Ok(m)) = consumer.poll(Duration::from_millis(200)) {
                let mut headers = MessageHeaders::new();
                if let Some(h) = m.headers() {
                    for header in h.iter() {
                        headers.insert(header.key, header.value.unwrap_or_default().to_vec());
                    }
                }
                out.push((
                    m.payload().map(<[u8]>::to_vec),
                    m.key().map(<[u8]>::to_vec),
                    headers,
                ));
            }
        }
        out
    })
    .await
    .unwrap()
}

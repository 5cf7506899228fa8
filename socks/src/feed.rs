//! Kafka → channel messages (serve.md §5.9).
//!
//! One consumer reads every `to-websockets-*` topic. Each socks instance must see every message,
//! so it does not share partitions with other instances: it is assigned every partition directly
//! (no group rebalance) under its own group id (`socks_<uuid>`), and commits its position every
//! few seconds only so that lag is visible to operators.
//!
//! Sequencing travels in Kafka headers (the contract is in `socks/README.md`): `seq` (decimal
//! u64, +1 per message of a channel id and producer), `epoch` (opaque text) and `source`
//! (producer name). Messages without `seq`/`epoch` are delivered unsequenced.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use indexer_base::config::KafkaSettings;
use indexer_bus::{
    BusConsumer, BusError, ConsumerOptions, MessageHeaders, MessageMeta, StartAt, Topic, TopicNames,
};
use indexer_proto::socks::{
    BlockHeightMessage, CandleMessage, MarketMessage, OrderbookMessage, SubaccountMessage,
    TradeMessage,
};
use prost::Message as _;
use serde_json::value::RawValue;
use tokio_util::sync::CancellationToken;

use crate::channels::{Channel, ChannelKey, CANDLE_RESOLUTIONS, PARENT_COUNT};
use crate::hub::{ChannelMessage, Hub};
use crate::markets::Markets;
use crate::protocol::{push_json_string, Cursor, OrderedObject, StreamId};

/// Kafka header names of the sequencing contract.
pub mod headers {
    pub const SEQ: &str = "seq";
    pub const EPOCH: &str = "epoch";
    pub const SOURCE: &str = "source";
    /// When the indexer first received the event (epoch ms, decimal), set by ender and vulcan.
    pub const ORIGIN_MS: &str = "message_received_timestamp";
}

/// The topics socks reads.
pub const TOPICS: [Topic; 6] = [
    Topic::ToWebsocketsOrderbooks,
    Topic::ToWebsocketsSubaccounts,
    Topic::ToWebsocketsTrades,
    Topic::ToWebsocketsMarkets,
    Topic::ToWebsocketsCandles,
    Topic::ToWebsocketsBlockHeight,
];

/// How often consumed positions are committed (the reference: every ~3 s).
const COMMIT_INTERVAL: Duration = Duration::from_secs(3);

/// Why a Kafka message produced no channel message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("not a to-websockets topic: {0}")]
    UnknownTopic(String),
    #[error("undecodable protobuf: {0}")]
    Protobuf(String),
    #[error("contents is not a JSON object: {0}")]
    Contents(String),
    #[error("unknown clobPairId {0}")]
    UnknownClobPair(String),
    #[error("bad candle resolution {0}")]
    Resolution(i32),
    #[error("message without a subaccount id")]
    NoSubaccount,
}

/// Decodes one message of `topic` into the channel messages it becomes (two for a subaccount
/// message: its own channel and its parent's).
pub fn decode(
    topic: Topic,
    payload: &[u8],
    headers: &MessageHeaders,
    kafka_timestamp_ms: Option<i64>,
    markets: &Markets,
) -> Result<Vec<ChannelMessage>, DecodeError> {
    let proto = |e: prost::DecodeError| DecodeError::Protobuf(e.to_string());
    let mut cursor = cursor_of(headers);
    // Only subaccount channel ids are written by two producers (ender and vulcan), each
    // numbering its own stream; every other channel id has one stream, whatever `source` says.
    if topic != Topic::ToWebsocketsSubaccounts {
        if let Some(cursor) = &mut cursor {
            cursor.stream.source = None;
        }
    }
    let origin_ms = headers
        .get_str(headers::ORIGIN_MS)
        .and_then(|v| v.parse().ok())
        .or(kafka_timestamp_ms);
    let message = |key: ChannelKey, version: String, contents: String| ChannelMessage {
        key,
        version: version.into(),
        contents: contents.into(),
        subaccount_number: None,
        cursor: cursor.clone(),
        origin_ms,
    };
    let ticker = |clob_pair_id: &str| {
        markets
            .by_clob_pair(clob_pair_id)
            .map(|m| m.ticker.clone())
            .ok_or_else(|| DecodeError::UnknownClobPair(clob_pair_id.to_owned()))
    };
    match topic {
        Topic::ToWebsocketsOrderbooks => {
            let m = OrderbookMessage::decode(payload).map_err(proto)?;
            let key = ChannelKey::new(Channel::Orderbook, ticker(&m.clob_pair_id)?);
            Ok(vec![message(key, m.version, json_object(m.contents)?)])
        }
        Topic::ToWebsocketsTrades => {
            let m = TradeMessage::decode(payload).map_err(proto)?;
            let key = ChannelKey::new(Channel::Trades, ticker(&m.clob_pair_id)?);
            Ok(vec![message(key, m.version, json_object(m.contents)?)])
        }
        Topic::ToWebsocketsMarkets => {
            let m = MarketMessage::decode(payload).map_err(proto)?;
            let key = ChannelKey::fixed(Channel::Markets);
            Ok(vec![message(key, m.version, json_object(m.contents)?)])
        }
        Topic::ToWebsocketsCandles => {
            let m = CandleMessage::decode(payload).map_err(proto)?;
            let resolution = usize::try_from(m.resolution)
                .ok()
                .and_then(|i| CANDLE_RESOLUTIONS.get(i))
                .ok_or(DecodeError::Resolution(m.resolution))?;
            let id = format!("{}/{resolution}", ticker(&m.clob_pair_id)?);
            let key = ChannelKey::new(Channel::Candles, id);
            Ok(vec![message(key, m.version, json_object(m.contents)?)])
        }
        Topic::ToWebsocketsBlockHeight => {
            let m = BlockHeightMessage::decode(payload).map_err(proto)?;
            let mut contents = String::from("{\"blockHeight\":");
            push_json_string(&mut contents, &m.block_height);
            contents.push_str(",\"time\":");
            push_json_string(&mut contents, &m.time);
            contents.push('}');
            let key = ChannelKey::fixed(Channel::BlockHeight);
            Ok(vec![message(key, m.version, contents)])
        }
        Topic::ToWebsocketsSubaccounts => {
            let m = SubaccountMessage::decode(payload).map_err(proto)?;
            let id = m.subaccount_id.ok_or(DecodeError::NoSubaccount)?;
            let contents = json_object(m.contents)?;
            let own = message(
                ChannelKey::new(Channel::Subaccounts, format!("{}/{}", id.owner, id.number)),
                m.version.clone(),
                contents.clone(),
            );
            let mut parent = message(
                ChannelKey::new(
                    Channel::ParentSubaccounts,
                    format!("{}/{}", id.owner, id.number % PARENT_COUNT),
                ),
                m.version,
                without_sibling_transfer(&contents)?,
            );
            parent.subaccount_number = Some(id.number);
            if let Some(cursor) = &mut parent.cursor {
                cursor.stream.child = Some(id.number);
            }
            Ok(vec![own, parent])
        }
        Topic::ToEnder | Topic::ToVulcan => {
            Err(DecodeError::UnknownTopic(topic.base_name().to_owned()))
        }
    }
}

/// The sequencing headers, if complete.
pub fn cursor_of(headers: &MessageHeaders) -> Option<Cursor> {
    let seq = headers.get_str(headers::SEQ)?.trim().parse().ok()?;
    let epoch = headers.get_str(headers::EPOCH)?.to_owned();
    Some(Cursor {
        stream: StreamId {
            source: headers.get_str(headers::SOURCE).map(str::to_owned),
            child: None,
        },
        epoch,
        seq,
    })
}

/// `contents` checked to be one JSON object, kept verbatim.
fn json_object(contents: String) -> Result<String, DecodeError> {
    let raw: Box<RawValue> =
        serde_json::from_str(&contents).map_err(|e| DecodeError::Contents(e.to_string()))?;
    if !raw.get().trim_start().starts_with('{') {
        return Err(DecodeError::Contents("not an object".into()));
    }
    Ok(contents)
}

/// serve.md §5.8.2: on the parent channel, a transfer between two children of the same parent
/// is removed from the contents (the rest of the message stays).
fn without_sibling_transfer(contents: &str) -> Result<String, DecodeError> {
    if !contents.contains("\"transfers\"") {
        return Ok(contents.to_owned());
    }
    let object: OrderedObject =
        serde_json::from_str(contents).map_err(|e| DecodeError::Contents(e.to_string()))?;
    let sibling = object
        .0
        .iter()
        .find(|(k, _)| k == "transfers")
        .and_then(|(_, v)| serde_json::from_str::<serde_json::Value>(v.get()).ok())
        .is_some_and(|t| is_sibling_transfer(&t));
    if !sibling {
        return Ok(contents.to_owned());
    }
    let kept = OrderedObject(
        object
            .0
            .into_iter()
            .filter(|(k, _)| k != "transfers")
            .collect(),
    );
    Ok(kept.to_json())
}

fn is_sibling_transfer(transfer: &serde_json::Value) -> bool {
    let side = |name: &str| {
        let side = transfer.get(name)?;
        Some((
            side.get("address")?.as_str()?.to_owned(),
            side.get("subaccountNumber")?.as_u64()? % u64::from(PARENT_COUNT),
        ))
    };
    matches!((side("sender"), side("recipient")), (Some(a), Some(b)) if a == b)
}

/// Consumes every to-websockets topic into the hub until `stop` is cancelled.
pub struct Feed {
    consumer: BusConsumer<Vec<u8>>,
    names: TopicNames,
}

impl Feed {
    /// Assigns every partition of the six topics, starting at `start`.
    pub async fn connect(settings: &KafkaSettings, start: StartAt) -> Result<Self, BusError> {
        let options = ConsumerOptions::new("socks", TOPICS);
        let consumer = BusConsumer::assign(
            settings,
            &options,
            start,
            Box::new(|bytes| Ok(bytes.to_vec())),
        )
        .await?;
        tracing::info!(
            group = consumer.group_id(),
            "socks feed assigned to every to-websockets partition"
        );
        Ok(Self {
            consumer,
            names: TopicNames::from_settings(settings),
        })
    }

    pub async fn run(
        self,
        hub: Arc<Hub>,
        markets: crate::markets::MarketDirectory,
        stop: CancellationToken,
    ) -> Result<(), BusError> {
        let mut uncommitted: HashMap<(String, i32), MessageMeta> = HashMap::new();
        let mut last_commit = Instant::now();
        loop {
            let received = tokio::select! {
                _ = stop.cancelled() => return Ok(()),
                received = self.consumer.next() => received?,
            };
            let topic = self.names.topic_of(&received.meta.topic);
            let decoded = match topic {
                Some(topic) => decode(
                    topic,
                    &received.payload,
                    &received.meta.headers,
                    received.meta.timestamp_ms,
                    &markets.get(),
                ),
                None => Err(DecodeError::UnknownTopic(received.meta.topic.clone())),
            };
            let topic_label = topic.map_or("unknown", Topic::base_name);
            match decoded {
                Ok(messages) => {
                    metrics::counter!("socks_kafka_messages_total", "topic" => topic_label)
                        .increment(1);
                    for message in messages {
                        hub.publish(message);
                    }
                }
                Err(error) => {
                    metrics::counter!("socks_kafka_dropped_total", "topic" => topic_label)
                        .increment(1);
                    tracing::warn!(
                        topic = %received.meta.topic,
                        partition = received.meta.partition,
                        offset = received.meta.offset,
                        %error,
                        "kafka message dropped"
                    );
                }
            }
            let meta = received.meta;
            uncommitted.insert((meta.topic.clone(), meta.partition), meta);
            if last_commit.elapsed() >= COMMIT_INTERVAL {
                for (_, meta) in uncommitted.drain() {
                    if let Err(error) = self.consumer.commit(&meta).await {
                        tracing::warn!(%error, "could not commit the socks position");
                    }
                }
                last_commit = Instant::now();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use indexer_proto::protocol::v1::IndexerSubaccountId;

    fn markets() -> Markets {
        Markets::from_rows([
            (0, "BTC-USD".to_string(), -10),
            (1, "ETH-USD".to_string(), -9),
        ])
    }

    fn sequenced(seq: u64) -> MessageHeaders {
        MessageHeaders::new()
            .with("seq", seq.to_string())
            .with("epoch", "e1")
            .with("source", "ender")
            .with("message_received_timestamp", "1700000000000")
    }

    #[test]
    fn orderbook_message_routes_by_ticker_with_its_cursor() {
        let payload = OrderbookMessage {
            contents: r#"{"bids":[["100","1"]]}"#.into(),
            clob_pair_id: "1".into(),
            version: "1.0.0".into(),
        }
        .encode_to_vec();
        let out = decode(
            Topic::ToWebsocketsOrderbooks,
            &payload,
            &sequenced(7),
            None,
            &markets(),
        )
        .unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].key, ChannelKey::new(Channel::Orderbook, "ETH-USD"));
        assert_eq!(&*out[0].contents, r#"{"bids":[["100","1"]]}"#);
        assert_eq!(out[0].cursor.as_ref().unwrap().seq, 7);
        assert_eq!(out[0].origin_ms, Some(1_700_000_000_000));
    }

    #[test]
    fn unknown_clob_pair_and_bad_contents_are_refused() {
        let payload = TradeMessage {
            contents: "{}".into(),
            clob_pair_id: "9".into(),
            version: "2.1.0".into(),
            ..Default::default()
        }
        .encode_to_vec();
        assert_eq!(
            decode(
                Topic::ToWebsocketsTrades,
                &payload,
                &MessageHeaders::new(),
                None,
                &markets()
            ),
            Err(DecodeError::UnknownClobPair("9".into()))
        );
        let payload = MarketMessage {
            contents: "[1]".into(),
            version: "1.0.0".into(),
        }
        .encode_to_vec();
        assert!(matches!(
            decode(
                Topic::ToWebsocketsMarkets,
                &payload,
                &MessageHeaders::new(),
                None,
                &markets()
            ),
            Err(DecodeError::Contents(_))
        ));
    }

    #[test]
    fn candles_and_block_height() {
        let payload = CandleMessage {
            contents: r#"{"ticker":"BTC-USD"}"#.into(),
            clob_pair_id: "0".into(),
            resolution: 4,
            version: "1.0.0".into(),
        }
        .encode_to_vec();
        let out = decode(
            Topic::ToWebsocketsCandles,
            &payload,
            &MessageHeaders::new(),
            None,
            &markets(),
        )
        .unwrap();
        assert_eq!(
            out[0].key,
            ChannelKey::new(Channel::Candles, "BTC-USD/1HOUR")
        );
        assert_eq!(out[0].cursor, None);
        let payload = BlockHeightMessage {
            block_height: "15813001".into(),
            time: "2024-05-01T12:34:56.301Z".into(),
            version: "1.0.0".into(),
        }
        .encode_to_vec();
        let out = decode(
            Topic::ToWebsocketsBlockHeight,
            &payload,
            &MessageHeaders::new(),
            None,
            &markets(),
        )
        .unwrap();
        assert_eq!(
            &*out[0].contents,
            r#"{"blockHeight":"15813001","time":"2024-05-01T12:34:56.301Z"}"#
        );
        assert_eq!(&*out[0].key.id, "v4_block_height");
    }

    #[test]
    fn subaccount_message_goes_to_its_channel_and_its_parent() {
        let contents = r#"{"transfers":{"sender":{"address":"dydx1a","subaccountNumber":2},"recipient":{"address":"dydx1a","subaccountNumber":130},"symbol":"USDC"},"blockHeight":"5"}"#;
        let payload = SubaccountMessage {
            contents: contents.into(),
            subaccount_id: Some(IndexerSubaccountId {
                owner: "dydx1a".into(),
                number: 130,
            }),
            version: "3.0.0".into(),
            ..Default::default()
        }
        .encode_to_vec();
        let out = decode(
            Topic::ToWebsocketsSubaccounts,
            &payload,
            &sequenced(3),
            None,
            &markets(),
        )
        .unwrap();
        assert_eq!(
            out[0].key,
            ChannelKey::new(Channel::Subaccounts, "dydx1a/130")
        );
        assert_eq!(&*out[0].contents, contents);
        assert_eq!(out[0].subaccount_number, None);
        assert_eq!(
            out[1].key,
            ChannelKey::new(Channel::ParentSubaccounts, "dydx1a/2")
        );
        assert_eq!(out[1].subaccount_number, Some(130));
        assert_eq!(
            &*out[1].contents, r#"{"blockHeight":"5"}"#,
            "sibling transfer removed"
        );
        assert_eq!(out[1].cursor.as_ref().unwrap().stream.child, Some(130));
    }

    #[test]
    fn transfers_to_other_parents_stay_on_the_parent_channel() {
        let contents = r#"{"transfers":{"sender":{"address":"dydx1a","subaccountNumber":2},"recipient":{"address":"dydx1a","subaccountNumber":3}}}"#;
        assert_eq!(without_sibling_transfer(contents).unwrap(), contents);
        let deposit = r#"{"transfers":{"sender":{"address":"dydx1b"},"recipient":{"address":"dydx1a","subaccountNumber":0}}}"#;
        assert_eq!(without_sibling_transfer(deposit).unwrap(), deposit);
    }

    #[test]
    fn incomplete_sequencing_headers_mean_unsequenced() {
        assert_eq!(cursor_of(&MessageHeaders::new().with("seq", "3")), None);
        assert_eq!(
            cursor_of(&MessageHeaders::new().with("seq", "x").with("epoch", "e")),
            None
        );
        let c = cursor_of(&MessageHeaders::new().with("seq", "3").with("epoch", "e")).unwrap();
        assert_eq!(c.stream.source, None);
    }
}

//! The wire: frames from clients (parsed leniently, the way the reference's JavaScript does) and
//! frames to clients (rendered with the exact keys and key order of serve.md §5.3).
//!
//! Our additions (beyond.md §1) are extra keys only: `seq`, `epoch`, `stream`, `first_seq` on
//! data frames, `cursors`/`seq`/`epoch`/`recovered` on `subscribed`, and the `lagged` error.

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::value::RawValue;
use serde_json::Value;

/// Texts of serve.md §5.2–5.5, verbatim (the double space in `TOO_MANY_SUBSCRIBES` is the
/// reference's).
pub mod texts {
    pub const COULD_NOT_PARSE: &str = "Invalid message: could not parse";
    pub const TYPE_REQUIRED: &str = "Invalid message: type is required";
    pub const CHANNEL_REQUIRED: &str = "Invalid subscribe message: channel is required";
    pub const TOO_MANY_INVALID: &str = "Too many invalid messages. Please reconnect and try again.";
    pub const TOO_MANY_PINGS: &str = "Too many ping messages. Please reconnect and try again.";
    pub const INTERNAL_ERROR: &str = "Internal error";
    pub const LAGGED: &str = "lagged";
    pub const RATE_LIMITED_REASON: &str = r#"{"message":"Rate limited"}"#;
    pub const RESTARTING_REASON: &str = r#"{"message":"Service restarting"}"#;
    pub const HEARTBEAT_TIMEOUT_REASON: &str = "Heartbeat timeout";
    /// serve.md §2.3: an account snapshot of an address whose `compliance_status` is `BLOCKED`.
    pub const COMPLIANCE_BLOCKED: &str = "Because this address appears to be a resident of, or trading from, a jurisdiction that violates our terms of use, or has engaged in activity that violates our terms of use, this address has been blocked.";
    /// serve.md §2.3: an account snapshot requested from a restricted region (geoblocking on).
    pub const GEOBLOCKED: &str = "Because you appear to be a resident of, or trading from, a jurisdiction that violates our terms of use, or have engaged in activity that violates our terms of use, you have been blocked. You may withdraw your funds from the protocol at any time.";

    pub fn invalid_type(kind: &str) -> String {
        format!("Invalid message type: {kind}")
    }
    pub fn invalid_channel(channel: &str) -> String {
        format!("Invalid channel: {channel}")
    }
    pub fn invalid_id(id: &str) -> String {
        format!("Invalid id: {id}")
    }
    pub fn invalid_subscription_id(channel: &str, id: &str) -> String {
        format!("Invalid subscription id for channel: ({channel}-{id})")
    }
    pub fn limit_reached(channel: &str, limit: usize) -> String {
        format!("Per-connection subscription limit reached for {channel} (limit={limit}).")
    }
    pub fn too_many_subscribes(channel: &str, id: &str) -> String {
        format!(
            "Too many subscribe attempts for channel {channel}-{id}. Please  reconnect and try again."
        )
    }
    pub fn could_not_fetch(channel: &str) -> String {
        format!("Internal error, could not fetch data for subscription: {channel}.")
    }
    pub fn already_subscribed(channel: &str, id: &str) -> String {
        format!("Invalid subscribe message: already subscribed ({channel}-{id})")
    }
}

/// Close codes of serve.md §5.5.
pub mod close_codes {
    pub const RATE_LIMITED: u16 = 1008;
    pub const TOO_BIG: u16 = 1009;
    pub const HEARTBEAT_TIMEOUT: u16 = 1011;
    pub const RESTARTING: u16 = 1012;
    pub const SEND_FAILED: u16 = 4000;
}

/// A client frame after parsing; fields are kept as raw JSON because validation (and its error
/// texts) depends on their JavaScript truthiness and string form.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientFrame {
    Subscribe(SubscribeFields),
    Unsubscribe(SubscribeFields),
    Ping { id: Option<Value> },
}

/// `channel`, `id`, `batched` and our `resume` of a subscribe or unsubscribe frame.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SubscribeFields {
    pub channel: Option<Value>,
    pub id: Option<Value>,
    pub batched: bool,
    pub resume: Option<Value>,
}

/// Why a client frame was not understood; each counts toward the invalid-message limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    NotJson,
    NoType,
    UnknownType(String),
}

impl ParseError {
    pub fn message(&self) -> String {
        match self {
            ParseError::NotJson => texts::COULD_NOT_PARSE.to_string(),
            ParseError::NoType => texts::TYPE_REQUIRED.to_string(),
            ParseError::UnknownType(kind) => texts::invalid_type(kind),
        }
    }
}

/// Parses one text frame.
pub fn parse_client_frame(text: &str) -> Result<ClientFrame, ParseError> {
    let value: Value = serde_json::from_str(text).map_err(|_| ParseError::NotJson)?;
    let kind = value.get("type").filter(|t| is_truthy(t));
    let Some(kind) = kind else {
        return Err(ParseError::NoType);
    };
    let field = |name: &str| value.get(name).cloned();
    match kind.as_str() {
        Some("subscribe") | Some("unsubscribe") => {
            let fields = SubscribeFields {
                channel: field("channel"),
                id: field("id"),
                batched: matches!(value.get("batched"), Some(Value::Bool(true)))
                    || matches!(value.get("batched"), Some(Value::String(s)) if s == "true"),
                resume: field("resume"),
            };
            if kind.as_str() == Some("subscribe") {
                Ok(ClientFrame::Subscribe(fields))
            } else {
                Ok(ClientFrame::Unsubscribe(fields))
            }
        }
        Some("ping") => Ok(ClientFrame::Ping { id: field("id") }),
        _ => Err(ParseError::UnknownType(js_string(kind))),
    }
}

/// JavaScript truthiness of a JSON value.
pub fn is_truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

/// `String(value)` in JavaScript, used in error texts (`Invalid id: 5`, `Invalid id: undefined`).
pub fn js_string(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => js_number(n),
        Value::String(s) => s.clone(),
        Value::Array(items) => items
            .iter()
            .map(|v| match v {
                Value::Null => String::new(),
                other => js_string(other),
            })
            .collect::<Vec<_>>()
            .join(","),
        Value::Object(_) => "[object Object]".into(),
    }
}

fn js_number(n: &serde_json::Number) -> String {
    if n.is_i64() || n.is_u64() {
        return n.to_string();
    }
    let f = n.as_f64().unwrap_or(f64::NAN);
    if f.fract() == 0.0 && f.abs() < 1e21 {
        format!("{f:.0}")
    } else {
        f.to_string()
    }
}

/// A position in one message stream (beyond.md §1): the stream a message belongs to within its
/// channel id, the epoch, and the sequence number.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Cursor {
    pub stream: StreamId,
    pub epoch: String,
    pub seq: u64,
}

/// Which numbering a message belongs to within a channel id: the producer (`source` header;
/// ender and vulcan both write `v4_subaccounts`) and, on `v4_parent_subaccounts`, the child
/// subaccount number (each child channel is numbered on its own).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamId {
    pub source: Option<String>,
    pub child: Option<u32>,
}

impl Serialize for Cursor {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        if let Some(source) = &self.stream.source {
            map.serialize_entry("stream", source)?;
        }
        if let Some(child) = self.stream.child {
            map.serialize_entry("subaccountNumber", &child)?;
        }
        map.serialize_entry("epoch", &self.epoch)?;
        map.serialize_entry("seq", &self.seq)?;
        map.end()
    }
}

/// Parses a `resume` value: one cursor object or an array of them. `None` when malformed.
pub fn parse_resume(value: &Value) -> Option<Vec<Cursor>> {
    let one = |v: &Value| -> Option<Cursor> {
        let seq = match v.get("seq")? {
            Value::Number(n) => n.as_u64()?,
            Value::String(s) => s.parse().ok()?,
            _ => return None,
        };
        Some(Cursor {
            stream: StreamId {
                source: v.get("stream").and_then(Value::as_str).map(str::to_owned),
                child: v
                    .get("subaccountNumber")
                    .and_then(Value::as_u64)
                    .and_then(|n| u32::try_from(n).ok()),
            },
            epoch: v.get("epoch")?.as_str()?.to_owned(),
            seq,
        })
    };
    match value {
        Value::Array(items) => items.iter().map(one).collect(),
        Value::Object(_) => one(value).map(|c| vec![c]),
        _ => None,
    }
}

/// Renders server frames. Every function returns the whole JSON text of one frame.
pub struct Render;

struct Json<'a>(&'a mut String);

impl Json<'_> {
    fn key(&mut self, key: &str) {
        if !self.0.ends_with('{') {
            self.0.push(',');
        }
        self.0.push('"');
        self.0.push_str(key);
        self.0.push_str("\":");
    }
    fn string(&mut self, key: &str, value: &str) {
        self.key(key);
        push_json_string(self.0, value);
    }
    fn number(&mut self, key: &str, value: u64) {
        self.key(key);
        self.0.push_str(itoa(value).as_str());
    }
    fn raw(&mut self, key: &str, value: &str) {
        self.key(key);
        self.0.push_str(value);
    }
}

fn itoa(value: u64) -> String {
    value.to_string()
}

/// Appends `value` as a JSON string literal.
pub fn push_json_string(out: &mut String, value: &str) {
    // serde_json's escaping cannot fail for a str.
    out.push_str(&serde_json::to_string(value).unwrap_or_else(|_| "\"\"".into()));
}

fn head(kind: &str, connection_id: &str, message_id: u64) -> String {
    let mut out = String::with_capacity(128);
    out.push('{');
    let mut json = Json(&mut out);
    json.string("type", kind);
    json.string("connection_id", connection_id);
    json.number("message_id", message_id);
    out
}

/// What a `subscribed` frame says about sequencing (absent for clients that use none of it).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SubscribedSeq {
    /// The snapshot's position in each stream of the channel id.
    pub cursors: Vec<Cursor>,
    /// `Some(true)`: resumed by replay (no `contents`); `Some(false)`: resume was asked for and
    /// this is a fresh snapshot; `None`: no resume was asked for.
    pub recovered: Option<bool>,
}

impl Render {
    pub fn connected(connection_id: &str) -> String {
        let mut out = head("connected", connection_id, 0);
        out.push('}');
        out
    }

    /// `id` is `None` for `v4_markets`; `contents` is `None` only for a resumed subscription.
    pub fn subscribed(
        connection_id: &str,
        message_id: u64,
        channel: &str,
        id: Option<&str>,
        contents: Option<&str>,
        seq: &SubscribedSeq,
    ) -> String {
        let mut out = head("subscribed", connection_id, message_id);
        let mut json = Json(&mut out);
        json.string("channel", channel);
        if let Some(id) = id {
            json.string("id", id);
        }
        if let Some(contents) = contents {
            json.raw("contents", contents);
        }
        push_cursors(&mut json, &seq.cursors);
        if let Some(recovered) = seq.recovered {
            json.raw("recovered", if recovered { "true" } else { "false" });
        }
        out.push('}');
        out
    }

    pub fn unsubscribed(
        connection_id: &str,
        message_id: u64,
        channel: &str,
        id: Option<&str>,
    ) -> String {
        let mut out = head("unsubscribed", connection_id, message_id);
        let mut json = Json(&mut out);
        json.string("channel", channel);
        if let Some(id) = id {
            json.string("id", id);
        }
        out.push('}');
        out
    }

    /// `{"type":"error","message":…,"connection_id":…,"message_id":…[,"channel","id"]}`.
    pub fn error(
        connection_id: &str,
        message_id: u64,
        message: &str,
        channel: Option<&str>,
        id: Option<&str>,
    ) -> String {
        let mut out = String::with_capacity(160);
        out.push('{');
        let mut json = Json(&mut out);
        json.string("type", "error");
        json.string("message", message);
        json.string("connection_id", connection_id);
        json.number("message_id", message_id);
        if let Some(channel) = channel {
            json.string("channel", channel);
        }
        if let Some(id) = id {
            json.string("id", id);
        }
        out.push('}');
        out
    }

    /// The lagged notice (beyond.md §1): the subscription was dropped; `last` is the last
    /// message queued for it, from which the client can resume.
    pub fn lagged(
        connection_id: &str,
        message_id: u64,
        channel: &str,
        id: Option<&str>,
        last: Option<&Cursor>,
    ) -> String {
        let mut out = Render::error(connection_id, message_id, texts::LAGGED, Some(channel), id);
        out.pop();
        if let Some(cursor) = last {
            let mut json = Json(&mut out);
            if let Some(source) = &cursor.stream.source {
                json.string("stream", source);
            }
            if let Some(child) = cursor.stream.child {
                json.number("subaccountNumber", u64::from(child));
            }
            json.string("epoch", &cursor.epoch);
            json.number("seq", cursor.seq);
        }
        out.push('}');
        out
    }

    pub fn pong(connection_id: &str, message_id: u64, id: Option<&Value>) -> String {
        let mut out = head("pong", connection_id, message_id);
        if let Some(id) = id {
            Json(&mut out).raw("id", &id.to_string());
        }
        out.push('}');
        out
    }

    /// Prefix of a data frame; the shared tail ([`data_tail`]) completes it.
    /// [`Render::data_head`] up to the `message_id` value: the same for every data frame of a
    /// connection and kind, so the writer renders it once and appends only the number.
    pub fn data_head_prefix(batch: bool, connection_id: &str) -> String {
        let mut out = Self::data_head(batch, connection_id, 0);
        out.truncate(out.len() - "0,".len());
        out
    }

    pub fn data_head(batch: bool, connection_id: &str, message_id: u64) -> String {
        let kind = if batch {
            "channel_batch_data"
        } else {
            "channel_data"
        };
        let mut out = head(kind, connection_id, message_id);
        out.push(',');
        out
    }
}

fn push_cursors(json: &mut Json<'_>, cursors: &[Cursor]) {
    match cursors {
        [] => {}
        [only] if only.stream == StreamId::default() => {
            json.string("epoch", &only.epoch);
            json.number("seq", only.seq);
        }
        many => {
            let text = serde_json::to_string(many).unwrap_or_else(|_| "[]".into());
            json.raw("cursors", &text);
        }
    }
}

/// The part of a `channel_data` / `channel_batch_data` frame that is the same for every
/// subscriber, rendered once per message (or batch) and shared: everything after `message_id`,
/// starting without the comma. `contents` is the raw JSON (an object, or an array for batches).
pub struct DataTail<'a> {
    pub id: Option<&'a str>,
    pub channel: &'a str,
    pub version: &'a str,
    pub contents: &'a str,
    pub subaccount_number: Option<u32>,
    /// First and last message of the frame when sequenced.
    pub seq: Option<(&'a Cursor, &'a Cursor)>,
}

pub fn data_tail(tail: &DataTail<'_>) -> String {
    let mut out = String::with_capacity(tail.contents.len() + 160);
    out.push('{');
    let mut json = Json(&mut out);
    if let Some(id) = tail.id {
        json.string("id", id);
    }
    json.string("channel", tail.channel);
    json.string("version", tail.version);
    json.raw("contents", tail.contents);
    if let Some(number) = tail.subaccount_number {
        json.number("subaccountNumber", u64::from(number));
    }
    if let Some((first, last)) = tail.seq {
        if let Some(source) = &last.stream.source {
            json.string("stream", source);
        }
        json.string("epoch", &last.epoch);
        json.number("seq", last.seq);
        if first.seq != last.seq {
            json.number("first_seq", first.seq);
        }
    }
    out.push('}');
    // Drop the opening brace: the head supplies it.
    out.remove(0);
    out
}

/// An object whose members are kept in their original order (serde_json's map sorts keys unless
/// `preserve_order` is on, which would change it for the whole workspace).
#[derive(Debug)]
pub struct OrderedObject(pub Vec<(String, Box<RawValue>)>);

impl<'de> serde::Deserialize<'de> for OrderedObject {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = OrderedObject;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<OrderedObject, A::Error> {
                let mut members = Vec::new();
                while let Some((key, value)) = map.next_entry::<String, Box<RawValue>>()? {
                    members.push((key, value));
                }
                Ok(OrderedObject(members))
            }
        }
        deserializer.deserialize_map(Visitor)
    }
}

impl OrderedObject {
    pub fn to_json(&self) -> String {
        let mut out = String::from("{");
        for (key, value) in &self.0 {
            if out.len() > 1 {
                out.push(',');
            }
            push_json_string(&mut out, key);
            out.push(':');
            out.push_str(value.get());
        }
        out.push('}');
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_three_client_types() {
        assert_eq!(
            parse_client_frame(
                r#"{"type":"subscribe","channel":"v4_trades","id":"BTC-USD","batched":true}"#
            ),
            Ok(ClientFrame::Subscribe(SubscribeFields {
                channel: Some(Value::from("v4_trades")),
                id: Some(Value::from("BTC-USD")),
                batched: true,
                resume: None,
            }))
        );
        assert!(matches!(
            parse_client_frame(r#"{"type":"unsubscribe","channel":"v4_markets"}"#),
            Ok(ClientFrame::Unsubscribe(SubscribeFields {
                batched: false,
                ..
            }))
        ));
        assert_eq!(
            parse_client_frame(r#"{"type":"ping","id":3}"#),
            Ok(ClientFrame::Ping {
                id: Some(Value::from(3))
            })
        );
    }

    #[test]
    fn batched_accepts_true_and_the_string_true_only() {
        let batched = |v: &str| match parse_client_frame(&format!(
            r#"{{"type":"subscribe","channel":"v4_trades","batched":{v}}}"#
        )) {
            Ok(ClientFrame::Subscribe(f)) => f.batched,
            other => panic!("{other:?}"),
        };
        assert!(batched("true"));
        assert!(batched(r#""true""#));
        assert!(!batched("false"));
        assert!(!batched("1"));
    }

    #[test]
    fn parse_errors_have_the_reference_texts() {
        assert_eq!(
            parse_client_frame("{nope").unwrap_err().message(),
            "Invalid message: could not parse"
        );
        assert_eq!(
            parse_client_frame(r#"{"channel":"v4_trades"}"#)
                .unwrap_err()
                .message(),
            "Invalid message: type is required"
        );
        assert_eq!(
            parse_client_frame(r#"{"type":""}"#).unwrap_err().message(),
            "Invalid message: type is required"
        );
        assert_eq!(
            parse_client_frame("[1,2]").unwrap_err().message(),
            "Invalid message: type is required"
        );
        assert_eq!(
            parse_client_frame(r#"{"type":"hello"}"#)
                .unwrap_err()
                .message(),
            "Invalid message type: hello"
        );
        assert_eq!(
            parse_client_frame(r#"{"type":7}"#).unwrap_err().message(),
            "Invalid message type: 7"
        );
    }

    #[test]
    fn js_string_matches_javascript() {
        assert_eq!(js_string(&Value::from(5)), "5");
        assert_eq!(js_string(&serde_json::json!(5.0)), "5");
        assert_eq!(js_string(&serde_json::json!(1.5)), "1.5");
        assert_eq!(js_string(&serde_json::json!(null)), "null");
        assert_eq!(js_string(&serde_json::json!({"a": 1})), "[object Object]");
        assert_eq!(js_string(&serde_json::json!([1, "a", null])), "1,a,");
        assert_eq!(js_string(&serde_json::json!(true)), "true");
    }

    #[test]
    fn frames_have_the_reference_key_order() {
        assert_eq!(
            Render::connected("c"),
            r#"{"type":"connected","connection_id":"c","message_id":0}"#
        );
        assert_eq!(
            Render::subscribed(
                "c",
                1,
                "v4_trades",
                Some("BTC-USD"),
                Some(r#"{"trades":[]}"#),
                &SubscribedSeq::default()
            ),
            r#"{"type":"subscribed","connection_id":"c","message_id":1,"channel":"v4_trades","id":"BTC-USD","contents":{"trades":[]}}"#
        );
        assert_eq!(
            Render::unsubscribed("c", 4, "v4_markets", None),
            r#"{"type":"unsubscribed","connection_id":"c","message_id":4,"channel":"v4_markets"}"#
        );
        assert_eq!(
            Render::error("c", 4, "Invalid channel: v4_foo", None, None),
            r#"{"type":"error","message":"Invalid channel: v4_foo","connection_id":"c","message_id":4}"#
        );
        let tail = data_tail(&DataTail {
            id: Some("dydx1/7"),
            channel: "v4_parent_subaccounts",
            version: "3.0.0",
            contents: r#"{"blockHeight":"5"}"#,
            subaccount_number: Some(135),
            seq: None,
        });
        assert_eq!(
            format!("{}{}", Render::data_head(false, "c", 2), tail),
            r#"{"type":"channel_data","connection_id":"c","message_id":2,"id":"dydx1/7","channel":"v4_parent_subaccounts","version":"3.0.0","contents":{"blockHeight":"5"},"subaccountNumber":135}"#
        );
        for batch in [false, true] {
            assert_eq!(
                format!("{}2,", Render::data_head_prefix(batch, "c")),
                Render::data_head(batch, "c", 2),
                "the writer's prefix + number is the same head"
            );
        }
    }

    #[test]
    fn sequenced_frames_carry_seq_epoch_and_the_first_seq_of_a_batch() {
        let cursor = |seq| Cursor {
            stream: StreamId {
                source: Some("vulcan".into()),
                child: None,
            },
            epoch: "e1".into(),
            seq,
        };
        let (first, last) = (cursor(7), cursor(9));
        let tail = data_tail(&DataTail {
            id: Some("BTC-USD"),
            channel: "v4_orderbook",
            version: "1.0.0",
            contents: r#"[{"bids":[["1","2"]]}]"#,
            subaccount_number: None,
            seq: Some((&first, &last)),
        });
        assert_eq!(
            tail,
            r#""id":"BTC-USD","channel":"v4_orderbook","version":"1.0.0","contents":[{"bids":[["1","2"]]}],"stream":"vulcan","epoch":"e1","seq":9,"first_seq":7}"#
        );
        assert_eq!(
            Render::lagged("c", 3, "v4_orderbook", Some("BTC-USD"), Some(&last)),
            r#"{"type":"error","message":"lagged","connection_id":"c","message_id":3,"channel":"v4_orderbook","id":"BTC-USD","stream":"vulcan","epoch":"e1","seq":9}"#
        );
    }

    #[test]
    fn resume_takes_one_cursor_or_a_list() {
        let one = parse_resume(&serde_json::json!({"epoch": "e", "seq": 4})).unwrap();
        assert_eq!(one[0].seq, 4);
        assert_eq!(one[0].stream, StreamId::default());
        let many = parse_resume(&serde_json::json!([
            {"stream": "ender", "epoch": "a", "seq": "10"},
            {"stream": "vulcan", "subaccountNumber": 128, "epoch": "b", "seq": 2}
        ]))
        .unwrap();
        assert_eq!(many.len(), 2);
        assert_eq!(many[1].stream.child, Some(128));
        assert_eq!(parse_resume(&serde_json::json!({"epoch": "e"})), None);
        assert_eq!(parse_resume(&serde_json::json!("x")), None);
    }

    #[test]
    fn ordered_object_keeps_member_order() {
        let obj: OrderedObject =
            serde_json::from_str(r#"{"z":1,"a":{"k":[1,2]},"m":"x"}"#).unwrap();
        assert_eq!(obj.to_json(), r#"{"z":1,"a":{"k":[1,2]},"m":"x"}"#);
    }
}

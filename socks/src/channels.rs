//! The seven channels, how their ids are validated (serve.md §5.4 step A and §5.8) and the
//! per-connection subscription limits (§5.5).

use std::fmt;
use std::sync::Arc;

use serde_json::Value;

use crate::markets::Markets;
use crate::protocol::{is_truthy, js_string, texts};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Channel {
    Subaccounts,
    ParentSubaccounts,
    Orderbook,
    Trades,
    Markets,
    Candles,
    BlockHeight,
}

impl Channel {
    pub const ALL: [Channel; 7] = [
        Channel::Subaccounts,
        Channel::ParentSubaccounts,
        Channel::Orderbook,
        Channel::Trades,
        Channel::Markets,
        Channel::Candles,
        Channel::BlockHeight,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Channel::Subaccounts => "v4_subaccounts",
            Channel::ParentSubaccounts => "v4_parent_subaccounts",
            Channel::Orderbook => "v4_orderbook",
            Channel::Trades => "v4_trades",
            Channel::Markets => "v4_markets",
            Channel::Candles => "v4_candles",
            Channel::BlockHeight => "v4_block_height",
        }
    }

    pub fn from_name(name: &str) -> Option<Channel> {
        Channel::ALL.into_iter().find(|c| c.name() == name)
    }

    /// The id of channels that have one fixed id (client-supplied ids are ignored, serve.md D16).
    pub fn fixed_id(self) -> Option<&'static str> {
        match self {
            Channel::Markets => Some("v4_markets"),
            Channel::BlockHeight => Some("v4_block_height"),
            _ => None,
        }
    }

    /// Whether frames of this channel carry `id` (all but `v4_markets`).
    pub fn shows_id(self) -> bool {
        self != Channel::Markets
    }
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A channel id: what clients subscribe to and what messages are routed by.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChannelKey {
    pub channel: Channel,
    pub id: Arc<str>,
}

impl ChannelKey {
    pub fn new(channel: Channel, id: impl Into<Arc<str>>) -> Self {
        Self {
            channel,
            id: id.into(),
        }
    }

    /// The fixed-id channels' key.
    pub fn fixed(channel: Channel) -> Self {
        Self::new(channel, channel.fixed_id().unwrap_or(""))
    }

    /// The id as shown in frames (`None` on `v4_markets`).
    pub fn shown_id(&self) -> Option<&str> {
        self.channel.shows_id().then_some(&*self.id)
    }
}

impl fmt::Display for ChannelKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.channel, self.id)
    }
}

/// Step A of serve.md §5.4: a frame's `channel` and `id` turned into a key, or the error text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Addressed {
    pub key: ChannelKey,
    /// The id the client sent, if it was a string (echoed by `unsubscribed`).
    pub requested_id: Option<String>,
}

pub fn address(channel: Option<&Value>, id: Option<&Value>) -> Result<Addressed, String> {
    let channel_value = match channel {
        Some(value) if is_truthy(value) => value,
        _ => return Err(texts::CHANNEL_REQUIRED.to_string()),
    };
    let channel_text = js_string(channel_value);
    let channel = channel_value
        .as_str()
        .and_then(Channel::from_name)
        .ok_or_else(|| texts::invalid_channel(&channel_text))?;
    let requested_id = id.and_then(Value::as_str).map(str::to_owned);
    if let Some(fixed) = channel.fixed_id() {
        return Ok(Addressed {
            key: ChannelKey::new(channel, fixed),
            requested_id,
        });
    }
    match id {
        Some(Value::String(text)) => Ok(Addressed {
            key: ChannelKey::new(channel, text.as_str()),
            requested_id,
        }),
        None => Err(texts::invalid_id("undefined")),
        Some(other) => Err(texts::invalid_id(&js_string(other))),
    }
}

/// Candle resolutions as channel ids spell them, indexed by the Kafka enum value.
pub const CANDLE_RESOLUTIONS: [&str; 7] = [
    "1MIN", "5MINS", "15MINS", "30MINS", "1HOUR", "4HOURS", "1DAY",
];

/// Highest subaccount number + 1 accepted on `v4_subaccounts` (serve.md §5.8.1).
const SUBACCOUNT_NUMBER_BOUND: u32 = 128_000;
/// Parent subaccounts are 0…127.
pub const PARENT_COUNT: u32 = 128;

/// Step B.1: whether the id is valid for its channel.
pub fn is_valid_id(key: &ChannelKey, markets: &Markets) -> bool {
    let id = &*key.id;
    match key.channel {
        Channel::Markets | Channel::BlockHeight => true,
        Channel::Orderbook | Channel::Trades => markets.has_ticker(id),
        Channel::Candles => match id.split_once('/') {
            Some((ticker, resolution)) => {
                markets.has_ticker(ticker) && CANDLE_RESOLUTIONS.contains(&resolution)
            }
            None => false,
        },
        Channel::Subaccounts => subaccount_number(id).is_some_and(|n| n < SUBACCOUNT_NUMBER_BOUND),
        Channel::ParentSubaccounts => subaccount_number(id).is_some_and(|n| n < PARENT_COUNT),
    }
}

/// The number of an `address/number` id; `None` unless it is exactly two parts with a decimal
/// second part.
pub fn subaccount_number(id: &str) -> Option<u32> {
    let mut parts = id.split('/');
    let (_address, number, rest) = (parts.next()?, parts.next()?, parts.next());
    if rest.is_some() || number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    number.parse().ok()
}

/// Subscriptions one connection may hold per channel (serve.md §5.5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelLimits {
    pub subaccounts: usize,
    pub parent_subaccounts: usize,
    pub orderbook: usize,
    pub trades: usize,
    pub markets: usize,
    pub candles: usize,
    pub block_height: usize,
}

impl Default for ChannelLimits {
    fn default() -> Self {
        Self {
            subaccounts: 256,
            parent_subaccounts: 256,
            orderbook: 32,
            trades: 32,
            markets: 32,
            candles: 32,
            block_height: 1,
        }
    }
}

impl ChannelLimits {
    pub fn of(&self, channel: Channel) -> usize {
        match channel {
            Channel::Subaccounts => self.subaccounts,
            Channel::ParentSubaccounts => self.parent_subaccounts,
            Channel::Orderbook => self.orderbook,
            Channel::Trades => self.trades,
            Channel::Markets => self.markets,
            Channel::Candles => self.candles,
            Channel::BlockHeight => self.block_height,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn markets() -> Markets {
        Markets::from_rows([
            (0, "BTC-USD".to_string(), -10),
            (1, "ETH-USD".to_string(), -9),
        ])
    }

    #[test]
    fn step_a_errors() {
        let err = |c: Option<Value>, i: Option<Value>| address(c.as_ref(), i.as_ref()).unwrap_err();
        assert_eq!(
            err(None, None),
            "Invalid subscribe message: channel is required"
        );
        assert_eq!(
            err(Some(json!("")), None),
            "Invalid subscribe message: channel is required"
        );
        assert_eq!(err(Some(json!("v4_foo")), None), "Invalid channel: v4_foo");
        assert_eq!(err(Some(json!(5)), None), "Invalid channel: 5");
        assert_eq!(err(Some(json!("v4_trades")), None), "Invalid id: undefined");
        assert_eq!(
            err(Some(json!("v4_trades")), Some(json!(5))),
            "Invalid id: 5"
        );
        assert_eq!(
            err(Some(json!("v4_orderbook")), Some(json!(null))),
            "Invalid id: null"
        );
    }

    #[test]
    fn fixed_id_channels_ignore_the_client_id() {
        let a = address(Some(&json!("v4_markets")), Some(&json!("x"))).unwrap();
        assert_eq!(a.key, ChannelKey::new(Channel::Markets, "v4_markets"));
        assert_eq!(a.requested_id.as_deref(), Some("x"));
        let b = address(Some(&json!("v4_block_height")), None).unwrap();
        assert_eq!(b.key.shown_id(), Some("v4_block_height"));
        assert_eq!(a.key.shown_id(), None);
    }

    #[test]
    fn ids_are_validated_per_channel() {
        let m = markets();
        let valid = |c: Channel, id: &str| is_valid_id(&ChannelKey::new(c, id), &m);
        assert!(valid(Channel::Orderbook, "BTC-USD"));
        assert!(!valid(Channel::Orderbook, "DOGE-USD"));
        assert!(valid(Channel::Candles, "ETH-USD/1MIN"));
        assert!(valid(Channel::Candles, "ETH-USD/1DAY"));
        assert!(!valid(Channel::Candles, "ETH-USD/2MINS"));
        assert!(!valid(Channel::Candles, "ETH-USD"));
        assert!(valid(Channel::Subaccounts, "dydx1abc/0"));
        assert!(valid(Channel::Subaccounts, "dydx1abc/127999"));
        assert!(!valid(Channel::Subaccounts, "dydx1abc/128000"));
        assert!(!valid(Channel::Subaccounts, "dydx1abc/x"));
        assert!(!valid(Channel::Subaccounts, "dydx1abc/1/2"));
        assert!(!valid(Channel::Subaccounts, "dydx1abc"));
        assert!(valid(Channel::ParentSubaccounts, "dydx1abc/127"));
        assert!(!valid(Channel::ParentSubaccounts, "dydx1abc/128"));
    }
}

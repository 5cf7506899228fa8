//! The topic catalogue: every topic the indexer produces to or consumes from, with its
//! production partition count, plus one dead-letter topic per consumed topic.
//!
//! Names are the reference's fixed strings so a dYdX full node can feed us unchanged. Tests put
//! a unique prefix in front (`KafkaSettings::topic_prefix`) so suites never share topics;
//! production leaves the prefix empty.

use std::collections::BTreeMap;
use std::fmt;

/// Suffix appended to a topic's name to form its dead-letter topic.
pub const DEAD_LETTER_SUFFIX: &str = "-dead-letter";

/// Partitions of every dead-letter topic: they are inspected by operators, not scaled.
pub const DEAD_LETTER_PARTITIONS: i32 = 1;

/// A topic of the catalogue (spec ingest §2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Topic {
    ToEnder,
    ToVulcan,
    ToWebsocketsOrderbooks,
    ToWebsocketsSubaccounts,
    ToWebsocketsTrades,
    ToWebsocketsMarkets,
    ToWebsocketsCandles,
    ToWebsocketsBlockHeight,
}

impl Topic {
    /// Every catalogue topic, in the order bazooka creates them.
    pub const ALL: [Topic; 8] = [
        Topic::ToEnder,
        Topic::ToVulcan,
        Topic::ToWebsocketsOrderbooks,
        Topic::ToWebsocketsSubaccounts,
        Topic::ToWebsocketsTrades,
        Topic::ToWebsocketsMarkets,
        Topic::ToWebsocketsCandles,
        Topic::ToWebsocketsBlockHeight,
    ];

    /// The topic's name without any prefix, exactly as the reference spells it.
    pub fn base_name(self) -> &'static str {
        match self {
            Topic::ToEnder => "to-ender",
            Topic::ToVulcan => "to-vulcan",
            Topic::ToWebsocketsOrderbooks => "to-websockets-orderbooks",
            Topic::ToWebsocketsSubaccounts => "to-websockets-subaccounts",
            Topic::ToWebsocketsTrades => "to-websockets-trades",
            Topic::ToWebsocketsMarkets => "to-websockets-markets",
            Topic::ToWebsocketsCandles => "to-websockets-candles",
            Topic::ToWebsocketsBlockHeight => "to-websockets-block-height",
        }
    }

    /// Partitions in production. `to-vulcan` has 210 so vulcan can spread order ids; it must
    /// never change once messages flow, because the partition of an order id depends on it.
    pub fn production_partitions(self) -> i32 {
        match self {
            Topic::ToVulcan => 210,
            Topic::ToWebsocketsSubaccounts => 3,
            _ => 1,
        }
    }

    /// The topic whose base name is `name` (no prefix).
    pub fn from_base_name(name: &str) -> Option<Topic> {
        Topic::ALL.into_iter().find(|t| t.base_name() == name)
    }
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.base_name())
    }
}

/// Resolves catalogue topics to the names used on the broker, applying the prefix.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TopicNames {
    prefix: String,
}

impl TopicNames {
    pub fn new(prefix: impl Into<String>) -> Self {
        Self {
            prefix: prefix.into(),
        }
    }

    pub fn from_settings(settings: &indexer_base::config::KafkaSettings) -> Self {
        Self::new(settings.topic_prefix.clone())
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The broker name of `topic`, e.g. `to-vulcan` or `t1a2b3c4d.to-vulcan` in tests.
    pub fn name(&self, topic: Topic) -> String {
        format!("{}{}", self.prefix, topic.base_name())
    }

    /// The broker name of `topic`'s dead-letter topic, e.g. `to-vulcan-dead-letter`.
    pub fn dead_letter(&self, topic: Topic) -> String {
        format!("{}{}{}", self.prefix, topic.base_name(), DEAD_LETTER_SUFFIX)
    }

    /// The catalogue topic a broker name refers to (main topics only, not dead letters).
    pub fn topic_of(&self, name: &str) -> Option<Topic> {
        name.strip_prefix(self.prefix.as_str())
            .and_then(Topic::from_base_name)
    }
}

/// How many partitions each catalogue topic gets. Production counts unless overridden; local
/// setups usually give every topic one partition.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TopicLayout {
    uniform: Option<i32>,
    overrides: BTreeMap<Topic, i32>,
}

impl TopicLayout {
    /// The production partition counts (ingest §2.1).
    pub fn production() -> Self {
        Self::default()
    }

    /// Every topic with `partitions` partitions (e.g. 1 for a local single broker).
    pub fn uniform(partitions: i32) -> Self {
        Self {
            uniform: Some(partitions),
            overrides: BTreeMap::new(),
        }
    }

    /// This layout with `topic` set to `partitions`.
    pub fn with(mut self, topic: Topic, partitions: i32) -> Self {
        self.overrides.insert(topic, partitions);
        self
    }

    pub fn partitions(&self, topic: Topic) -> i32 {
        self.overrides
            .get(&topic)
            .copied()
            .or(self.uniform)
            .unwrap_or_else(|| topic.production_partitions())
    }
}

impl std::str::FromStr for TopicLayout {
    type Err = String;

    /// `production`, a single count for every topic (`1`), or comma-separated overrides where
    /// `*` sets the rest: `to-vulcan=8,*=1`. For bazooka flags and local setups.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if text.eq_ignore_ascii_case("production") {
            return Ok(Self::production());
        }
        if let Ok(n) = text.parse::<i32>() {
            return positive(n, text).map(Self::uniform);
        }
        let mut layout = Self::production();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, count) = part
                .split_once('=')
                .ok_or_else(|| format!("expected topic=partitions, got {part:?}"))?;
            let count = count
                .trim()
                .parse::<i32>()
                .map_err(|e| format!("bad partition count in {part:?}: {e}"))
                .and_then(|n| positive(n, part))?;
            match name.trim() {
                "*" => layout.uniform = Some(count),
                topic => {
                    let topic = Topic::from_base_name(topic)
                        .ok_or_else(|| format!("unknown topic {topic:?}"))?;
                    layout.overrides.insert(topic, count);
                }
            }
        }
        Ok(layout)
    }
}

fn positive(n: i32, text: &str) -> Result<i32, String> {
    if n > 0 {
        Ok(n)
    } else {
        Err(format!("partition counts must be positive, got {text:?}"))
    }
}

/// One topic the broker should have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicSpec {
    pub name: String,
    pub partitions: i32,
}

/// Every topic the indexer needs: the catalogue under `names`, each followed by its dead-letter
/// topic.
pub fn desired_topics(names: &TopicNames, layout: &TopicLayout) -> Vec<TopicSpec> {
    Topic::ALL
        .into_iter()
        .flat_map(|topic| {
            [
                TopicSpec {
                    name: names.name(topic),
                    partitions: layout.partitions(topic),
                },
                TopicSpec {
                    name: names.dead_letter(topic),
                    partitions: DEAD_LETTER_PARTITIONS,
                },
            ]
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_reference_strings() {
        let names: Vec<&str> = Topic::ALL.iter().map(|t| t.base_name()).collect();
        assert_eq!(
            names,
            [
                "to-ender",
                "to-vulcan",
                "to-websockets-orderbooks",
                "to-websockets-subaccounts",
                "to-websockets-trades",
                "to-websockets-markets",
                "to-websockets-candles",
                "to-websockets-block-height",
            ]
        );
    }

    #[test]
    fn production_partition_counts() {
        let counts: Vec<i32> = Topic::ALL
            .iter()
            .map(|t| t.production_partitions())
            .collect();
        assert_eq!(counts, [1, 210, 1, 3, 1, 1, 1, 1]);
    }

    #[test]
    fn prefix_applies_to_topics_and_dead_letters() {
        let names = TopicNames::new("tabc12345.");
        assert_eq!(names.name(Topic::ToVulcan), "tabc12345.to-vulcan");
        assert_eq!(
            names.dead_letter(Topic::ToEnder),
            "tabc12345.to-ender-dead-letter"
        );
        assert_eq!(
            names.topic_of("tabc12345.to-websockets-trades"),
            Some(Topic::ToWebsocketsTrades)
        );
        assert_eq!(names.topic_of("to-websockets-trades"), None);
        assert_eq!(TopicNames::default().name(Topic::ToEnder), "to-ender");
    }

    #[test]
    fn layout_overrides_win_over_uniform_and_production() {
        let layout = TopicLayout::uniform(1).with(Topic::ToVulcan, 4);
        assert_eq!(layout.partitions(Topic::ToVulcan), 4);
        assert_eq!(layout.partitions(Topic::ToWebsocketsSubaccounts), 1);
        let prod = TopicLayout::production().with(Topic::ToEnder, 2);
        assert_eq!(prod.partitions(Topic::ToEnder), 2);
        assert_eq!(prod.partitions(Topic::ToVulcan), 210);
    }

    #[test]
    fn layouts_parse_from_text() {
        assert_eq!(
            "production".parse::<TopicLayout>().unwrap(),
            TopicLayout::production()
        );
        assert_eq!("1".parse::<TopicLayout>().unwrap(), TopicLayout::uniform(1));
        let mixed: TopicLayout = "to-vulcan=8, *=1".parse().unwrap();
        assert_eq!(mixed.partitions(Topic::ToVulcan), 8);
        assert_eq!(mixed.partitions(Topic::ToWebsocketsSubaccounts), 1);
        let partial: TopicLayout = "to-ender=2".parse().unwrap();
        assert_eq!(partial.partitions(Topic::ToVulcan), 210);
        assert!("to-nowhere=1".parse::<TopicLayout>().is_err());
        assert!("0".parse::<TopicLayout>().is_err());
        assert!("to-vulcan".parse::<TopicLayout>().is_err());
    }

    #[test]
    fn desired_topics_pair_each_topic_with_a_single_partition_dead_letter() {
        let desired = desired_topics(&TopicNames::default(), &TopicLayout::production());
        assert_eq!(desired.len(), 16);
        assert_eq!(
            desired[2],
            TopicSpec {
                name: "to-vulcan".into(),
                partitions: 210
            }
        );
        assert_eq!(
            desired[3],
            TopicSpec {
                name: "to-vulcan-dead-letter".into(),
                partitions: 1
            }
        );
    }
}

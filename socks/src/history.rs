//! Per-channel-id message history (beyond.md §1): duplicate detection by `seq`, a buffer bounded
//! by count and age, and the resume decision (replay what the client missed, or say it cannot).
//!
//! Pure: time comes in as an argument.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::protocol::{Cursor, StreamId};

/// Anything that may carry a position in a stream.
pub trait Sequenced {
    fn cursor(&self) -> Option<&Cursor>;
}

/// How much history each channel id keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryLimits {
    pub max_messages: usize,
    pub max_age: Duration,
}

impl Default for HistoryLimits {
    fn default() -> Self {
        Self {
            max_messages: 1000,
            max_age: Duration::from_secs(60),
        }
    }
}

/// What to do with an arriving sequenced message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Next (or later) in its stream: deliver.
    Fresh,
    /// Its seq was already delivered in this epoch (an outbox replay or a producer retry): drop.
    Duplicate,
    /// A new epoch for its stream (state reset upstream): history of that stream is discarded.
    NewEpoch,
    /// Later than the next expected seq (an earlier message is missing or late): not recorded;
    /// the caller holds it for the reorder window or accepts the gap ([`ChannelHistory::accept_gap`]).
    Gap,
}

/// Why a resume cannot be served by replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Miss {
    /// The client's epoch is not the stream's current one.
    EpochChanged,
    /// Messages after the client's seq are no longer held (count or age bound).
    Evicted,
    /// This instance has not seen a stream the client named, or the client did not name a
    /// stream this instance holds: it cannot vouch that nothing was missed.
    UnknownStream,
}

/// The answer to a resume request.
#[derive(Debug, Clone, PartialEq)]
pub enum Resume<T> {
    /// Replay these (in arrival order), then continue live; `floors` are the positions the
    /// subscription starts from (later live messages at or below them are duplicates).
    Replay {
        items: Vec<Arc<T>>,
        floors: Vec<Cursor>,
    },
    Miss(Miss),
}

#[derive(Debug, Clone)]
struct Latest {
    epoch: Arc<str>,
    seq: u64,
}

/// One channel id's history.
#[derive(Debug)]
pub struct ChannelHistory<T> {
    entries: VecDeque<(Instant, Arc<T>)>,
    latest: HashMap<StreamId, Latest>,
}

impl<T> Default for ChannelHistory<T> {
    fn default() -> Self {
        Self {
            entries: VecDeque::new(),
            latest: HashMap::new(),
        }
    }
}

impl<T: Sequenced> ChannelHistory<T> {
    /// Checks `cursor` against what was delivered and records it when it is the next one (or
    /// the first, or of a new epoch).
    pub fn admit(&mut self, cursor: &Cursor) -> Admission {
        match self.latest.get_mut(&cursor.stream) {
            Some(latest) if *latest.epoch == *cursor.epoch => {
                if cursor.seq <= latest.seq {
                    return Admission::Duplicate;
                }
                if cursor.seq > latest.seq + 1 {
                    return Admission::Gap;
                }
                latest.seq = cursor.seq;
                Admission::Fresh
            }
            Some(latest) => {
                *latest = Latest {
                    epoch: cursor.epoch.as_str().into(),
                    seq: cursor.seq,
                };
                let stream = cursor.stream.clone();
                self.entries
                    .retain(|(_, item)| item.cursor().is_none_or(|c| c.stream != stream));
                Admission::NewEpoch
            }
            None => {
                self.latest.insert(
                    cursor.stream.clone(),
                    Latest {
                        epoch: cursor.epoch.as_str().into(),
                        seq: cursor.seq,
                    },
                );
                Admission::Fresh
            }
        }
    }

    /// Records a message past a gap as delivered (the missing ones are given up on).
    pub fn accept_gap(&mut self, cursor: &Cursor) {
        if let Some(latest) = self.latest.get_mut(&cursor.stream) {
            if *latest.epoch == *cursor.epoch && cursor.seq > latest.seq {
                latest.seq = cursor.seq;
            }
        }
    }

    /// Keeps an admitted sequenced message for later replay.
    pub fn push(&mut self, item: Arc<T>, now: Instant, limits: HistoryLimits) {
        self.entries.push_back((now, item));
        while self.entries.len() > limits.max_messages {
            self.entries.pop_front();
        }
        self.evict_old(now, limits);
    }

    fn evict_old(&mut self, now: Instant, limits: HistoryLimits) {
        while let Some((at, _)) = self.entries.front() {
            if now.duration_since(*at) <= limits.max_age {
                break;
            }
            self.entries.pop_front();
        }
    }

    /// Whether no message is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// The latest position of every stream seen.
    pub fn latest(&self) -> Vec<Cursor> {
        let mut cursors: Vec<Cursor> = self
            .latest
            .iter()
            .map(|(stream, latest)| Cursor {
                stream: stream.clone(),
                epoch: latest.epoch.to_string(),
                seq: latest.seq,
            })
            .collect();
        cursors.sort_by(|a, b| a.stream.cmp(&b.stream));
        cursors
    }

    /// Decides a resume from `cursors` (the client's last position in each stream).
    pub fn resume(&mut self, cursors: &[Cursor], now: Instant, limits: HistoryLimits) -> Resume<T> {
        self.evict_old(now, limits);
        if cursors.is_empty() {
            return Resume::Miss(Miss::UnknownStream);
        }
        let mut needs_from: HashMap<&StreamId, u64> = HashMap::new();
        for cursor in cursors {
            let Some(latest) = self.latest.get(&cursor.stream) else {
                return Resume::Miss(Miss::UnknownStream);
            };
            if *latest.epoch != *cursor.epoch {
                return Resume::Miss(Miss::EpochChanged);
            }
            if cursor.seq < latest.seq {
                needs_from.insert(&cursor.stream, cursor.seq + 1);
            }
        }
        if self
            .latest
            .keys()
            .any(|stream| !cursors.iter().any(|c| &c.stream == stream))
        {
            return Resume::Miss(Miss::UnknownStream);
        }
        for (stream, first_needed) in &needs_from {
            let oldest_held = self
                .entries
                .iter()
                .filter_map(|(_, item)| item.cursor())
                .find(|c| &c.stream == *stream)
                .map(|c| c.seq);
            if oldest_held.is_none_or(|oldest| oldest > *first_needed) {
                return Resume::Miss(Miss::Evicted);
            }
        }
        let items = self
            .entries
            .iter()
            .filter(|(_, item)| {
                item.cursor().is_some_and(|c| {
                    needs_from
                        .get(&c.stream)
                        .is_some_and(|first| c.seq >= *first)
                })
            })
            .map(|(_, item)| Arc::clone(item))
            .collect();
        Resume::Replay {
            items,
            floors: cursors.to_vec(),
        }
    }
}

/// Whether a message at `cursor` is past a subscription's `floors` (its snapshot or resume
/// position). Unsequenced messages and other epochs always pass.
pub fn is_past_floors(floors: &[Cursor], cursor: Option<&Cursor>) -> bool {
    let Some(cursor) = cursor else {
        return true;
    };
    floors
        .iter()
        .find(|floor| floor.stream == cursor.stream)
        .is_none_or(|floor| floor.epoch != cursor.epoch || cursor.seq > floor.seq)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    struct Msg(Cursor);

    impl Sequenced for Msg {
        fn cursor(&self) -> Option<&Cursor> {
            Some(&self.0)
        }
    }

    fn cursor(source: &str, epoch: &str, seq: u64) -> Cursor {
        Cursor {
            stream: StreamId {
                source: Some(source.into()),
                child: None,
            },
            epoch: epoch.into(),
            seq,
        }
    }

    const LIMITS: HistoryLimits = HistoryLimits {
        max_messages: 5,
        max_age: Duration::from_secs(10),
    };

    fn fill(history: &mut ChannelHistory<Msg>, seqs: std::ops::RangeInclusive<u64>, now: Instant) {
        for seq in seqs {
            let c = cursor("vulcan", "e1", seq);
            assert_eq!(history.admit(&c), Admission::Fresh);
            history.push(Arc::new(Msg(c)), now, LIMITS);
        }
    }

    fn seqs(resume: Resume<Msg>) -> Vec<u64> {
        match resume {
            Resume::Replay { items, .. } => items.iter().map(|m| m.0.seq).collect(),
            Resume::Miss(miss) => panic!("expected a replay, got {miss:?}"),
        }
    }

    #[test]
    fn duplicates_and_new_epochs_are_recognised() {
        let mut h = ChannelHistory::<Msg>::default();
        let now = Instant::now();
        fill(&mut h, 1..=3, now);
        assert_eq!(h.admit(&cursor("vulcan", "e1", 3)), Admission::Duplicate);
        assert_eq!(h.admit(&cursor("vulcan", "e1", 2)), Admission::Duplicate);
        assert_eq!(
            h.admit(&cursor("ender", "p1", 1)),
            Admission::Fresh,
            "streams are numbered independently"
        );
        assert_eq!(h.admit(&cursor("vulcan", "e1", 5)), Admission::Gap);
        assert_eq!(
            h.admit(&cursor("vulcan", "e1", 4)),
            Admission::Fresh,
            "a gap is not recorded"
        );
        h.accept_gap(&cursor("vulcan", "e1", 6));
        assert_eq!(h.admit(&cursor("vulcan", "e1", 5)), Admission::Duplicate);
        assert_eq!(h.admit(&cursor("vulcan", "e2", 1)), Admission::NewEpoch);
        assert_eq!(h.len(), 0, "the old epoch's messages are gone");
        assert_eq!(h.admit(&cursor("vulcan", "e2", 1)), Admission::Duplicate);
    }

    #[test]
    fn resume_replays_exactly_what_was_missed() {
        let mut h = ChannelHistory::<Msg>::default();
        let now = Instant::now();
        fill(&mut h, 1..=4, now);
        assert_eq!(
            seqs(h.resume(&[cursor("vulcan", "e1", 2)], now, LIMITS)),
            [3, 4]
        );
        assert_eq!(
            seqs(h.resume(&[cursor("vulcan", "e1", 4)], now, LIMITS)),
            Vec::<u64>::new()
        );
        assert_eq!(
            seqs(h.resume(&[cursor("vulcan", "e1", 9)], now, LIMITS)),
            Vec::<u64>::new(),
            "a client ahead of this instance gets nothing and keeps its floor"
        );
    }

    #[test]
    fn resume_misses_on_epoch_change_eviction_and_unknown_streams() {
        let mut h = ChannelHistory::<Msg>::default();
        let now = Instant::now();
        fill(&mut h, 1..=8, now);
        assert_eq!(
            h.resume(&[cursor("vulcan", "e0", 7)], now, LIMITS),
            Resume::Miss(Miss::EpochChanged)
        );
        // Five held (4..=8): resuming after 2 needs 3, which was evicted by count.
        assert_eq!(
            h.resume(&[cursor("vulcan", "e1", 2)], now, LIMITS),
            Resume::Miss(Miss::Evicted)
        );
        assert_eq!(
            seqs(h.resume(&[cursor("vulcan", "e1", 3)], now, LIMITS)),
            [4, 5, 6, 7, 8]
        );
        assert_eq!(
            h.resume(&[cursor("ender", "p", 1)], now, LIMITS),
            Resume::Miss(Miss::UnknownStream)
        );
        assert_eq!(
            h.resume(&[], now, LIMITS),
            Resume::Miss(Miss::UnknownStream)
        );
    }

    #[test]
    fn resume_misses_when_messages_aged_out() {
        let mut h = ChannelHistory::<Msg>::default();
        let t0 = Instant::now();
        fill(&mut h, 1..=3, t0);
        let later = t0 + Duration::from_secs(11);
        assert_eq!(
            h.resume(&[cursor("vulcan", "e1", 1)], later, LIMITS),
            Resume::Miss(Miss::Evicted)
        );
        assert_eq!(
            seqs(h.resume(&[cursor("vulcan", "e1", 3)], later, LIMITS)),
            Vec::<u64>::new(),
            "nothing missed: nothing needed"
        );
    }

    #[test]
    fn resume_needs_every_stream_of_the_channel() {
        let mut h = ChannelHistory::<Msg>::default();
        let now = Instant::now();
        fill(&mut h, 1..=2, now);
        let e = cursor("ender", "p", 1);
        h.admit(&e);
        h.push(Arc::new(Msg(e)), now, LIMITS);
        assert_eq!(
            h.resume(&[cursor("vulcan", "e1", 1)], now, LIMITS),
            Resume::Miss(Miss::UnknownStream)
        );
        assert_eq!(
            seqs(h.resume(
                &[cursor("vulcan", "e1", 1), cursor("ender", "p", 0)],
                now,
                LIMITS
            )),
            [2, 1]
        );
    }

    #[test]
    fn floors_drop_what_a_snapshot_already_reflects() {
        let floors = [cursor("vulcan", "e1", 5)];
        assert!(!is_past_floors(&floors, Some(&cursor("vulcan", "e1", 5))));
        assert!(is_past_floors(&floors, Some(&cursor("vulcan", "e1", 6))));
        assert!(is_past_floors(&floors, Some(&cursor("vulcan", "e2", 1))));
        assert!(is_past_floors(&floors, Some(&cursor("ender", "e1", 1))));
        assert!(is_past_floors(&floors, None));
    }
}

//! vulcan's Prometheus metrics (names `vulcan_<what>_<unit>`, README "Metrics").

use std::time::Duration;

use crate::decide::Decision;

/// Every processed message, by kind (`place`, `update`, `remove`, `replace`) — `rate()` of it
/// is updates per second.
pub fn decided(kind: &'static str, decision: &Decision) {
    metrics::counter!("vulcan_updates_total", "type" => kind).increment(1);
    for event in &decision.events {
        metrics::counter!("vulcan_events_total", "event" => *event).increment(1);
    }
    if decision.dead_letter.is_some() {
        metrics::counter!("vulcan_dead_lettered_messages_total", "reason" => "no_effect")
            .increment(1);
    }
}

/// A refused message (invalid or undecodable).
pub fn rejected(_reason: &str) {
    metrics::counter!("vulcan_updates_total", "type" => "invalid").increment(1);
    metrics::counter!("vulcan_dead_lettered_messages_total", "reason" => "invalid").increment(1);
}

/// Receive-to-processed time of one message.
pub fn processing_latency(latency: Duration) {
    metrics::histogram!("vulcan_update_processing_seconds").record(latency.as_secs_f64());
}

/// Receive-to-acknowledged time of one message's output.
pub fn publish_latency(latency: Duration) {
    metrics::histogram!("vulcan_update_published_seconds").record(latency.as_secs_f64());
}

pub fn batch(size: usize, elapsed: Duration) {
    metrics::histogram!("vulcan_batch_size").record(size as f64);
    metrics::histogram!("vulcan_batch_processing_seconds").record(elapsed.as_secs_f64());
}

/// Number of price levels per market and side.
pub fn book_depth(ticker: &str, side: &'static str, levels: u64) {
    metrics::gauge!("vulcan_book_depth_levels", "ticker" => ticker.to_string(), "side" => side)
        .set(levels as f64);
}

pub fn retry(what: &'static str) {
    metrics::counter!("vulcan_batch_retries_total", "cause" => what).increment(1);
}

pub fn received() {
    metrics::counter!("vulcan_received_messages_total").increment(1);
}

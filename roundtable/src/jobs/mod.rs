//! The jobs. Each module holds one job: a pure part (what to change, given what was read) and a
//! `Job` implementation doing the reads and writes ops.md §1.4 describes.

pub mod aggregate_trading_rewards;
pub mod cache_orderbook_mid_prices;
pub mod cancel_stale_orders;
pub mod create_pnl_ticks;
pub mod delete_old_firebase_notification_tokens;
pub mod delete_zero_price_levels;
pub mod fast_sync_snapshots;
pub mod fill_totals;
pub mod leaderboard;
pub mod market_updater;
pub mod orderbook_instrumentation;
pub mod pnl_instrumentation;
pub mod refresh_vault_pnl;
pub mod remove_expired_orders;
pub mod remove_old_order_updates;
pub mod subaccount_username_generator;
pub mod track_lag;
pub mod uncross_orderbook;
pub mod update_compliance_data;
pub mod update_compliance_status;
pub mod update_funding_payments;
pub mod update_pnl;
pub mod update_research_environment;

use std::sync::Arc;

use indexer_bus::{BusProducer, OutgoingMessage, Topic};
use indexer_cache::Cache;
use indexer_domain::TradingRewardAggregationPeriod as Period;
use indexer_store::Pools;

use crate::aws::AwsClient;
use crate::catalogue;
use crate::config::{ComplianceProvider, RoundtableSettings};
use crate::scheduler::Job;
use crate::JobError;

/// The connections jobs use.
#[derive(Clone)]
pub struct Deps {
    pub pools: Pools,
    pub cache: Cache,
    pub producer: BusProducer,
    /// Size cap of one Kafka send batch (`KAFKA_MAX_BATCH_WEBSOCKET_MESSAGE_SIZE_BYTES`).
    pub max_batch_bytes: usize,
}

/// The implementation of catalogue job `name`, or `None` when this build has none.
pub fn build(name: &str, settings: &RoundtableSettings, deps: &Deps) -> Option<Arc<dyn Job>> {
    let d = deps.clone();
    let s = settings;
    let job: Arc<dyn Job> = match name {
        catalogue::MARKET_UPDATER => Arc::new(market_updater::MarketUpdater::new(d)),
        catalogue::DELETE_ZERO_PRICE_LEVELS => {
            Arc::new(delete_zero_price_levels::DeleteZeroPriceLevels::new(d))
        }
        catalogue::UNCROSS_ORDERBOOK => Arc::new(uncross_orderbook::UncrossOrderbook::new(
            d,
            s.stale_level_threshold,
        )),
        catalogue::REMOVE_EXPIRED_ORDERS => Arc::new(
            remove_expired_orders::RemoveExpiredOrders::new(d, s.blocks_to_delay_expiry),
        ),
        catalogue::CANCEL_STALE_ORDERS => Arc::new(cancel_stale_orders::CancelStaleOrders::new(
            d,
            s.cancel_stale_orders_batch,
        )),
        catalogue::REMOVE_OLD_ORDER_UPDATES => {
            Arc::new(remove_old_order_updates::RemoveOldOrderUpdates::new(
                d,
                s.old_cached_order_updates_window,
            ))
        }
        catalogue::CACHE_ORDERBOOK_MID_PRICES => {
            Arc::new(cache_orderbook_mid_prices::CacheOrderbookMidPrices::new(d))
        }
        catalogue::CREATE_PNL_TICKS => Arc::new(create_pnl_ticks::CreatePnlTicks::new(
            d,
            create_pnl_ticks::PnlTickSettings {
                interval: s.pnl_tick_interval,
                max_rows_per_insert: s.pnl_tick_max_rows_per_upsert,
                max_accounts_per_run: s.pnl_tick_max_accounts_per_run,
            },
        )),
        catalogue::AGGREGATE_TRADING_REWARDS_DAILY => rewards(d, s, Period::Daily),
        catalogue::AGGREGATE_TRADING_REWARDS_WEEKLY => rewards(d, s, Period::Weekly),
        catalogue::AGGREGATE_TRADING_REWARDS_MONTHLY => rewards(d, s, Period::Monthly),
        catalogue::TRACK_LAG => Arc::new(track_lag::TrackLag::new(d, &s.lag_urls, s.lag_timeout)),
        catalogue::UPDATE_FUNDING_PAYMENTS => {
            Arc::new(update_funding_payments::UpdateFundingPayments::new(
                d,
                s.funding_payments_max_heights_per_run,
            ))
        }
        catalogue::UPDATE_COMPLIANCE_STATUS => Arc::new(
            update_compliance_status::UpdateComplianceStatus::new(d, s.close_only_to_blocked),
        ),
        catalogue::REFRESH_VAULT_PNL => Arc::new(refresh_vault_pnl::RefreshVaultPnl::new(
            d,
            s.vault_pnl_refresh_window,
        )),
        catalogue::LEADERBOARD_PNL_ALL_TIME => board(d, s, leaderboard::TimeSpan::AllTime),
        catalogue::LEADERBOARD_PNL_ONE_DAY => board(d, s, leaderboard::TimeSpan::OneDay),
        catalogue::LEADERBOARD_PNL_SEVEN_DAYS => board(d, s, leaderboard::TimeSpan::SevenDays),
        catalogue::LEADERBOARD_PNL_THIRTY_DAYS => board(d, s, leaderboard::TimeSpan::ThirtyDays),
        catalogue::LEADERBOARD_PNL_ONE_YEAR => board(d, s, leaderboard::TimeSpan::OneYear),
        catalogue::UPDATE_WALLET_TOTAL_VOLUME => Arc::new(fill_totals::UpdateFillTotals::new(
            d,
            fill_totals::FillTotal::WalletVolume,
        )),
        catalogue::UPDATE_AFFILIATE_INFO => Arc::new(fill_totals::UpdateFillTotals::new(
            d,
            fill_totals::FillTotal::AffiliateInfo,
        )),
        catalogue::UPDATE_COMPLIANCE_DATA => compliance_data(d, s)?,
        catalogue::ORDERBOOK_INSTRUMENTATION => {
            Arc::new(orderbook_instrumentation::OrderbookInstrumentation::new(d))
        }
        catalogue::PNL_INSTRUMENTATION => Arc::new(pnl_instrumentation::PnlInstrumentation::new(d)),
        catalogue::DELETE_OLD_FIREBASE_NOTIFICATION_TOKENS => Arc::new(
            delete_old_firebase_notification_tokens::DeleteOldFirebaseNotificationTokens::new(d),
        ),
        catalogue::UPDATE_PNL => Arc::new(update_pnl::UpdatePnl::new(
            d,
            s.funding_payments_max_heights_per_run,
        )),
        catalogue::SUBACCOUNT_USERNAME_GENERATOR => Arc::new(
            subaccount_username_generator::SubaccountUsernameGenerator::new(
                d,
                subaccount_username_generator::UsernameSettings {
                    batch_size: s.username_batch_size,
                    suffix_len: s.username_suffix_len,
                    attempts: s.username_attempts,
                },
            ),
        ),
        catalogue::TAKE_FAST_SYNC_SNAPSHOT => {
            let period = settings
                .job(name)?
                .config
                .schedule
                .period_at(chrono::Utc::now());
            Arc::new(fast_sync_snapshots::TakeFastSyncSnapshot::new(
                snapshot_target(s)?,
                period,
            ))
        }
        catalogue::DELETE_OLD_FAST_SYNC_SNAPSHOTS => Arc::new(
            fast_sync_snapshots::DeleteOldFastSyncSnapshots::new(snapshot_target(s)?),
        ),
        catalogue::UPDATE_RESEARCH_ENVIRONMENT => Arc::new(
            update_research_environment::UpdateResearchEnvironment::new(d, research_target(s)?),
        ),
        _ => return None,
    };
    Some(job)
}

fn snapshot_target(settings: &RoundtableSettings) -> Option<fast_sync_snapshots::SnapshotTarget> {
    let aws = settings.aws.as_ref()?;
    Some(fast_sync_snapshots::SnapshotTarget {
        client: AwsClient::new(aws),
        instance: aws.rds_instance.clone(),
        prefix: aws.fast_sync_prefix.clone(),
    })
}

fn research_target(
    settings: &RoundtableSettings,
) -> Option<update_research_environment::ResearchTarget> {
    let aws = settings.aws.as_ref()?;
    Some(update_research_environment::ResearchTarget {
        client: AwsClient::new(aws),
        instance: aws.rds_instance.clone(),
        fast_sync_prefix: aws.fast_sync_prefix.clone(),
        research: aws.research.clone()?,
        athena: aws.athena.clone(),
        skip_to_athena_table_writing: aws.skip_to_athena_table_writing,
    })
}

fn rewards(deps: Deps, settings: &RoundtableSettings, period: Period) -> Arc<dyn Job> {
    Arc::new(aggregate_trading_rewards::AggregateTradingRewards::new(
        deps,
        period,
        settings.trading_rewards_max_interval,
        settings.trading_rewards_chunk_size,
    ))
}

fn board(deps: Deps, settings: &RoundtableSettings, span: leaderboard::TimeSpan) -> Arc<dyn Job> {
    Arc::new(leaderboard::CreateLeaderboard::new(
        deps,
        span,
        settings.leaderboard_rows_per_upsert,
    ))
}

/// The screening job with the configured provider; `None` without a usable provider.
fn compliance_data(deps: Deps, settings: &RoundtableSettings) -> Option<Arc<dyn Job>> {
    use update_compliance_data::{Blocklist, Placeholder, ScreeningProvider, ScreeningSettings};
    let provider: Arc<dyn ScreeningProvider> = match settings.compliance_provider {
        ComplianceProvider::Blocklist => Arc::new(Blocklist(
            settings.blocked_addresses.iter().cloned().collect(),
        )),
        ComplianceProvider::Placeholder => Arc::new(Placeholder),
        ComplianceProvider::None => return None,
        ComplianceProvider::Elliptic => {
            tracing::warn!("COMPLIANCE_DATA_CLIENT=ELLIPTIC: the Elliptic client is not built in; no screening");
            return None;
        }
    };
    Some(Arc::new(update_compliance_data::UpdateComplianceData::new(
        deps,
        provider,
        ScreeningSettings {
            active_within: settings.active_address_threshold,
            max_age: settings.max_compliance_data_age,
            max_active_age: settings.max_active_compliance_data_age,
            max_per_run: settings.max_compliance_queries_per_run,
            batch_size: settings.compliance_query_batch_size,
            batch_delay: settings.compliance_query_delay,
        },
    )))
}

/// Sends `messages` to `topic` in batches whose payloads (and keys) stay under the configured
/// size cap; every batch is acknowledged before the next is queued.
pub async fn send_in_batches(
    deps: &Deps,
    topic: Topic,
    messages: &[OutgoingMessage],
) -> Result<(), JobError> {
    for batch in size_capped_batches(messages, deps.max_batch_bytes) {
        deps.producer.send_all(topic, batch).await?;
    }
    Ok(())
}

/// Consecutive slices of `messages` each at most `cap` bytes (a single larger message goes
/// alone).
pub fn size_capped_batches(messages: &[OutgoingMessage], cap: usize) -> Vec<&[OutgoingMessage]> {
    let mut batches = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (index, message) in messages.iter().enumerate() {
        let size = message.payload.len() + message.key.as_ref().map_or(0, Vec::len);
        if index > start && bytes + size > cap {
            batches.push(&messages[start..index]);
            start = index;
            bytes = 0;
        }
        bytes += size;
    }
    if start < messages.len() {
        batches.push(&messages[start..]);
    }
    batches
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_respect_the_size_cap_and_keep_order() {
        let message = |n: usize| OutgoingMessage::new(Some(vec![0; 2]), vec![n as u8; 8]);
        let messages: Vec<OutgoingMessage> = (0..5).map(message).collect();
        let batches = size_capped_batches(&messages, 25);
        assert_eq!(
            batches.iter().map(|b| b.len()).collect::<Vec<_>>(),
            vec![2, 2, 1]
        );
        assert_eq!(batches.concat(), messages);
        let one_big = size_capped_batches(&messages[..1], 3);
        assert_eq!(one_big.len(), 1, "an oversized message still goes, alone");
        assert!(size_capped_batches(&[], 10).is_empty());
    }
}

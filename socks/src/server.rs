//! The accept loop (any path is accepted, serve.md §5.1), the connection cap, the batch flush
//! timer and shutdown (every connection closed with 1012).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};
use tokio_util::sync::CancellationToken;

use crate::channels::Channel;
use crate::config::SocksConfig;
use crate::connection;
use crate::hub::Hub;
use crate::markets::MarketDirectory;
use crate::outbound::ConnectionHandle;
use crate::protocol::{close_codes, texts};
use crate::snapshot::SnapshotSource;
use crate::ws;

/// How long a client may take to complete the websocket handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How often history is aged out and the gauges are refreshed.
const SWEEP_INTERVAL: Duration = Duration::from_secs(5);
/// How long shutdown waits for connections to take their close frame.
const CLOSE_GRACE: Duration = Duration::from_secs(3);

/// What every connection shares.
pub struct Context {
    pub hub: Arc<Hub>,
    pub markets: MarketDirectory,
    pub snapshots: Arc<dyn SnapshotSource>,
    pub config: SocksConfig,
}

impl Context {
    pub fn new(
        config: SocksConfig,
        markets: MarketDirectory,
        snapshots: Arc<dyn SnapshotSource>,
    ) -> Arc<Self> {
        Arc::new(Self {
            hub: Hub::new(config.history, config.reorder_window),
            markets,
            snapshots,
            config,
        })
    }
}

/// A running websocket server.
pub struct Server {
    addr: SocketAddr,
    stop: CancellationToken,
    task: JoinHandle<()>,
}

impl Server {
    /// Binds `WS_HOST:WS_PORT` and serves until [`Server::stop`].
    pub async fn bind(ctx: Arc<Context>) -> std::io::Result<Self> {
        let listener = TcpListener::bind((ctx.config.ws_host.as_str(), ctx.config.ws_port)).await?;
        Ok(Self::start(ctx, listener))
    }

    /// Serves on an already bound listener (tests bind port 0).
    pub fn start(ctx: Arc<Context>, listener: TcpListener) -> Self {
        let addr = listener
            .local_addr()
            .expect("a bound listener has an address");
        let stop = CancellationToken::new();
        let task = tokio::spawn(run(ctx, listener, stop.clone()));
        tracing::info!(%addr, "websocket server listening");
        Self { addr, stop, task }
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Closes every connection with 1012 and waits for them (bounded).
    pub async fn stop(self) {
        self.stop.cancel();
        let _ = self.task.await;
    }
}

async fn run(ctx: Arc<Context>, listener: TcpListener, stop: CancellationToken) {
    let live: Arc<Mutex<HashMap<u64, Arc<ConnectionHandle>>>> = Arc::default();
    let serials = AtomicU64::new(0);
    let mut connections = JoinSet::new();
    let timers = tokio::spawn(run_timers(Arc::clone(&ctx)));
    loop {
        let accepted = tokio::select! {
            _ = stop.cancelled() => break,
            Some(_) = connections.join_next(), if !connections.is_empty() => continue,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let count = live.lock().unwrap_or_else(|e| e.into_inner()).len();
        if ctx.config.max_connections.is_some_and(|max| count >= max) {
            metrics::counter!("socks_connections_refused_total").increment(1);
            tracing::debug!(%peer, count, "connection cap reached; refusing");
            drop(stream);
            continue;
        }
        let serial = serials.fetch_add(1, Ordering::Relaxed) + 1;
        connections.spawn(accept(Arc::clone(&ctx), stream, serial, Arc::clone(&live)));
    }
    timers.abort();
    let handles: Vec<Arc<ConnectionHandle>> = live
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .values()
        .cloned()
        .collect();
    tracing::info!(connections = handles.len(), "closing every connection");
    for handle in handles {
        handle.close(close_codes::RESTARTING, texts::RESTARTING_REASON);
    }
    if tokio::time::timeout(CLOSE_GRACE, async {
        while connections.join_next().await.is_some() {}
    })
    .await
    .is_err()
    {
        connections.shutdown().await;
    }
}

async fn accept(
    ctx: Arc<Context>,
    stream: TcpStream,
    serial: u64,
    live: Arc<Mutex<HashMap<u64, Arc<ConnectionHandle>>>>,
) {
    let _ = stream.set_nodelay(true);
    let mut stream = stream;
    let allow_deflate = ctx.config.permessage_deflate;
    let upgrade =
        match tokio::time::timeout(HANDSHAKE_TIMEOUT, ws::accept(&mut stream, allow_deflate)).await
        {
            Ok(Ok(upgrade)) => upgrade,
            Ok(Err(error)) => {
                tracing::debug!(%error, "websocket handshake failed");
                return;
            }
            Err(_) => return,
        };
    let handle = ConnectionHandle::new(
        serial,
        uuid::Uuid::new_v4().to_string(),
        ctx.config.send_queue_frames,
    );
    live.lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(serial, Arc::clone(&handle));
    connection::serve(stream, upgrade, handle, Arc::clone(&ctx)).await;
    live.lock()
        .unwrap_or_else(|e| e.into_inner())
        .remove(&serial);
}

/// The batch flush every `BATCH_SEND_INTERVAL_MS` and the periodic sweep.
async fn run_timers(ctx: Arc<Context>) {
    let mut flush = tokio::time::interval(ctx.config.batch_send_interval);
    flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut sweep = tokio::time::interval(SWEEP_INTERVAL);
    let reorder_period = (ctx.config.reorder_window / 2).max(std::time::Duration::from_millis(5));
    let mut reorder = tokio::time::interval(reorder_period);
    reorder.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = flush.tick() => ctx.hub.flush_batches(),
            _ = reorder.tick(), if !ctx.config.reorder_window.is_zero() => ctx.hub.release_overdue(),
            _ = sweep.tick() => {
                ctx.hub.sweep();
                let stats = ctx.hub.stats();
                for channel in Channel::ALL {
                    let count = stats.subscriptions.get(&channel).copied().unwrap_or(0);
                    metrics::gauge!("socks_subscriptions", "channel" => channel.name()).set(count as f64);
                }
                metrics::gauge!("socks_history_messages").set(stats.history_messages as f64);
                metrics::gauge!("socks_channel_ids").set(stats.channel_ids as f64);
            }
        }
    }
}

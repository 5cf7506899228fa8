//! Graceful shutdown: one [`Shutdown`] per process, triggered by SIGTERM (ECS stopping a task),
//! SIGINT (Ctrl-C) or by the service itself.

use std::fmt::Display;
use std::time::Duration;

use tokio::task::JoinSet;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

use crate::BaseError;

/// Exit status when a second signal forces the process down (128 + SIGINT, as shells report).
const FORCED_EXIT_STATUS: i32 = 130;

/// The shutdown signal of a process. Clones share it: triggering any clone triggers all.
#[derive(Clone, Default, Debug)]
pub struct Shutdown {
    token: CancellationToken,
}

impl Shutdown {
    pub fn new() -> Self {
        Self::default()
    }

    /// Asks everything to stop. Idempotent.
    pub fn trigger(&self) {
        self.token.cancel();
    }

    pub fn is_triggered(&self) -> bool {
        self.token.is_cancelled()
    }

    /// Resolves once shutdown is triggered (at once if it already was). `'static`, so it can be
    /// moved into spawned tasks and `select!` arms.
    pub fn wait(&self) -> WaitForCancellationFutureOwned {
        self.token.clone().cancelled_owned()
    }

    /// A token cancelled on shutdown, for APIs that take one. Cancelling it does not trigger
    /// shutdown for the rest of the process.
    pub fn token(&self) -> CancellationToken {
        self.token.child_token()
    }

    /// Triggers shutdown on the first SIGTERM or SIGINT; a second one exits the process at once
    /// (for a developer pressing Ctrl-C twice). The handlers are installed before this returns,
    /// so a signal arriving right after is not lost. Needs a tokio runtime.
    pub fn listen_for_signals(&self) -> Result<(), BaseError> {
        let mut signals = Signals::install()?;
        let shutdown = self.clone();
        tokio::spawn(async move {
            let name = signals.next().await;
            tracing::info!(signal = name, "shutdown requested");
            shutdown.trigger();
            let name = signals.next().await;
            tracing::warn!(
                signal = name,
                "second signal: exiting without waiting for tasks"
            );
            std::process::exit(FORCED_EXIT_STATUS);
        });
        Ok(())
    }
}

#[cfg(unix)]
struct Signals {
    terminate: tokio::signal::unix::Signal,
    interrupt: tokio::signal::unix::Signal,
}

#[cfg(unix)]
impl Signals {
    fn install() -> Result<Self, BaseError> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Self {
            terminate: signal(SignalKind::terminate()).map_err(BaseError::Signals)?,
            interrupt: signal(SignalKind::interrupt()).map_err(BaseError::Signals)?,
        })
    }

    async fn next(&mut self) -> &'static str {
        tokio::select! {
            _ = self.terminate.recv() => "SIGTERM",
            _ = self.interrupt.recv() => "SIGINT",
        }
    }
}

#[cfg(not(unix))]
struct Signals;

#[cfg(not(unix))]
impl Signals {
    fn install() -> Result<Self, BaseError> {
        Ok(Self)
    }

    async fn next(&mut self) -> &'static str {
        match tokio::signal::ctrl_c().await {
            Ok(()) => "Ctrl-C",
            // Without a signal handler only an explicit trigger stops the process.
            Err(_) => std::future::pending().await,
        }
    }
}

/// How the tasks of a service ended.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Tasks that returned `Ok`.
    pub completed: usize,
    /// Tasks that returned an error or panicked, with the reason.
    pub failed: Vec<String>,
    /// Tasks still running when the grace period ran out; they were aborted.
    pub abandoned: usize,
    /// A task ended before shutdown was requested, which triggered it.
    pub ended_early: bool,
}

impl ShutdownReport {
    /// Every task stopped by itself and without error.
    pub fn is_clean(&self) -> bool {
        self.failed.is_empty() && self.abandoned == 0
    }
}

/// Runs `tasks` until shutdown, then gives them up to `grace` to finish before aborting the rest.
///
/// Tasks are expected to run until shutdown (watching [`Shutdown::wait`] or a
/// [`Shutdown::token`]). One that ends earlier, with or without error, triggers shutdown: a
/// service missing a loop should exit so the orchestrator restarts it.
pub async fn run_until_shutdown<E>(
    shutdown: &Shutdown,
    mut tasks: JoinSet<Result<(), E>>,
    grace: Duration,
) -> ShutdownReport
where
    E: Display + 'static,
{
    let mut report = ShutdownReport::default();
    let stop = shutdown.wait();
    tokio::pin!(stop);
    while !shutdown.is_triggered() {
        tokio::select! {
            _ = &mut stop => break,
            Some(ended) = tasks.join_next(), if !tasks.is_empty() => {
                record(&mut report, ended);
                report.ended_early = true;
                tracing::warn!("a task ended before shutdown was requested; shutting the service down");
                shutdown.trigger();
            }
        }
    }
    let drained = tokio::time::timeout(grace, async {
        while let Some(ended) = tasks.join_next().await {
            record(&mut report, ended);
        }
    })
    .await;
    if drained.is_err() {
        report.abandoned = tasks.len();
        tracing::warn!(
            abandoned = report.abandoned,
            grace_ms = grace.as_millis() as u64,
            "tasks did not stop within the shutdown timeout; aborting them"
        );
        tasks.shutdown().await;
    }
    report
}

fn record<E: Display>(
    report: &mut ShutdownReport,
    ended: Result<Result<(), E>, tokio::task::JoinError>,
) {
    let failure = match ended {
        Ok(Ok(())) => {
            report.completed += 1;
            return;
        }
        Ok(Err(error)) => error.to_string(),
        Err(join_error) if join_error.is_panic() => format!("task panicked: {join_error}"),
        Err(join_error) => format!("task cancelled: {join_error}"),
    };
    tracing::error!(error = %failure, "a service task failed");
    report.failed.push(failure);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn trigger_wakes_every_clone() {
        let shutdown = Shutdown::new();
        let waiter = tokio::spawn(shutdown.clone().wait());
        let token = shutdown.token();
        assert!(!shutdown.is_triggered());
        shutdown.clone().trigger();
        waiter.await.unwrap();
        assert!(token.is_cancelled());
        shutdown.wait().await;
    }

    #[tokio::test]
    async fn cancelling_a_token_does_not_shut_down_the_process() {
        let shutdown = Shutdown::new();
        shutdown.token().cancel();
        assert!(!shutdown.is_triggered());
    }

    #[tokio::test]
    async fn well_behaved_tasks_finish_cleanly() {
        let shutdown = Shutdown::new();
        let mut tasks: JoinSet<Result<(), String>> = JoinSet::new();
        for _ in 0..3 {
            let stop = shutdown.wait();
            tasks.spawn(async move {
                stop.await;
                Ok(())
            });
        }
        shutdown.trigger();
        let report = run_until_shutdown(&shutdown, tasks, Duration::from_secs(30)).await;
        assert_eq!(
            report,
            ShutdownReport {
                completed: 3,
                ..Default::default()
            }
        );
        assert!(report.is_clean());
    }

    #[tokio::test]
    async fn tasks_ignoring_shutdown_are_abandoned_after_the_grace_period() {
        let shutdown = Shutdown::new();
        let mut tasks: JoinSet<Result<(), String>> = JoinSet::new();
        tasks.spawn(std::future::pending());
        shutdown.trigger();
        let report = run_until_shutdown(&shutdown, tasks, Duration::from_millis(50)).await;
        assert_eq!(report.abandoned, 1);
        assert!(!report.is_clean());
    }

    #[tokio::test]
    async fn a_failing_task_triggers_shutdown_and_is_reported() {
        let shutdown = Shutdown::new();
        let mut tasks: JoinSet<Result<(), String>> = JoinSet::new();
        tasks.spawn(async { Err("kafka consumer lost".to_string()) });
        let stop = shutdown.wait();
        tasks.spawn(async move {
            stop.await;
            Ok(())
        });
        let report = run_until_shutdown(&shutdown, tasks, Duration::from_secs(30)).await;
        assert!(shutdown.is_triggered());
        assert!(report.ended_early);
        assert_eq!(report.failed, vec!["kafka consumer lost".to_string()]);
        assert_eq!(report.completed, 1);
    }

    #[tokio::test]
    async fn a_panicking_task_is_a_failure() {
        let shutdown = Shutdown::new();
        let mut tasks: JoinSet<Result<(), String>> = JoinSet::new();
        tasks.spawn(async { panic!("boom") });
        let report = run_until_shutdown(&shutdown, tasks, Duration::from_secs(30)).await;
        assert_eq!(report.failed.len(), 1);
        assert!(report.failed[0].contains("panicked"), "{:?}", report.failed);
    }
}

//! The one error type this crate returns.

use std::net::SocketAddr;

use crate::config::ConfigError;

/// Why the base of a service could not start as asked.
#[derive(Debug, thiserror::Error)]
pub enum BaseError {
    #[error(transparent)]
    Config(#[from] ConfigError),

    #[error(
        "cannot start the admin server on {addr}: port {port} is already in use \
         (set ADMIN_PORT to a free port)",
        port = .addr.port()
    )]
    AdminPortInUse {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },

    #[error("cannot start the admin server on {addr}: {source}")]
    AdminBind {
        addr: SocketAddr,
        #[source]
        source: std::io::Error,
    },

    #[error("invalid admin address {host}:{port}: {reason}")]
    AdminAddress {
        host: String,
        port: u16,
        reason: String,
    },

    #[error("telemetry is already installed in this process ({what}); call telemetry::init once")]
    TelemetryAlreadyInstalled { what: &'static str },

    #[error("cannot set up the Prometheus recorder: {0}")]
    Metrics(String),

    #[error("cannot start the Bugsnag sender thread: {0}")]
    BugsnagWorker(#[source] std::io::Error),

    #[error("cannot listen for shutdown signals: {0}")]
    Signals(#[source] std::io::Error),
}

impl BaseError {
    /// A bind failure, naming the port when it is taken (the usual cause).
    pub(crate) fn bind(addr: SocketAddr, source: std::io::Error) -> Self {
        if source.kind() == std::io::ErrorKind::AddrInUse {
            BaseError::AdminPortInUse { addr, source }
        } else {
            BaseError::AdminBind { addr, source }
        }
    }
}

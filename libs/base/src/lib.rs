//! Base library every service stands on: configuration from the environment, telemetry
//! (tracing, Prometheus metrics, Bugsnag), the admin HTTP server and graceful shutdown.
//!
//! A service starts with [`start`] and ends with [`Service::finish`]; see the crate README for
//! the environment variables, admin endpoints and metric naming convention.

pub mod admin;
pub mod bugsnag;
pub mod config;
mod error;
pub mod service;
pub mod shutdown;
pub mod telemetry;

pub use admin::Readiness;
pub use error::BaseError;
pub use service::{start, Service};
pub use shutdown::Shutdown;

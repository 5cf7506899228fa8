//! Base library every service stands on: configuration from the environment, telemetry
//! (tracing, Prometheus metrics, Bugsnag), the admin HTTP server and graceful shutdown.

pub mod config;

//! comlink: the REST API of the indexer (serve.md §2–§4) over the shared read library
//! `indexer-query`.
//!
//! - [`app`]: route table, OpenAPI document, server and background refreshers;
//! - [`routes`]: one module of handlers per resource;
//! - [`graphql`]: `/v4/graphql` (queries, limits, data loaders, Kafka-fed subscriptions);
//! - [`params`]: query parsing and the validation rules and messages;
//! - [`error`]: every error body;
//! - [`http`], [`rate_limit`], [`compliance`], [`height`]: the cross-cutting behaviour
//!   (routing, headers, logs and metrics; rate limits; compliance and geo checks; `minHeight`
//!   and `X-Indexer-Height`);
//! - [`ctx`], [`state`], [`config`]: per-request context, shared state, settings.

pub mod app;
pub mod auth;
pub mod compliance;
pub mod config;
pub mod ctx;
pub mod error;
pub mod graphql;
pub mod height;
pub mod http;
pub mod params;
pub mod rate_limit;
pub mod response_cache;
pub mod routes;
pub mod state;
pub mod web;

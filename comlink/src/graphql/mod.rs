//! GraphQL (serve.md §6, beyond.md §4): queries over the same query-library reads as REST at
//! `POST /v4/graphql` and `GET /v4/graphql?query=…` (also under `/graphql`), a GraphiQL page on a
//! plain `GET`, the SDL at `/v4/graphql/schema.graphql`, and subscriptions over WebSocket at the
//! same paths (`graphql-transport-ws`, also the legacy `graphql-ws`) fed by the to-websockets
//! Kafka topics.
//!
//! - [`types`]: the object types (wrappers of the query library's response objects);
//! - [`query`]: the `Query` root; [`subscription`]: the `Subscription` root; [`feed`]: Kafka;
//! - [`loaders`]: batching of nested collections; [`scalars`]: `Decimal`, `Height`, …;
//! - [`context`]: the REST request context, argument validation, error mapping.
//!
//! Every operation runs with the REST request context ([`crate::ctx::Ctx`]), so `minHeight` /
//! `X-Min-Height`, `X-Indexer-Height`, compliance checks, request logs, metrics, CORS and the
//! `get` rate limiter behave as on REST.

pub mod context;
pub mod feed;
pub mod loaders;
pub mod query;
pub mod scalars;
pub mod subscription;
pub mod types;

use std::sync::Arc;

use async_graphql::dataloader::DataLoader;
use async_graphql::http::{GraphiQLSource, ALL_WEBSOCKET_PROTOCOLS};
use async_graphql::{Data, EmptyMutation, Schema};
use async_graphql_axum::{GraphQLProtocol, GraphQLRequest, GraphQLResponse, GraphQLWebSocket};
use axum::body::Body;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{FromRequest, FromRequestParts, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::{Method, StatusCode};
use axum::middleware::from_fn_with_state;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{any, get};
use axum::Router;
use indexer_base::config::{ConfigError, Env, KafkaSettings};

use crate::ctx::Ctx;
use crate::rate_limit::Limiter;
use crate::state::AppState;
use feed::LiveFeed;
use loaders::FillsLoader;
use query::Query;
use subscription::Subscription;

/// The schema type.
pub type IndexerSchema = Schema<Query, EmptyMutation, Subscription>;

/// The paths GraphQL answers on (for comlink's case-insensitive routing table).
pub const PATHS: [&str; 4] = [
    "/v4/graphql",
    "/v4/graphql/schema.graphql",
    "/graphql",
    "/graphql/schema.graphql",
];

/// GraphQL settings.
///
/// | Var | Default | Meaning |
/// |---|---|---|
/// | `GRAPHQL_MAX_DEPTH` | 8 | deepest selection accepted |
/// | `GRAPHQL_MAX_COMPLEXITY` | 10000 | fields cost 1, list fields their `limit` |
/// | `GRAPHQL_MAX_ROOT_FIELDS` | 20 | root fields per operation |
/// | `GRAPHQL_MAX_BODY_BYTES` | 65536 | larger request bodies get 413 |
/// | `GRAPHQL_SUBSCRIPTIONS_ENABLED` | true | subscriptions need Kafka too |
/// | `KAFKA_BROKER_URLS` (+ the base Kafka variables) | unset | subscriptions are on only when set |
#[derive(Debug, Clone)]
pub struct GraphqlSettings {
    pub max_depth: usize,
    pub max_complexity: usize,
    pub max_root_fields: usize,
    pub max_body_bytes: usize,
    /// Kafka for subscriptions; `None` turns subscriptions off (they answer an error).
    pub kafka: Option<KafkaSettings>,
}

impl GraphqlSettings {
    pub fn from_env(env: &Env) -> Result<Self, ConfigError> {
        let subscriptions = env.flag("GRAPHQL_SUBSCRIPTIONS_ENABLED", true)?;
        let kafka_configured = env
            .raw("KAFKA_BROKER_URLS")
            .is_some_and(|v| !v.trim().is_empty());
        Ok(Self {
            max_depth: env.get("GRAPHQL_MAX_DEPTH", 8)?,
            max_complexity: env.get("GRAPHQL_MAX_COMPLEXITY", 10_000)?,
            max_root_fields: env.get("GRAPHQL_MAX_ROOT_FIELDS", 20)?,
            max_body_bytes: env.get("GRAPHQL_MAX_BODY_BYTES", 64 * 1024)?,
            kafka: if subscriptions && kafka_configured {
                Some(KafkaSettings::from_env(env)?)
            } else {
                None
            },
        })
    }
}

/// Builds the schema with the configured limits.
pub fn schema(settings: &GraphqlSettings, feed: Option<Arc<LiveFeed>>) -> IndexerSchema {
    Schema::build(Query, EmptyMutation, Subscription)
        .limit_depth(settings.max_depth)
        .limit_complexity(settings.max_complexity)
        .data(feed)
        .finish()
}

/// The SDL of the schema (served at `/v4/graphql/schema.graphql`).
pub fn sdl() -> String {
    Schema::build(Query, EmptyMutation, Subscription)
        .finish()
        .sdl()
}

#[derive(Clone)]
struct Graphql {
    schema: IndexerSchema,
    max_root_fields: usize,
    max_body_bytes: usize,
}

/// The GraphQL routes, rate limited by the `get` limiter. Starts the Kafka feed when
/// subscriptions are configured.
pub fn router(state: &AppState) -> Router<AppState> {
    let settings = &state.settings().graphql;
    let feed = settings.kafka.clone().and_then(|kafka| {
        tokio::runtime::Handle::try_current()
            .ok()
            .map(|_| LiveFeed::start(state.clone(), kafka))
    });
    if feed.is_none() {
        tracing::info!("graphql subscriptions off: no Kafka configured");
    }
    let graphql = Graphql {
        schema: schema(settings, feed),
        max_root_fields: settings.max_root_fields,
        max_body_bytes: settings.max_body_bytes,
    };
    let endpoint = {
        let graphql = graphql.clone();
        any(move |State(state): State<AppState>, request: Request| {
            let graphql = graphql.clone();
            async move { serve(graphql, state, request).await }
        })
    }
    .layer(from_fn_with_state(
        (state.clone(), Limiter::Get),
        crate::rate_limit::limit,
    ));
    let schema_sdl = get(|| async { ([(CONTENT_TYPE, "text/plain; charset=utf-8")], sdl()) });
    Router::new()
        .route("/v4/graphql", endpoint.clone())
        .route("/graphql", endpoint)
        .route("/v4/graphql/schema.graphql", schema_sdl.clone())
        .route("/graphql/schema.graphql", schema_sdl)
}

/// WebSocket upgrade → subscriptions; `GET` without `query` → GraphiQL; else execute.
async fn serve(graphql: Graphql, state: AppState, request: Request) -> Response {
    let (mut parts, body) = request.into_parts();
    let ctx = match Ctx::from_request_parts(&mut parts, &state).await {
        Ok(ctx) => Arc::new(ctx),
        Err(error) => return error.into_response(),
    };
    if parts.headers.contains_key(axum::http::header::UPGRADE) {
        return upgrade(graphql, ctx, parts, &state).await;
    }
    let is_get = parts.method == Method::GET || parts.method == Method::HEAD;
    if is_get && !ctx.query.all("query").iter().any(|q| !q.is_empty()) {
        return graphiql(parts.uri.path()).into_response();
    }
    if parts.method != Method::POST && !is_get {
        return crate::error::route_not_found();
    }
    let bytes = match axum::body::to_bytes(body, graphql.max_body_bytes).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return (
                StatusCode::PAYLOAD_TOO_LARGE,
                format!(
                    "GraphQL request bodies are limited to {} bytes",
                    graphql.max_body_bytes
                ),
            )
                .into_response()
        }
    };
    let request = Request::from_parts(parts, Body::from(bytes));
    let operation =
        match GraphQLRequest::<async_graphql_axum::rejection::GraphQLRejection>::from_request(
            request, &state,
        )
        .await
        {
            Ok(operation) => operation.into_inner(),
            Err(rejection) => return rejection.into_response(),
        };
    if let Some(error) = too_many_root_fields(&operation.query, graphql.max_root_fields) {
        return GraphQLResponse::from(async_graphql::Response::from_errors(vec![error]))
            .into_response();
    }
    let operation = operation
        .data(DataLoader::new(FillsLoader::new(ctx.clone()), tokio::spawn))
        .data(ctx);
    let response = graphql.schema.execute(operation).await;
    record_outcome(&response);
    GraphQLResponse::from(response).into_response()
}

/// serve.md §6.2: at most `max` root fields per operation (each is one read at least).
fn too_many_root_fields(query: &str, max: usize) -> Option<async_graphql::ServerError> {
    let document = async_graphql::parser::parse_query(query).ok()?;
    let most = document
        .operations
        .iter()
        .map(|(_, operation)| operation.node.selection_set.node.items.len())
        .max()?;
    (most > max).then(|| {
        let mut error = async_graphql::ServerError::new(
            format!("Query has {most} root fields; at most {max} are allowed."),
            None,
        );
        let mut extensions = async_graphql::ErrorExtensionValues::default();
        extensions.set("code", "BAD_USER_INPUT");
        error.extensions = Some(extensions);
        error
    })
}

/// GraphQL errors travel with HTTP 200, so the request log and status metrics do not see them:
/// count operations by outcome and errors by code, and log the failures.
fn record_outcome(response: &async_graphql::Response) {
    let outcome = if response.errors.is_empty() {
        "ok"
    } else {
        "error"
    };
    metrics::counter!("comlink_graphql_operations_total", "outcome" => outcome).increment(1);
    for error in &response.errors {
        let code = error
            .extensions
            .as_ref()
            .and_then(|e| e.get("code"))
            .and_then(|v| match v {
                async_graphql::Value::String(code) => Some(code.clone()),
                _ => None,
            })
            .unwrap_or_else(|| "GRAPHQL_VALIDATION_FAILED".to_owned());
        metrics::counter!("comlink_graphql_errors_total", "code" => code.clone()).increment(1);
        tracing::info!(code, message = %error.message, "graphql operation error");
    }
}

/// Serves subscriptions on the upgraded connection with this request's context.
async fn upgrade(
    graphql: Graphql,
    ctx: Arc<Ctx>,
    mut parts: axum::http::request::Parts,
    state: &AppState,
) -> Response {
    let protocol = match GraphQLProtocol::from_request_parts(&mut parts, state).await {
        Ok(protocol) => protocol,
        Err(status) => return status.into_response(),
    };
    let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, state).await {
        Ok(upgrade) => upgrade,
        Err(rejection) => return rejection.into_response(),
    };
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| {
            let mut data = Data::default();
            data.insert(DataLoader::new(FillsLoader::new(ctx.clone()), tokio::spawn));
            data.insert(ctx);
            metrics::gauge!("comlink_graphql_websockets").increment(1.0);
            async move {
                GraphQLWebSocket::new(socket, graphql.schema, protocol)
                    .with_data(data)
                    .serve()
                    .await;
                metrics::gauge!("comlink_graphql_websockets").decrement(1.0);
            }
        })
        .into_response()
}

fn graphiql(path: &str) -> Html<String> {
    Html(
        GraphiQLSource::build()
            .endpoint(path)
            .subscription_endpoint(path)
            .title("Indexer GraphQL")
            .finish(),
    )
}

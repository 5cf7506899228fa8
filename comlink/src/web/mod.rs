//! The live page: one self-contained HTML file (no CDN, works offline) that shows a market's
//! order book, recent trades and a candle chart over socks' websocket, so a person sees the
//! stack working. Served at `/` and `/live`.
//!
//! | Var | Default | Meaning |
//! |---|---|---|
//! | `LIVE_PAGE_WS_URL` | `ws://127.0.0.1:8081/v4/ws` | the websocket the page connects to (`?ws=` in the page's URL overrides it) |

use axum::body::Bytes;
use axum::response::Html;
use axum::routing::get;
use axum::Router;
use indexer_base::config::Env;

/// The page's source; `"__LIVE_PAGE_WS_URL__"` (with its quotes) is replaced by the configured URL.
const LIVE_HTML: &str = include_str!("live.html");
const WS_URL_PLACEHOLDER: &str = "\"__LIVE_PAGE_WS_URL__\"";
pub const DEFAULT_WS_URL: &str = "ws://127.0.0.1:8081/v4/ws";

/// The page's routes, with the websocket URL from `LIVE_PAGE_WS_URL`.
pub fn routes<S: Clone + Send + Sync + 'static>() -> Router<S> {
    let ws_url = Env::process()
        .raw("LIVE_PAGE_WS_URL")
        .filter(|url| !url.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_WS_URL.to_owned());
    routes_with_ws_url(&ws_url)
}

/// The page's routes connecting to `ws_url`.
pub fn routes_with_ws_url<S: Clone + Send + Sync + 'static>(ws_url: &str) -> Router<S> {
    // Rendered once; each response shares the bytes.
    let page = Bytes::from(render(ws_url));
    let serve = move || {
        let page = page.clone();
        async move { Html(page) }
    };
    Router::new()
        .route("/", get(serve.clone()))
        .route("/live", get(serve))
}

/// The page with `ws_url` as a JavaScript string literal (JSON-escaped, `<` escaped so the URL
/// cannot end the script element).
pub fn render(ws_url: &str) -> String {
    let literal = serde_json::to_string(ws_url)
        .expect("a string serialises")
        .replace('<', "\\u003c");
    LIVE_HTML.replacen(WS_URL_PLACEHOLDER, &literal, 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_carries_the_configured_websocket_url_as_a_script_string() {
        let page = render("ws://example.test:9/v4/ws");
        assert!(page.contains(r#"params.get("ws") || "ws://example.test:9/v4/ws""#));
        assert!(!page.contains("__LIVE_PAGE_WS_URL__"));
    }

    #[test]
    fn a_hostile_url_cannot_close_the_script_element() {
        let page = render("ws://x/</script><script>alert(1)</script>\"");
        assert!(!page.contains("</script><script>alert(1)"));
        assert!(page.contains(r#"\u003c/script>"#));
    }

    #[test]
    fn the_page_needs_nothing_from_other_origins() {
        for external in ["http://", "https://", "//cdn", "unpkg", "jsdelivr"] {
            assert!(
                !LIVE_HTML.contains(external),
                "the page loads {external}: it must work offline"
            );
        }
    }
}

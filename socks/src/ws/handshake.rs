//! The opening handshake (RFC 6455 §4.2): any path is accepted (serve.md §5.1); permessage-deflate
//! (RFC 7692) is accepted when offered in a form socks can honour.

use base64::Engine;
use bytes::BytesMut;
use sha1::{Digest, Sha1};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// Largest request head accepted (request line and headers).
const MAX_REQUEST_BYTES: usize = 16 * 1024;
const MAX_HEADERS: usize = 64;
const ACCEPT_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
/// What socks answers to an acceptable permessage-deflate offer (see [`super::deflate`]).
const DEFLATE_RESPONSE: &str =
    "permessage-deflate; server_no_context_takeover; client_no_context_takeover";

/// An upgraded connection's request facts.
#[derive(Debug)]
pub struct Upgrade {
    pub path: String,
    /// Header names in lower case, values as sent.
    pub headers: Vec<(String, String)>,
    /// permessage-deflate was negotiated.
    pub deflate: bool,
    /// Bytes the client sent after its request (the start of its first frames).
    pub leftover: BytesMut,
}

impl Upgrade {
    /// The first value of header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, thiserror::Error)]
pub enum HandshakeError {
    #[error("socket error during the handshake: {0}")]
    Io(#[from] std::io::Error),
    #[error("the client closed before completing its request")]
    Eof,
    #[error("bad upgrade request: {0}")]
    BadRequest(&'static str),
}

/// Reads the upgrade request and answers it: `101` with the negotiated extension, or an HTTP
/// error that says what was wrong.
pub async fn accept<S>(stream: &mut S, allow_deflate: bool) -> Result<Upgrade, HandshakeError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut buf = BytesMut::with_capacity(1024);
    loop {
        if stream.read_buf(&mut buf).await? == 0 {
            return Err(HandshakeError::Eof);
        }
        match parse_request(&buf, allow_deflate) {
            Ok(None) if buf.len() < MAX_REQUEST_BYTES => continue,
            Ok(None) => {
                return refuse(
                    stream,
                    "431 Request Header Fields Too Large",
                    "request too large",
                )
                .await
            }
            Ok(Some((head_len, upgrade, response))) => {
                stream.write_all(response.as_bytes()).await?;
                stream.flush().await?;
                let _ = buf.split_to(head_len);
                return Ok(Upgrade {
                    leftover: buf,
                    ..upgrade
                });
            }
            Err(HandshakeError::BadRequest(why)) if why == VERSION_ERROR => {
                return refuse(
                    stream,
                    "426 Upgrade Required\r\nSec-WebSocket-Version: 13",
                    why,
                )
                .await
            }
            Err(HandshakeError::BadRequest(why)) => {
                return refuse(stream, "400 Bad Request", why).await
            }
            Err(error) => return Err(error),
        }
    }
}

const VERSION_ERROR: &str = "Sec-WebSocket-Version must be 13";

async fn refuse<S>(
    stream: &mut S,
    status: &str,
    why: &'static str,
) -> Result<Upgrade, HandshakeError>
where
    S: AsyncWrite + Unpin,
{
    let response = format!(
        "HTTP/1.1 {status}\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{why}",
        why.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.flush().await;
    Err(HandshakeError::BadRequest(why))
}

type Parsed = (usize, Upgrade, String);

/// Parses a complete request head (`None`: incomplete) into the upgrade and the `101` response.
fn parse_request(buf: &[u8], allow_deflate: bool) -> Result<Option<Parsed>, HandshakeError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    let head_len = match request.parse(buf) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err(HandshakeError::BadRequest("malformed HTTP request")),
    };
    if request.method != Some("GET") {
        return Err(HandshakeError::BadRequest(
            "the upgrade request must be a GET",
        ));
    }
    let headers: Vec<(String, String)> = request
        .headers
        .iter()
        .map(|h| {
            (
                h.name.to_ascii_lowercase(),
                String::from_utf8_lossy(h.value).into_owned(),
            )
        })
        .collect();
    let values = |name: &'static str| header_values(&headers, name);
    let has_token = |name: &'static str, token: &str| {
        values(name).any(|v| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    };
    if !has_token("upgrade", "websocket") {
        return Err(HandshakeError::BadRequest("missing Upgrade: websocket"));
    }
    if !has_token("connection", "upgrade") {
        return Err(HandshakeError::BadRequest("missing Connection: Upgrade"));
    }
    if values("sec-websocket-version").next().map(str::trim) != Some("13") {
        return Err(HandshakeError::BadRequest(VERSION_ERROR));
    }
    let Some(key) = values("sec-websocket-key").next().map(str::trim) else {
        return Err(HandshakeError::BadRequest("missing Sec-WebSocket-Key"));
    };
    let accept_key = accept_key(key);
    let deflate = if allow_deflate {
        negotiate_deflate(values("sec-websocket-extensions"))
    } else {
        None
    };
    let mut response = format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {accept_key}\r\n"
    );
    if let Some(extension) = &deflate {
        response.push_str(&format!("Sec-WebSocket-Extensions: {extension}\r\n"));
    }
    response.push_str("\r\n");
    let upgrade = Upgrade {
        path: request.path.unwrap_or("/").to_string(),
        deflate: deflate.is_some(),
        headers,
        leftover: BytesMut::new(),
    };
    Ok(Some((head_len, upgrade, response)))
}

fn header_values<'a>(
    headers: &'a [(String, String)],
    name: &'a str,
) -> impl Iterator<Item = &'a str> {
    headers
        .iter()
        .filter(move |(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

fn accept_key(key: &str) -> String {
    let mut sha = Sha1::new();
    sha.update(key.as_bytes());
    sha.update(ACCEPT_GUID.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(sha.finalize())
}

/// The response to the first permessage-deflate offer socks can honour (RFC 7692 §7.1), if any.
///
/// socks always answers `server_no_context_takeover; client_no_context_takeover` (a server may add
/// both unasked). An offer is declined when it limits the server's window below 15 bits (the
/// compressor uses a 32 KiB window) or carries a parameter RFC 7692 does not define or repeats one.
pub fn negotiate_deflate<'a>(header_values: impl Iterator<Item = &'a str>) -> Option<String> {
    header_values
        .flat_map(|value| value.split(','))
        .find_map(|offer| {
            let mut parts = offer.split(';').map(str::trim);
            if !parts.next()?.eq_ignore_ascii_case("permessage-deflate") {
                return None;
            }
            let mut seen: Vec<String> = Vec::new();
            let mut response = DEFLATE_RESPONSE.to_string();
            for param in parts.filter(|p| !p.is_empty()) {
                let (name, value) = match param.split_once('=') {
                    Some((n, v)) => (n.trim(), Some(v.trim().trim_matches('"'))),
                    None => (param, None),
                };
                let name = name.to_ascii_lowercase();
                if seen.contains(&name) {
                    return None;
                }
                let acceptable = match (name.as_str(), value) {
                    ("server_no_context_takeover" | "client_no_context_takeover", None) => true,
                    ("server_max_window_bits", Some("15")) => {
                        response.push_str("; server_max_window_bits=15");
                        true
                    }
                    ("client_max_window_bits", None) => true,
                    ("client_max_window_bits", Some(bits)) => {
                        bits.parse::<u8>().is_ok_and(|b| (8..=15).contains(&b))
                    }
                    _ => false,
                };
                if !acceptable {
                    return None;
                }
                seen.push(name);
            }
            Some(response)
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_accept_key_is_the_rfc_example() {
        assert_eq!(
            accept_key("dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn deflate_offers_of_browsers_and_libraries_are_accepted() {
        for offer in [
            "permessage-deflate; client_max_window_bits",
            "permessage-deflate",
            "permessage-deflate; server_max_window_bits=15; client_max_window_bits=12",
            "x-webkit-deflate-frame, permessage-deflate; client_no_context_takeover",
        ] {
            let answer = negotiate_deflate([offer].into_iter()).expect(offer);
            assert!(answer.starts_with(DEFLATE_RESPONSE), "{answer}");
        }
    }

    #[test]
    fn offers_socks_cannot_honour_are_declined_or_the_next_one_taken() {
        for offer in [
            "permessage-deflate; server_max_window_bits=10",
            "permessage-deflate; client_max_window_bits=20",
            "permessage-deflate; mystery",
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            "x-webkit-deflate-frame",
        ] {
            assert_eq!(negotiate_deflate([offer].into_iter()), None, "{offer}");
        }
        let fallback = "permessage-deflate; server_max_window_bits=10, permessage-deflate";
        assert_eq!(
            negotiate_deflate([fallback].into_iter()).as_deref(),
            Some(DEFLATE_RESPONSE)
        );
    }

    #[test]
    fn a_request_upgrades_with_headers_and_leftover_kept() {
        let request = "GET /v4/ws?x=1 HTTP/1.1\r\nHost: a\r\nUpgrade: WebSocket\r\nConnection: keep-alive, Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nCF-IPCountry: US\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n";
        let (len, upgrade, response) = parse_request(request.as_bytes(), true).unwrap().unwrap();
        assert_eq!(len, request.len());
        assert_eq!(upgrade.path, "/v4/ws?x=1");
        assert_eq!(upgrade.header("cf-ipcountry"), Some("US"));
        assert!(upgrade.deflate);
        assert!(response.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
        let (_, plain, response) = parse_request(request.as_bytes(), false).unwrap().unwrap();
        assert!(!plain.deflate);
        assert!(!response.contains("Extensions"));
    }

    #[test]
    fn requests_that_are_not_upgrades_are_refused_with_the_reason() {
        let no_key = "GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n\r\n";
        let plain_get = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";
        let old = "GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 8\r\nSec-WebSocket-Key: a\r\n\r\n";
        for (request, why) in [
            (no_key, "missing Sec-WebSocket-Key"),
            (plain_get, "missing Upgrade: websocket"),
            (old, VERSION_ERROR),
        ] {
            match parse_request(request.as_bytes(), true) {
                Err(HandshakeError::BadRequest(got)) => assert_eq!(got, why),
                other => panic!("{request}: {other:?}"),
            }
        }
        assert!(parse_request(b"GET / HTTP/1.1\r\nHost", true)
            .unwrap()
            .is_none());
    }
}

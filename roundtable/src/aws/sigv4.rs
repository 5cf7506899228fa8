//! AWS Signature Version 4 for HTTP requests (the `Authorization` header), as documented in
//! "Create a signed AWS API request". Only what this crate sends: a method, a URL, a few
//! headers and a body held in memory.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use super::Credentials;

const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// What is signed: the request as it goes on the wire.
pub struct Request<'a> {
    pub method: &'a str,
    pub url: &'a reqwest::Url,
    /// Headers besides `host`, `x-amz-date` and `x-amz-security-token` (added here); names in
    /// any case.
    pub headers: &'a [(String, String)],
    pub body: &'a [u8],
}

/// Where the signature is valid: region and service (e.g. `us-east-1`, `rds`).
pub struct Scope<'a> {
    pub region: &'a str,
    pub service: &'a str,
}

/// The headers to add to the request: `x-amz-date`, `x-amz-security-token` (with temporary
/// credentials) and `authorization`.
pub fn sign(
    request: &Request<'_>,
    scope: &Scope<'_>,
    credentials: &Credentials,
    now: DateTime<Utc>,
) -> Vec<(String, String)> {
    let amz_date = now.format("%Y%m%dT%H%M%SZ").to_string();
    let date = &amz_date[..8];
    let mut headers: Vec<(String, String)> = request
        .headers
        .iter()
        .map(|(name, value)| (name.to_ascii_lowercase(), value.trim().to_string()))
        .collect();
    headers.push(("host".into(), host_of(request.url)));
    headers.push(("x-amz-date".into(), amz_date.clone()));
    if let Some(token) = &credentials.session_token {
        headers.push(("x-amz-security-token".into(), token.clone()));
    }
    headers.sort();
    let signed_headers = headers
        .iter()
        .map(|(name, _)| name.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let canonical = canonical_request(request, &headers, &signed_headers);
    let credential_scope = format!("{date}/{}/{}/aws4_request", scope.region, scope.service);
    let string_to_sign = format!(
        "{ALGORITHM}\n{amz_date}\n{credential_scope}\n{}",
        hex::encode(Sha256::digest(canonical.as_bytes()))
    );
    let key = signing_key(&credentials.secret_access_key, date, scope);
    let signature = hex::encode(hmac(&key, string_to_sign.as_bytes()));
    let mut added = vec![("x-amz-date".to_string(), amz_date)];
    if let Some(token) = &credentials.session_token {
        added.push(("x-amz-security-token".into(), token.clone()));
    }
    added.push((
        "authorization".into(),
        format!(
            "{ALGORITHM} Credential={}/{credential_scope}, SignedHeaders={signed_headers}, Signature={signature}",
            credentials.access_key_id
        ),
    ));
    added
}

/// SHA-256 of a body, hex: S3 wants it in `x-amz-content-sha256` too.
pub fn payload_hash(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

fn canonical_request(request: &Request<'_>, headers: &[(String, String)], signed: &str) -> String {
    let canonical_headers: String = headers
        .iter()
        .map(|(name, value)| format!("{name}:{value}\n"))
        .collect();
    format!(
        "{}\n{}\n{}\n{canonical_headers}\n{signed}\n{}",
        request.method,
        canonical_path(request.url),
        canonical_query(request.url),
        payload_hash(request.body)
    )
}

/// The URL's path as sent (already percent-encoded by `Url`), `/` when empty.
fn canonical_path(url: &reqwest::Url) -> String {
    match url.path() {
        "" => "/".into(),
        path => path.to_string(),
    }
}

/// Query parameters decoded, re-encoded with the RFC 3986 unreserved set and sorted.
fn canonical_query(url: &reqwest::Url) -> String {
    let mut pairs: Vec<(String, String)> = url
        .query_pairs()
        .map(|(k, v)| (uri_encode(&k), uri_encode(&v)))
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// Percent-encodes everything but `A-Z a-z 0-9 - _ . ~`.
pub fn uri_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

fn host_of(url: &reqwest::Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    }
}

fn signing_key(secret: &str, date: &str, scope: &Scope<'_>) -> Vec<u8> {
    let k_date = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k_region = hmac(&k_date, scope.region.as_bytes());
    let k_service = hmac(&k_region, scope.service.as_bytes());
    hmac(&k_service, b"aws4_request")
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes keys of any length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn example_credentials() -> Credentials {
        Credentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
            session_token: None,
        }
    }

    /// `get-vanilla` and `get-vanilla-query-order-key-case` of AWS's SigV4 test suite.
    #[test]
    fn signatures_match_the_aws_test_suite() {
        let now = Utc.with_ymd_and_hms(2015, 8, 30, 12, 36, 0).unwrap();
        let scope = Scope {
            region: "us-east-1",
            service: "service",
        };
        let cases = [
            (
                "https://example.amazonaws.com/",
                "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
            ),
            (
                "https://example.amazonaws.com/?Param2=value2&Param1=value1",
                "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
            ),
        ];
        for (url, expected) in cases {
            let url = reqwest::Url::parse(url).unwrap();
            let request = Request {
                method: "GET",
                url: &url,
                headers: &[],
                body: b"",
            };
            let added = sign(&request, &scope, &example_credentials(), now);
            let authorization = &added.iter().find(|(n, _)| n == "authorization").unwrap().1;
            assert_eq!(
                authorization,
                &format!(
                    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
                     SignedHeaders=host;x-amz-date, Signature={expected}"
                ),
                "{url}"
            );
        }
    }

    #[test]
    fn temporary_credentials_sign_their_session_token() {
        let url = reqwest::Url::parse("https://rds.us-east-1.amazonaws.com/").unwrap();
        let mut credentials = example_credentials();
        credentials.session_token = Some("token".into());
        let request = Request {
            method: "POST",
            url: &url,
            headers: &[],
            body: b"Action=DescribeDBSnapshots",
        };
        let added = sign(
            &request,
            &Scope {
                region: "us-east-1",
                service: "rds",
            },
            &credentials,
            Utc::now(),
        );
        assert!(added.contains(&("x-amz-security-token".into(), "token".into())));
        let authorization = &added.iter().find(|(n, _)| n == "authorization").unwrap().1;
        assert!(authorization.contains("SignedHeaders=host;x-amz-date;x-amz-security-token"));
    }

    #[test]
    fn uri_encoding_keeps_only_unreserved_characters() {
        assert_eq!(uri_encode("a b/c~d=é"), "a%20b%2Fc~d%3D%C3%A9");
    }
}

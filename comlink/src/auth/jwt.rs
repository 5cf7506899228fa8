//! API keys for bots (issue 5 item 4): a JWT signed with the operator's key names a higher rate
//! limit. HS256 (shared secret) and EdDSA (Ed25519 public key) are accepted, each only when its
//! key is configured; no other algorithm (in particular `none`) ever is.
//!
//! Claims read: `exp` (required, unix seconds), `nbf` (optional), `sub` (the key's name: the
//! rate-limit budget follows it instead of the caller's IP), and the limit it grants: `points`
//! (points per window on every limiter) or `tier` (a name looked up in `API_KEY_TIERS`);
//! `points` wins when both are present. A token granting nothing keeps the default limits.

use std::collections::HashMap;

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

/// Why a bearer token was refused (the text is the 401 message).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("Invalid API key: malformed token")]
    Malformed,
    #[error("Invalid API key: algorithm {0} is not accepted")]
    Algorithm(String),
    #[error("Invalid API key: bad signature")]
    Signature,
    #[error("Invalid API key: token has no exp claim")]
    MissingExpiry,
    #[error("Invalid API key: token expired")]
    Expired,
    #[error("Invalid API key: token not valid yet")]
    NotYetValid,
    #[error("Invalid API key: unknown tier {0}")]
    UnknownTier(String),
}

/// The operator's verification keys and named tiers (`API_KEY_JWT_SECRET`,
/// `API_KEY_JWT_ED25519_PUBLIC_KEY`, `API_KEY_TIERS`).
#[derive(Clone, Default)]
pub struct JwtSettings {
    pub hs256_secret: Option<Vec<u8>>,
    pub ed25519_key: Option<ed25519_consensus::VerificationKey>,
    /// Tier name → points per window.
    pub tiers: HashMap<String, u32>,
}

impl std::fmt::Debug for JwtSettings {
    /// Never prints the secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtSettings")
            .field("hs256", &self.hs256_secret.is_some())
            .field("eddsa", &self.ed25519_key.is_some())
            .field("tiers", &self.tiers)
            .finish()
    }
}

/// Invalid JWT settings (reported at start-up).
#[derive(Debug, thiserror::Error)]
pub enum JwtConfigError {
    #[error("API_KEY_JWT_ED25519_PUBLIC_KEY must be 32 bytes in base64 or hex")]
    PublicKey,
    #[error("API_KEY_TIERS entry {0:?} is not name:points")]
    Tier(String),
}

impl JwtSettings {
    /// Builds the settings from the raw variables; `None` when no key is configured (the
    /// feature is off and `Authorization` headers are ignored).
    pub fn from_parts(
        secret: Option<String>,
        public_key: Option<String>,
        tiers: &[String],
    ) -> Result<Option<Self>, JwtConfigError> {
        let hs256_secret = secret.filter(|s| !s.is_empty()).map(String::into_bytes);
        let ed25519_key = match public_key.filter(|k| !k.trim().is_empty()) {
            None => None,
            Some(text) => Some(parse_public_key(text.trim()).ok_or(JwtConfigError::PublicKey)?),
        };
        if hs256_secret.is_none() && ed25519_key.is_none() {
            return Ok(None);
        }
        let tiers = tiers
            .iter()
            .map(|entry| {
                entry
                    .split_once(':')
                    .and_then(|(name, points)| {
                        Some((name.trim().to_owned(), points.trim().parse().ok()?))
                    })
                    .ok_or_else(|| JwtConfigError::Tier(entry.clone()))
            })
            .collect::<Result<_, _>>()?;
        Ok(Some(Self {
            hs256_secret,
            ed25519_key,
            tiers,
        }))
    }

    /// Verifies `token` at `now` (unix seconds) and returns what it grants.
    pub fn verify(&self, token: &str, now: i64) -> Result<ApiKey, TokenError> {
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(TokenError::Malformed);
        };
        let header: Header = decode_json(header)?;
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| TokenError::Malformed)?;
        let (signing_input, _) = token.rsplit_once('.').ok_or(TokenError::Malformed)?;
        self.check_signature(&header.alg, signing_input.as_bytes(), &signature)?;
        let claims: Claims = decode_json(payload)?;
        let expiry = claims.exp.ok_or(TokenError::MissingExpiry)?;
        if now >= expiry {
            return Err(TokenError::Expired);
        }
        if claims.nbf.is_some_and(|nbf| now < nbf) {
            return Err(TokenError::NotYetValid);
        }
        let points = match (claims.points, &claims.tier) {
            (Some(points), _) => Some(points),
            (None, Some(tier)) => Some(
                *self
                    .tiers
                    .get(tier)
                    .ok_or_else(|| TokenError::UnknownTier(tier.clone()))?,
            ),
            (None, None) => None,
        };
        Ok(ApiKey {
            subject: claims.sub,
            points,
        })
    }

    fn check_signature(&self, alg: &str, input: &[u8], signature: &[u8]) -> Result<(), TokenError> {
        match (alg, &self.hs256_secret, &self.ed25519_key) {
            ("HS256", Some(secret), _) => {
                let mut mac = Hmac::<Sha256>::new_from_slice(secret)
                    .expect("HMAC accepts keys of any length");
                mac.update(input);
                mac.verify_slice(signature)
                    .map_err(|_| TokenError::Signature)
            }
            ("EdDSA", _, Some(key)) => {
                let signature = ed25519_consensus::Signature::try_from(signature)
                    .map_err(|_| TokenError::Signature)?;
                key.verify(&signature, input)
                    .map_err(|_| TokenError::Signature)
            }
            (other, ..) => Err(TokenError::Algorithm(other.to_owned())),
        }
    }
}

/// What a valid token grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// The key's name (`sub`); its callers share one rate-limit budget.
    pub subject: Option<String>,
    /// Points per window on every limiter (never below the limiter's default).
    pub points: Option<u32>,
}

#[derive(Deserialize)]
struct Header {
    alg: String,
}

#[derive(Deserialize)]
struct Claims {
    exp: Option<i64>,
    nbf: Option<i64>,
    sub: Option<String>,
    points: Option<u32>,
    tier: Option<String>,
}

fn decode_json<T: serde::de::DeserializeOwned>(part: &str) -> Result<T, TokenError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| TokenError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| TokenError::Malformed)
}

/// 32 raw bytes, in standard base64 or hex.
fn parse_public_key(text: &str) -> Option<ed25519_consensus::VerificationKey> {
    let bytes = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        (0..32)
            .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).ok())
            .collect::<Option<Vec<u8>>>()?
    } else {
        STANDARD.decode(text).ok()?
    };
    ed25519_consensus::VerificationKey::try_from(bytes.as_slice()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hs256(secret: &str, claims: &str) -> String {
        let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256","typ":"JWT"}"#);
        let payload = URL_SAFE_NO_PAD.encode(claims);
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("{header}.{payload}").as_bytes());
        let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("{header}.{payload}.{signature}")
    }

    fn settings() -> JwtSettings {
        JwtSettings::from_parts(Some("s3cret".into()), None, &["pro:500".to_owned()])
            .unwrap()
            .unwrap()
    }

    #[test]
    fn no_key_configured_means_off() {
        assert!(JwtSettings::from_parts(None, Some(" ".into()), &[])
            .unwrap()
            .is_none());
    }

    #[test]
    fn tiers_and_points_are_granted_and_bad_tokens_refused() {
        let s = settings();
        let token = hs256("s3cret", r#"{"sub":"bot","exp":2000,"tier":"pro"}"#);
        assert_eq!(
            s.verify(&token, 1000),
            Ok(ApiKey {
                subject: Some("bot".into()),
                points: Some(500)
            })
        );
        assert_eq!(s.verify(&token, 2000), Err(TokenError::Expired));
        let forged = hs256("other", r#"{"exp":2000,"points":9}"#);
        assert_eq!(s.verify(&forged, 1000), Err(TokenError::Signature));
        let unsigned = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#),
            URL_SAFE_NO_PAD.encode(r#"{"exp":2000}"#)
        );
        assert_eq!(
            s.verify(&unsigned, 1000),
            Err(TokenError::Algorithm("none".into()))
        );
        assert_eq!(s.verify("abc", 1000), Err(TokenError::Malformed));
        let no_exp = hs256("s3cret", r#"{"points":9}"#);
        assert_eq!(s.verify(&no_exp, 1000), Err(TokenError::MissingExpiry));
    }

    #[test]
    fn not_before_and_unknown_tiers_are_refused_and_grantless_tokens_keep_defaults() {
        let s = settings();
        let early = hs256("s3cret", r#"{"exp":2000,"nbf":1500,"points":9}"#);
        assert_eq!(s.verify(&early, 1000), Err(TokenError::NotYetValid));
        assert_eq!(s.verify(&early, 1500).unwrap().points, Some(9));
        let gold = hs256("s3cret", r#"{"exp":2000,"tier":"gold"}"#);
        assert_eq!(
            s.verify(&gold, 1000),
            Err(TokenError::UnknownTier("gold".into()))
        );
        let plain = hs256("s3cret", r#"{"exp":2000}"#);
        assert_eq!(
            s.verify(&plain, 1000),
            Ok(ApiKey {
                subject: None,
                points: None
            })
        );
    }

    #[test]
    fn invalid_settings_are_reported() {
        assert!(JwtSettings::from_parts(None, Some("short".into()), &[]).is_err());
        assert!(JwtSettings::from_parts(Some("k".into()), None, &["pro".to_owned()]).is_err());
    }

    #[test]
    fn eddsa_tokens_verify_against_the_public_key() {
        let signing = ed25519_consensus::SigningKey::from([7u8; 32]);
        let public = STANDARD.encode(signing.verification_key().to_bytes());
        let s = JwtSettings::from_parts(None, Some(public), &[])
            .unwrap()
            .unwrap();
        let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"EdDSA"}"#);
        let payload = URL_SAFE_NO_PAD.encode(r#"{"exp":50,"points":300}"#);
        let input = format!("{header}.{payload}");
        let signature = URL_SAFE_NO_PAD.encode(signing.sign(input.as_bytes()).to_bytes());
        let token = format!("{input}.{signature}");
        assert_eq!(s.verify(&token, 10).unwrap().points, Some(300));
        // An HS256 token is refused when only the EdDSA key is configured.
        let hs = hs256("s3cret", r#"{"exp":50}"#);
        assert_eq!(
            s.verify(&hs, 10),
            Err(TokenError::Algorithm("HS256".into()))
        );
    }
}

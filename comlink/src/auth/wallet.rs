//! Wallet signatures of the P2 POSTs (serve.md §4.4.3, §4.6): the caller proves it holds the
//! address's secp256k1 key, either by signing `message:action"status:timestamp` directly or,
//! from Keplr, with an ADR-036 `sign/MsgSignData` amino document.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use k256::ecdsa::signature::Verifier;
use k256::ecdsa::{Signature, VerifyingKey};

/// How far a signed timestamp may be from the server's clock.
pub const MAX_TIMESTAMP_SKEW_SECONDS: i64 = 30;

/// Why a signature was refused; the texts are the reference's 400 messages.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WalletSignatureError {
    #[error("Address {0} is not a valid dYdX V4 address")]
    NotDydx(String),
    #[error("Address {address} does not correspond to the pubkey provided {pubkey}")]
    PubkeyMismatch { address: String, pubkey: String },
    #[error("Timestamp is not within the valid range of 30 seconds")]
    Timestamp,
    #[error("Signature verification failed")]
    Signature,
    #[error("Keplr signature verification failed")]
    Keplr,
}

/// The signature fields every signed request carries (base64 as sent).
pub struct SignedBy<'a> {
    pub address: &'a str,
    pub pubkey: &'a str,
    pub signed_message: &'a str,
}

impl SignedBy<'_> {
    /// The address must be a `dydx` address derived from the public key.
    fn key(&self) -> Result<VerifyingKey, WalletSignatureError> {
        if !self.address.starts_with("dydx") {
            return Err(WalletSignatureError::NotDydx(self.address.to_owned()));
        }
        let mismatch = || WalletSignatureError::PubkeyMismatch {
            address: self.address.to_owned(),
            pubkey: self.pubkey.to_owned(),
        };
        let bytes = STANDARD.decode(self.pubkey).map_err(|_| mismatch())?;
        let key = VerifyingKey::from_sec1_bytes(&bytes).map_err(|_| mismatch())?;
        let derived = cosmrs::crypto::PublicKey::from(&key)
            .account_id("dydx")
            .map_err(|_| mismatch())?;
        if derived.as_ref() != self.address {
            return Err(mismatch());
        }
        Ok(key)
    }

    fn signature(&self) -> Option<Signature> {
        let bytes = STANDARD.decode(self.signed_message).ok()?;
        Signature::from_slice(&bytes).ok()
    }

    /// A direct signature over `sha256(message + ":" + action + '"' + status + ":" + timestamp)`.
    pub fn verify_direct(
        &self,
        message: &str,
        action: &str,
        current_status: Option<&str>,
        timestamp: i64,
        now: i64,
    ) -> Result<(), WalletSignatureError> {
        let key = self.key()?;
        if (now - timestamp).abs() > MAX_TIMESTAMP_SKEW_SECONDS {
            return Err(WalletSignatureError::Timestamp);
        }
        let signed = direct_payload(message, action, current_status, timestamp);
        let signature = self.signature().ok_or(WalletSignatureError::Signature)?;
        key.verify(signed.as_bytes(), &signature)
            .map_err(|_| WalletSignatureError::Signature)
    }

    /// An ADR-036 amino signature (what Keplr's `signArbitrary` produces) over `message`.
    pub fn verify_keplr(&self, message: &str) -> Result<(), WalletSignatureError> {
        let key = self.key()?;
        let document = adr036_sign_doc(self.address, message);
        let signature = self.signature().ok_or(WalletSignatureError::Keplr)?;
        key.verify(document.as_bytes(), &signature)
            .map_err(|_| WalletSignatureError::Keplr)
    }
}

/// The text a direct signature covers (the literal `"` after the action is the reference's).
pub fn direct_payload(
    message: &str,
    action: &str,
    current_status: Option<&str>,
    timestamp: i64,
) -> String {
    format!(
        "{message}:{action}\"{}:{timestamp}",
        current_status.unwrap_or("")
    )
}

/// The canonical (sorted keys, no spaces) amino JSON of an ADR-036 `MsgSignData`. Written out
/// rather than serialised from a map so the key order cannot depend on serde_json features.
pub fn adr036_sign_doc(signer: &str, message: &str) -> String {
    let quoted = |text: &str| serde_json::Value::from(text).to_string();
    format!(
        concat!(
            r#"{{"account_number":"0","chain_id":"","fee":{{"amount":[],"gas":"0"}},"memo":"","#,
            r#""msgs":[{{"type":"sign/MsgSignData","value":{{"data":{},"signer":{}}}}}],"#,
            r#""sequence":"0"}}"#
        ),
        quoted(&STANDARD.encode(message)),
        quoted(signer)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use k256::ecdsa::signature::Signer;
    use k256::ecdsa::SigningKey;

    fn wallet() -> (SigningKey, String, String) {
        let key = SigningKey::from_bytes(&[9u8; 32].into()).unwrap();
        let public = key.verifying_key().to_encoded_point(true);
        let address = cosmrs::crypto::PublicKey::from(key.verifying_key())
            .account_id("dydx")
            .unwrap()
            .to_string();
        (key, address, STANDARD.encode(public.as_bytes()))
    }

    #[test]
    fn direct_signatures_check_address_time_and_signature() {
        let (key, address, pubkey) = wallet();
        let payload = direct_payload("hello", "CONNECT", None, 1000);
        assert_eq!(payload, "hello:CONNECT\":1000");
        let signature: Signature = key.sign(payload.as_bytes());
        let encoded = STANDARD.encode(signature.to_bytes());
        let signed = SignedBy {
            address: &address,
            pubkey: &pubkey,
            signed_message: &encoded,
        };
        assert_eq!(
            signed.verify_direct("hello", "CONNECT", None, 1000, 1010),
            Ok(())
        );
        assert_eq!(
            signed.verify_direct("hello", "CONNECT", None, 1000, 1031),
            Err(WalletSignatureError::Timestamp)
        );
        assert_eq!(
            signed.verify_direct("hello", "VALID_SURVEY", None, 1000, 1000),
            Err(WalletSignatureError::Signature)
        );
        let other = SignedBy {
            address: "dydx1qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqzzzzzz",
            ..signed
        };
        assert!(matches!(
            other.verify_direct("hello", "CONNECT", None, 1000, 1000),
            Err(WalletSignatureError::PubkeyMismatch { .. })
        ));
        let cosmos = SignedBy {
            address: "cosmos1abc",
            ..signed
        };
        assert_eq!(
            cosmos.verify_direct("hello", "CONNECT", None, 1000, 1000),
            Err(WalletSignatureError::NotDydx("cosmos1abc".into()))
        );
    }

    #[test]
    fn keplr_signatures_cover_the_adr036_document() {
        let (key, address, pubkey) = wallet();
        let document = adr036_sign_doc(&address, "code123");
        assert!(document.starts_with(r#"{"account_number":"0","chain_id":"","fee":{"amount":[],"gas":"0"},"memo":"","msgs":[{"type":"sign/MsgSignData","value":{"data":"Y29kZTEyMw==","signer":"dydx1"#));
        let signature: Signature = key.sign(document.as_bytes());
        let encoded = STANDARD.encode(signature.to_bytes());
        let signed = SignedBy {
            address: &address,
            pubkey: &pubkey,
            signed_message: &encoded,
        };
        assert_eq!(signed.verify_keplr("code123"), Ok(()));
        assert_eq!(
            signed.verify_keplr("code124"),
            Err(WalletSignatureError::Keplr)
        );
    }
}

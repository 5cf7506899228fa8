//! Where AWS credentials come from: the standard environment variables, or, on ECS, the task
//! role's temporary credentials served by the container agent (refreshed before they expire).

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use tokio::sync::Mutex;

use super::AwsError;

/// Signing credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// ECS serves task-role credentials at this address plus
/// `AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`.
const ECS_CREDENTIALS_HOST: &str = "http://169.254.170.2";
/// Temporary credentials are replaced this long before they expire.
const REFRESH_MARGIN: chrono::TimeDelta = chrono::TimeDelta::minutes(5);

/// How to obtain credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialSource {
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, optional `AWS_SESSION_TOKEN`.
    Static(Credentials),
    /// The ECS container agent (`AWS_CONTAINER_CREDENTIALS_RELATIVE_URI` or `..._FULL_URI`).
    Container { url: String },
}

impl CredentialSource {
    /// The source the environment describes: static keys first, then the ECS task role.
    pub fn from_env(env: &indexer_base::config::Env) -> Option<Self> {
        if let (Some(access_key_id), Some(secret_access_key)) = (
            env.raw("AWS_ACCESS_KEY_ID"),
            env.raw("AWS_SECRET_ACCESS_KEY"),
        ) {
            return Some(Self::Static(Credentials {
                access_key_id,
                secret_access_key,
                session_token: env.raw("AWS_SESSION_TOKEN"),
            }));
        }
        if let Some(relative) = env.raw("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI") {
            return Some(Self::Container {
                url: format!("{ECS_CREDENTIALS_HOST}{relative}"),
            });
        }
        env.raw("AWS_CONTAINER_CREDENTIALS_FULL_URI")
            .map(|url| Self::Container { url })
    }
}

/// Hands out current credentials, fetching container credentials when needed.
pub struct CredentialProvider {
    source: CredentialSource,
    cached: Mutex<Option<(Credentials, Option<DateTime<Utc>>)>>,
}

/// The container agent's answer.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ContainerCredentials {
    access_key_id: String,
    secret_access_key: String,
    token: Option<String>,
    expiration: Option<DateTime<Utc>>,
}

impl CredentialProvider {
    pub fn new(source: CredentialSource) -> Self {
        CredentialProvider {
            source,
            cached: Mutex::new(None),
        }
    }

    pub async fn current(&self, http: &reqwest::Client) -> Result<Credentials, AwsError> {
        let url = match &self.source {
            CredentialSource::Static(credentials) => return Ok(credentials.clone()),
            CredentialSource::Container { url } => url,
        };
        let mut cached = self.cached.lock().await;
        if let Some((credentials, expires)) = cached.as_ref() {
            if expires.is_none_or(|at| Utc::now() + REFRESH_MARGIN < at) {
                return Ok(credentials.clone());
            }
        }
        let fetched = fetch_container_credentials(http, url).await?;
        *cached = Some(fetched.clone());
        Ok(fetched.0)
    }
}

async fn fetch_container_credentials(
    http: &reqwest::Client,
    url: &str,
) -> Result<(Credentials, Option<DateTime<Utc>>), AwsError> {
    let failed = |reason: String| AwsError::Credentials(format!("{url}: {reason}"));
    let answer: ContainerCredentials = http
        .get(url)
        .timeout(Duration::from_secs(5))
        .send()
        .await
        .and_then(reqwest::Response::error_for_status)
        .map_err(|e| failed(e.to_string()))?
        .json()
        .await
        .map_err(|e| failed(e.to_string()))?;
    Ok((
        Credentials {
            access_key_id: answer.access_key_id,
            secret_access_key: answer.secret_access_key,
            session_token: answer.token,
        },
        answer.expiration,
    ))
}

//! A small AWS client for the optional AWS jobs (ops.md §1.4 #9–11): SigV4-signed requests to
//! RDS (Query API, XML answers), S3 (REST) and Athena (JSON 1.1).
//!
//! Hand-written rather than the AWS SDK crates: the jobs make six kinds of call, and the SDK
//! would add several minutes of build to every CI run. The endpoint can be overridden
//! (`AWS_ENDPOINT_URL`, the variable the AWS SDKs read), so the tests run against a real
//! S3/RDS/Athena-compatible server instead of AWS.
//!
//! | Var | Default |
//! |---|---|
//! | `AWS_REGION` | required by the AWS jobs |
//! | `AWS_ENDPOINT_URL` | unset: `https://<service>.<region>.amazonaws.com` (S3 virtual-hosted style) |
//! | `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY` / `AWS_SESSION_TOKEN` | unset: the ECS task role (`AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`) |
//! | `RDS_INSTANCE_NAME` | required by the AWS jobs |
//! | `S3_BUCKET_ARN`, `KMS_KEY_ARN`, `ECS_TASK_ROLE_ARN` | required by update_research_environment |
//! | `FAST_SYNC_SNAPSHOT_IDENTIFIER_PREFIX` | fast-sync |
//! | `ATHENA_CATALOG_NAME` / `ATHENA_DATABASE_NAME` / `ATHENA_WORKING_GROUP` | AwsDataCatalog / default / primary |
//! | `SKIP_TO_ATHENA_TABLE_WRITING` | false |

pub mod athena;
mod credentials;
pub mod rds;
pub mod s3;
pub mod sigv4;

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use indexer_base::config::{ConfigError, Env};

pub use credentials::{CredentialProvider, CredentialSource, Credentials};

/// Why an AWS call failed.
#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    #[error("AWS {service}: request failed: {reason}")]
    Transport {
        service: &'static str,
        reason: String,
    },
    #[error("AWS {service} answered {status}: {body}")]
    Status {
        service: &'static str,
        status: u16,
        body: String,
    },
    #[error("AWS {service}: unreadable answer: {reason}")]
    Answer {
        service: &'static str,
        reason: String,
    },
    #[error("AWS credentials: {0}")]
    Credentials(String),
}

/// What the AWS jobs need to know. Present only when `AWS_REGION` and `RDS_INSTANCE_NAME` are
/// set and credentials are available.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsSettings {
    pub region: String,
    pub endpoint_url: Option<String>,
    pub credentials: CredentialSource,
    pub rds_instance: String,
    pub fast_sync_prefix: String,
    /// `S3_BUCKET_ARN`, `KMS_KEY_ARN`, `ECS_TASK_ROLE_ARN`: the research export's needs.
    pub research: Option<ResearchSettings>,
    pub athena: AthenaSettings,
    pub skip_to_athena_table_writing: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResearchSettings {
    pub bucket: String,
    pub kms_key_arn: String,
    pub task_role_arn: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AthenaSettings {
    pub catalog: String,
    pub database: String,
    pub work_group: String,
}

impl AwsSettings {
    /// `Ok(None)` when the environment does not describe an AWS account (the AWS jobs are then
    /// not scheduled); an error only for a malformed value.
    pub fn from_env(env: &Env) -> Result<Option<Self>, ConfigError> {
        let (Some(region), Some(rds_instance), Some(credentials)) = (
            env.raw("AWS_REGION"),
            env.raw("RDS_INSTANCE_NAME"),
            CredentialSource::from_env(env),
        ) else {
            return Ok(None);
        };
        let research = match (
            env.raw("S3_BUCKET_ARN"),
            env.raw("KMS_KEY_ARN"),
            env.raw("ECS_TASK_ROLE_ARN"),
        ) {
            (Some(arn), Some(kms_key_arn), Some(task_role_arn)) => Some(ResearchSettings {
                bucket: bucket_of(&arn).map_err(|reason| ConfigError::Invalid {
                    var: "S3_BUCKET_ARN".into(),
                    value: arn.clone(),
                    reason,
                })?,
                kms_key_arn,
                task_role_arn,
            }),
            _ => None,
        };
        Ok(Some(AwsSettings {
            region,
            endpoint_url: env.raw("AWS_ENDPOINT_URL"),
            credentials,
            rds_instance,
            fast_sync_prefix: env
                .raw("FAST_SYNC_SNAPSHOT_IDENTIFIER_PREFIX")
                .unwrap_or_else(|| "fast-sync".into()),
            research,
            athena: AthenaSettings {
                catalog: env.get("ATHENA_CATALOG_NAME", "AwsDataCatalog".to_string())?,
                database: env.get("ATHENA_DATABASE_NAME", "default".to_string())?,
                work_group: env.get("ATHENA_WORKING_GROUP", "primary".to_string())?,
            },
            skip_to_athena_table_writing: env.flag("SKIP_TO_ATHENA_TABLE_WRITING", false)?,
        }))
    }
}

/// The bucket name of an S3 bucket ARN (`arn:aws:s3:::name`); a bare name is accepted too.
pub fn bucket_of(arn: &str) -> Result<String, String> {
    let name = arn.strip_prefix("arn:aws:s3:::").unwrap_or(arn);
    if name.is_empty() || name.contains(':') || name.contains('/') {
        return Err("expected arn:aws:s3:::<bucket>".into());
    }
    Ok(name.to_string())
}

/// Signs and sends requests for any service.
#[derive(Clone)]
pub struct AwsClient {
    http: reqwest::Client,
    region: String,
    endpoint_url: Option<String>,
    credentials: Arc<CredentialProvider>,
}

/// A request before signing.
pub struct Call<'a> {
    pub service: &'static str,
    pub method: reqwest::Method,
    pub url: reqwest::Url,
    pub headers: Vec<(String, String)>,
    pub body: &'a [u8],
}

/// A successful answer.
pub struct Answer {
    pub status: u16,
    pub body: Vec<u8>,
}

impl AwsClient {
    pub fn new(settings: &AwsSettings) -> Self {
        AwsClient {
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("the HTTP client builds with static settings"),
            region: settings.region.clone(),
            endpoint_url: settings.endpoint_url.clone(),
            credentials: Arc::new(CredentialProvider::new(settings.credentials.clone())),
        }
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    /// The base URL of `service`: the override, or the service's regional endpoint.
    pub fn endpoint(&self, service: &str) -> reqwest::Url {
        let text = match &self.endpoint_url {
            Some(url) => url.clone(),
            None => format!("https://{service}.{}.amazonaws.com/", self.region),
        };
        reqwest::Url::parse(&text).expect("endpoint URLs are valid (checked at start-up)")
    }

    /// Whether S3 must be addressed path-style (`<endpoint>/<bucket>/<key>`): with an endpoint
    /// override; AWS itself gets virtual-hosted style.
    pub fn path_style(&self) -> bool {
        self.endpoint_url.is_some()
    }

    /// Signs and sends `call`; statuses other than 2xx (and 404 when `allow_not_found`) are
    /// errors carrying the body AWS sent.
    pub async fn send(&self, call: Call<'_>, allow_not_found: bool) -> Result<Answer, AwsError> {
        let credentials = self.credentials.current(&self.http).await?;
        let signed = sigv4::sign(
            &sigv4::Request {
                method: call.method.as_str(),
                url: &call.url,
                headers: &call.headers,
                body: call.body,
            },
            &sigv4::Scope {
                region: &self.region,
                service: call.service,
            },
            &credentials,
            Utc::now(),
        );
        let mut request = self
            .http
            .request(call.method, call.url)
            .body(call.body.to_vec());
        for (name, value) in call.headers.iter().chain(&signed) {
            request = request.header(name, value);
        }
        let transport = |e: reqwest::Error| AwsError::Transport {
            service: call.service,
            reason: e.to_string(),
        };
        let response = request.send().await.map_err(transport)?;
        let status = response.status().as_u16();
        let body = response.bytes().await.map_err(transport)?.to_vec();
        if (200..300).contains(&status) || (allow_not_found && status == 404) {
            return Ok(Answer { status, body });
        }
        Err(AwsError::Status {
            service: call.service,
            status,
            body: String::from_utf8_lossy(&body).chars().take(2000).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_need_a_region_an_instance_and_credentials() {
        let env = Env::from_pairs([("AWS_REGION", "us-east-1")]);
        assert_eq!(AwsSettings::from_env(&env).unwrap(), None);
        let env = Env::from_pairs([
            ("AWS_REGION", "us-east-1"),
            ("RDS_INSTANCE_NAME", "indexer"),
            (
                "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
                "/v2/credentials/abc",
            ),
            ("S3_BUCKET_ARN", "arn:aws:s3:::research-bucket"),
            ("KMS_KEY_ARN", "arn:aws:kms:us-east-1:1:key/k"),
            ("ECS_TASK_ROLE_ARN", "arn:aws:iam::1:role/r"),
        ]);
        let settings = AwsSettings::from_env(&env).unwrap().unwrap();
        assert_eq!(
            settings.credentials,
            CredentialSource::Container {
                url: "http://169.254.170.2/v2/credentials/abc".into()
            }
        );
        assert_eq!(settings.research.unwrap().bucket, "research-bucket");
        assert_eq!(settings.fast_sync_prefix, "fast-sync");
        assert_eq!(settings.athena.work_group, "primary");
    }

    #[test]
    fn a_malformed_bucket_arn_is_a_clear_error() {
        let env = Env::from_pairs([
            ("AWS_REGION", "us-east-1"),
            ("RDS_INSTANCE_NAME", "indexer"),
            ("AWS_ACCESS_KEY_ID", "a"),
            ("AWS_SECRET_ACCESS_KEY", "b"),
            ("S3_BUCKET_ARN", "arn:aws:s3:::bucket/with/path"),
            ("KMS_KEY_ARN", "k"),
            ("ECS_TASK_ROLE_ARN", "r"),
        ]);
        let error = AwsSettings::from_env(&env).unwrap_err().to_string();
        assert!(error.contains("S3_BUCKET_ARN"), "{error}");
    }
}

//! The S3 call the research export makes: does an object exist?

use super::{sigv4, AwsClient, AwsError, Call};

const SERVICE: &str = "s3";

/// Whether `bucket` holds `key` (HEAD object; 404 → false).
pub async fn object_exists(client: &AwsClient, bucket: &str, key: &str) -> Result<bool, AwsError> {
    let answer = client
        .send(
            Call {
                service: SERVICE,
                method: reqwest::Method::HEAD,
                url: object_url(client, bucket, key),
                headers: vec![("x-amz-content-sha256".into(), sigv4::payload_hash(b""))],
                body: b"",
            },
            true,
        )
        .await?;
    Ok(answer.status != 404)
}

/// Path-style with an endpoint override, virtual-hosted style on AWS.
pub fn object_url(client: &AwsClient, bucket: &str, key: &str) -> reqwest::Url {
    let encoded_key = key
        .split('/')
        .map(sigv4::uri_encode)
        .collect::<Vec<_>>()
        .join("/");
    if client.path_style() {
        let mut url = client.endpoint(SERVICE);
        let base = url.path().trim_end_matches('/').to_string();
        url.set_path(&format!("{base}/{bucket}/{encoded_key}"));
        url
    } else {
        let text = format!(
            "https://{bucket}.s3.{}.amazonaws.com/{encoded_key}",
            client.region()
        );
        reqwest::Url::parse(&text).expect("bucket names and encoded keys form valid URLs")
    }
}

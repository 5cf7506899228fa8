//! The AWS jobs against a real S3/RDS/Athena-compatible server (moto's standalone server,
//! speaking the same wire protocols as AWS: SigV4-signed Query/REST/JSON requests).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use chrono::TimeDelta;
use common::*;
use indexer_base::config::Env;
use roundtable::aws::{athena, rds, AwsClient, AwsSettings, Call};
use roundtable::jobs::fast_sync_snapshots::{
    DeleteOldFastSyncSnapshots, SnapshotTarget, TakeFastSyncSnapshot,
};
use roundtable::jobs::update_research_environment::{ResearchTarget, UpdateResearchEnvironment};
use roundtable::scheduler::Job;
use serde_json::json;

const INSTANCE: &str = "indexer";
const BUCKET: &str = "research";

/// A moto server on a free port, killed on drop.
struct Moto {
    child: Child,
    url: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The venv with moto (made once; python-env.sh serialises parallel callers).
fn moto_server_binary() -> PathBuf {
    let root = repo_root();
    let venv = root.join("target/aws-test-venv");
    let output = Command::new("bash")
        .arg(root.join("scripts/python-env.sh"))
        .arg(root.join("roundtable/tests/aws/requirements.txt"))
        .arg(&venv)
        .output()
        .expect("flock and bash run");
    assert!(
        output.status.success(),
        "could not install moto (roundtable/tests/aws/requirements.txt):\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    venv.join("bin/moto_server")
}

async fn start_moto() -> Moto {
    let binary = moto_server_binary();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(&binary)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
    let moto = Moto {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let deadline = std::time::Instant::now() + PATIENCE;
    while reqwest::get(format!("{}/moto-api/", moto.url))
        .await
        .is_err()
    {
        assert!(std::time::Instant::now() < deadline, "moto did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    moto
}

fn aws_settings(moto: &Moto) -> AwsSettings {
    let env = Env::from_pairs([
        ("AWS_REGION", "us-east-1"),
        ("AWS_ENDPOINT_URL", moto.url.as_str()),
        ("AWS_ACCESS_KEY_ID", "test-key"),
        ("AWS_SECRET_ACCESS_KEY", "test-secret"),
        ("RDS_INSTANCE_NAME", INSTANCE),
        ("S3_BUCKET_ARN", "arn:aws:s3:::research"),
        (
            "KMS_KEY_ARN",
            "arn:aws:kms:us-east-1:123456789012:key/research",
        ),
        (
            "ECS_TASK_ROLE_ARN",
            "arn:aws:iam::123456789012:role/roundtable",
        ),
    ]);
    AwsSettings::from_env(&env).unwrap().unwrap()
}

/// An RDS Query API call the jobs themselves never make (setting up the account).
async fn rds_action(client: &AwsClient, form: &str) {
    let body = format!("{form}&Version=2014-10-31");
    client
        .send(
            Call {
                service: "rds",
                method: reqwest::Method::POST,
                url: client.endpoint("rds"),
                headers: vec![(
                    "content-type".into(),
                    "application/x-www-form-urlencoded".into(),
                )],
                body: body.as_bytes(),
            },
            false,
        )
        .await
        .unwrap();
}

async fn create_instance(client: &AwsClient) {
    rds_action(
        client,
        &format!(
            "Action=CreateDBInstance&DBInstanceIdentifier={INSTANCE}&DBInstanceClass=db.t3.micro\
             &Engine=postgres&MasterUsername=indexer&MasterUserPassword=password123&AllocatedStorage=20"
        ),
    )
    .await;
}

async fn s3_put(client: &AwsClient, path: &str, body: &[u8]) {
    let mut url = client.endpoint("s3");
    url.set_path(path);
    client
        .send(
            Call {
                service: "s3",
                method: reqwest::Method::PUT,
                url,
                headers: vec![(
                    "x-amz-content-sha256".into(),
                    roundtable::aws::sigv4::payload_hash(body),
                )],
                body,
            },
            false,
        )
        .await
        .unwrap();
}

async fn snapshot_ids(client: &AwsClient) -> Vec<String> {
    let mut ids: Vec<String> = rds::describe_snapshots(client, INSTANCE, Some("manual"))
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn fast_sync_snapshots_are_taken_when_due_and_deleted_when_old() {
    let moto = start_moto().await;
    let settings = aws_settings(&moto);
    let client = AwsClient::new(&settings);
    create_instance(&client).await;
    let target = SnapshotTarget {
        client: client.clone(),
        instance: INSTANCE.into(),
        prefix: "fast-sync".into(),
    };
    let take = TakeFastSyncSnapshot::new(target.clone(), Duration::from_secs(4 * 3600))
        .with_polling(Duration::from_millis(200), 50);

    take.run(&ctx()).await.unwrap();
    let taken = snapshot_ids(&client).await;
    assert_eq!(taken.len(), 1, "{taken:?}");
    assert!(taken[0].starts_with("fast-sync-indexer-20"), "{taken:?}");
    let status = rds::describe_snapshot(&client, &taken[0])
        .await
        .unwrap()
        .unwrap()
        .status;
    assert_eq!(status, "available", "the job waited for the snapshot");

    take.run(&ctx()).await.unwrap();
    assert_eq!(
        snapshot_ids(&client).await,
        taken,
        "not due again within the interval"
    );

    rds::create_snapshot(&client, INSTANCE, "operator-backup")
        .await
        .unwrap();
    DeleteOldFastSyncSnapshots::new(target.clone())
        .run(&ctx())
        .await
        .unwrap();
    assert_eq!(
        snapshot_ids(&client).await.len(),
        2,
        "nothing is a week old yet"
    );

    tokio::time::sleep(Duration::from_millis(1100)).await;
    DeleteOldFastSyncSnapshots::with_max_age(target, TimeDelta::zero())
        .run(&ctx())
        .await
        .unwrap();
    assert_eq!(
        snapshot_ids(&client).await,
        vec!["operator-backup".to_string()],
        "only fast-sync snapshots are deleted"
    );
}

async fn athena_queries(client: &AwsClient) -> Vec<String> {
    let listed = athena::call(client, "ListQueryExecutions", &json!({}))
        .await
        .unwrap();
    let mut queries = Vec::new();
    for id in listed["QueryExecutionIds"].as_array().unwrap() {
        let execution = athena::call(
            client,
            "GetQueryExecution",
            &json!({"QueryExecutionId": id}),
        )
        .await
        .unwrap();
        queries.push(
            execution["QueryExecution"]["Query"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    queries
}

#[tokio::test]
async fn the_newest_snapshot_is_exported_then_described_in_athena() {
    let env = TestEnv::new().await;
    let moto = start_moto().await;
    let settings = aws_settings(&moto);
    let client = AwsClient::new(&settings);
    create_instance(&client).await;
    s3_put(&client, &format!("/{BUCKET}"), b"").await;
    rds::create_snapshot(&client, INSTANCE, "fast-sync-indexer-x")
        .await
        .unwrap();
    let snapshot = rds::create_snapshot(&client, INSTANCE, "daily-1")
        .await
        .unwrap();
    let job = UpdateResearchEnvironment::new(
        env.deps.clone(),
        ResearchTarget {
            client: client.clone(),
            instance: INSTANCE.into(),
            fast_sync_prefix: "fast-sync".into(),
            research: settings.research.clone().unwrap(),
            athena: settings.athena.clone(),
            skip_to_athena_table_writing: false,
        },
    );

    job.run(&ctx()).await.unwrap();
    let exports = rds::describe_export_tasks(&client, None).await.unwrap();
    assert_eq!(exports.len(), 1);
    assert_eq!(exports[0].id, "daily-1");
    assert_eq!(
        exports[0].source_arn, snapshot.arn,
        "the regular snapshot, not the fast-sync one"
    );

    // The export finished but its manifest never reached the bucket: an operator must look.
    let error = job.run(&ctx()).await.unwrap_err().to_string();
    assert!(
        error.contains("daily-1/export_info_daily-1.json"),
        "{error}"
    );
    assert!(athena_queries(&client).await.is_empty());

    s3_put(
        &client,
        &format!("/{BUCKET}/daily-1/export_info_daily-1.json"),
        b"{}",
    )
    .await;
    job.run(&ctx()).await.unwrap();
    let queries = athena_queries(&client).await;
    let database: String = sqlx::query_scalar("SELECT current_database()::text")
        .fetch_one(env.pool())
        .await
        .unwrap();
    let day = snapshot.created_at.unwrap().format("%Y_%m_%d").to_string();
    let fills_table = queries
        .iter()
        .find(|q| q.contains(&format!("`{day}_raw_fills`")))
        .unwrap_or_else(|| panic!("no fills table among {queries:#?}"));
    assert!(
        fills_table.contains(&format!(
            "LOCATION 's3://{BUCKET}/daily-1/{database}/public.fills/'"
        )),
        "{fills_table}"
    );
    assert!(fills_table.contains("`price` string"), "{fills_table}");
    assert!(
        queries.iter().any(
            |q| q.starts_with(&format!("CREATE OR REPLACE VIEW \"{day}_fills\""))
                && q.contains("CAST(\"price\" AS DECIMAL(38, 18))")
        ),
        "a view over the fills"
    );
    assert!(
        !queries.iter().any(|q| q.contains("ender_outbox")),
        "our bookkeeping tables are not exported"
    );
    let tables: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public' \
         AND table_type = 'BASE TABLE' AND table_name NOT IN \
         ('_sqlx_migrations', 'ender_outbox', 'ender_progress', 'channel_sequences')",
    )
    .fetch_one(env.pool())
    .await
    .unwrap();
    assert_eq!(queries.len() as i64, 2 * tables, "a table and a view each");

    job.run(&ctx()).await.unwrap();
    assert_eq!(
        athena_queries(&client).await.len(),
        queries.len(),
        "the tables of an export are created once"
    );
    env.cleanup().await;
}

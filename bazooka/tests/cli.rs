//! The bazooka binary against the real Postgres, Redis and Kafka on loopback.

use std::process::{Command, Output};

use indexer_testkit::db::TestDb;
use indexer_testkit::kafka::TestTopics;

fn bazooka(envs: &[(&str, &str)], args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bazooka"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("LOG_LEVEL", "warn")
        .envs(envs.iter().copied())
        .output()
        .expect("bazooka runs")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test]
async fn migrate_twice_on_an_empty_database_is_idempotent() {
    let db = TestDb::empty().await;
    let env = [("DATABASE_URL", db.url())];

    let first = bazooka(&env, &["migrate"]);
    assert!(first.status.success(), "{}", stderr(&first));
    assert!(stdout(&first).contains("applied"), "{}", stdout(&first));

    let second = bazooka(&env, &["migrate"]);
    assert!(second.status.success(), "{}", stderr(&second));
    assert!(
        stdout(&second).contains("nothing applied"),
        "{}",
        stdout(&second)
    );

    let tables: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tablename IN ('blocks', 'fills', 'orders', 'ender_outbox')",
    )
    .fetch_one(db.pool())
    .await
    .unwrap();
    assert_eq!(tables, 4);
    db.cleanup().await;
}

#[tokio::test]
async fn migrate_creates_a_missing_database() {
    let db = TestDb::empty().await;
    let name = format!("{}_created", db.name());
    let url = format!("postgres://postgres@127.0.0.1:5432/{name}");
    let out = bazooka(&[("DATABASE_URL", &url)], &["migrate"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("created the database"),
        "{}",
        stdout(&out)
    );
    sqlx::query(&format!("DROP DATABASE \"{name}\" WITH (FORCE)"))
        .execute(db.pool())
        .await
        .unwrap();
    db.cleanup().await;
}

#[tokio::test]
async fn clear_db_refuses_in_production_without_force_and_keeps_data() {
    let db = TestDb::new().await;
    sqlx::query("INSERT INTO blocks (\"blockHeight\", time) VALUES (1, now())")
        .execute(db.pool())
        .await
        .unwrap();
    let env = [("DATABASE_URL", db.url()), ("NODE_ENV", "production")];

    let refused = bazooka(&env, &["clear-db"]);
    assert!(!refused.status.success());
    assert!(stderr(&refused).contains("--force"), "{}", stderr(&refused));
    let refused = bazooka(&env, &["clear-db", "--force"]);
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("--confirm production"),
        "{}",
        stderr(&refused)
    );
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM blocks")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(count, 1, "a refused clear must not touch data");

    let done = bazooka(&env, &["clear-db", "--force", "--confirm", "production"]);
    assert!(done.status.success(), "{}", stderr(&done));
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM blocks")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(count, 0);
    db.cleanup().await;
}

#[tokio::test]
async fn clear_redis_in_development_removes_only_indexer_keys_of_its_prefix() {
    let prefix = format!("bazooka-test-{}:", uuid::Uuid::new_v4());
    let client = redis::Client::open("redis://127.0.0.1:6379").unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let _: () = redis::cmd("SET")
        .arg(format!("{prefix}v4/orders/x"))
        .arg("1")
        .query_async(&mut conn)
        .await
        .unwrap();

    let out = bazooka(
        &[("REDIS_KEY_PREFIX", &prefix), ("NODE_ENV", "development")],
        &["clear-redis"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("removed 1 key"), "{}", stdout(&out));
    let exists: bool = redis::cmd("EXISTS")
        .arg(format!("{prefix}v4/orders/x"))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(!exists);
}

#[tokio::test]
async fn create_topics_on_a_fresh_prefix_then_status_reports_them() {
    let topics = TestTopics::unprovisioned();
    let prefix = topics.settings.topic_prefix.clone();
    let db = TestDb::new().await;
    let env = [
        ("KAFKA_TOPIC_PREFIX", prefix.as_str()),
        ("DATABASE_URL", db.url()),
    ];

    let out = bazooka(&env, &["create-topics"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains(&format!("created {prefix}to-vulcan with 210 partition(s)")),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "created {prefix}to-websockets-subaccounts with 3 partition(s)"
        )),
        "{text}"
    );

    let again = bazooka(&env, &["create-topics"]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(
        stdout(&again).contains("no topics to create"),
        "{}",
        stdout(&again)
    );

    let status = bazooka(&env, &["status", "--groups", "ender"]);
    assert!(status.status.success(), "{}", stderr(&status));
    let text = stdout(&status);
    assert!(text.contains("last processed height: none"), "{text}");
    assert!(text.contains(&format!("{prefix}to-ender")), "{text}");
    topics.cleanup().await.unwrap();
    db.cleanup().await;
}

//! Against the real Redis on 127.0.0.1:6379.

use indexer_base::config::{Env, RedisSettings};
use indexer_cache::Cache;

async fn cache_with_prefix(prefix: &str) -> Cache {
    let env = Env::from_pairs([("REDIS_KEY_PREFIX", prefix)]);
    Cache::connect(&RedisSettings::from_env(&env).unwrap())
        .await
        .unwrap()
}

#[tokio::test]
async fn clear_removes_only_its_own_prefix() {
    let mine = cache_with_prefix(&format!("test-{}:", uuid::Uuid::new_v4())).await;
    let other = cache_with_prefix(&format!("test-{}:", uuid::Uuid::new_v4())).await;
    let mut conn = mine.conn();
    for i in 0..25 {
        let _: () = redis::cmd("SET")
            .arg(mine.keys().order(&i.to_string()))
            .arg("x")
            .query_async(&mut conn)
            .await
            .unwrap();
    }
    let other_key = other.keys().order("keep");
    let _: () = redis::cmd("SET")
        .arg(&other_key)
        .arg("y")
        .query_async(&mut conn)
        .await
        .unwrap();

    assert_eq!(mine.clear().await.unwrap(), 25);
    let exists: bool = redis::cmd("EXISTS")
        .arg(mine.keys().order("3"))
        .query_async(&mut conn)
        .await
        .unwrap();
    assert!(!exists);
    let kept: Option<String> = redis::cmd("GET")
        .arg(&other_key)
        .query_async(&mut conn)
        .await
        .unwrap();
    assert_eq!(kept.as_deref(), Some("y"));
    other.clear().await.unwrap();
}

#[tokio::test]
async fn unreachable_redis_is_a_clear_error() {
    let env = Env::from_pairs([("REDIS_URL", "redis://127.0.0.1:1")]);
    let err = Cache::connect(&RedisSettings::from_env(&env).unwrap())
        .await
        .err()
        .expect("must fail");
    assert!(err.to_string().contains("127.0.0.1:1"), "{err}");
}

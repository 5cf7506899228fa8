//! `start` in-process: one service per test process (telemetry is process-wide).

use indexer_base::config::Env;
use indexer_base::service::start_with_env;
use reqwest::StatusCode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_serves_admin_routes_and_finish_stops_them() {
    let env = Env::from_pairs([
        ("ADMIN_HOST", "127.0.0.1"),
        ("ADMIN_PORT", "0"),
        ("SERVICE_NAME", "comlink"),
    ]);
    let service = start_with_env(&env, "ignored-default", 9004).await.unwrap();
    assert_eq!(service.settings().service_name, "comlink");
    let addr = service.admin_addr();
    assert_ne!(addr.port(), 0, "the real bound port is reported");

    let healthz = reqwest::get(format!("http://{addr}/healthz"))
        .await
        .unwrap();
    assert_eq!(healthz.status(), StatusCode::OK);

    service.readiness().set_ready("api_listening", false);
    let readyz = reqwest::get(format!("http://{addr}/readyz")).await.unwrap();
    assert_eq!(readyz.status(), StatusCode::SERVICE_UNAVAILABLE);

    let metrics = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("comlink_build_info"), "{metrics}");

    let shutdown = service.shutdown();
    let waiter = tokio::spawn(shutdown.clone().wait());
    shutdown.trigger();
    waiter.await.unwrap();
    service.finish().await;
    assert!(
        tokio::net::TcpStream::connect(addr).await.is_err(),
        "admin server still listening"
    );
}

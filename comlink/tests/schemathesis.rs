//! schemathesis (PyPI) against the running server's own `/v4/openapi.json`: generated requests
//! for every documented operation (valid and invalid inputs), and every response must be no 5xx,
//! carry a documented status code and content type, and match the documented schema (issue 5
//! item 5).
//!
//! The data comes through the real ingestion code (a short devnet chain through ender, a book
//! through vulcan). The run is bounded (`SCHEMATHESIS_MAX_EXAMPLES` per operation, default 15;
//! a fixed seed, so a failure reproduces). Set `SCHEMATHESIS_REPORT_DIR` to keep its JUnit report.

mod common;

use common::ingest::{self, owner_address, Ender};
use common::python::{python, python_dir};
use common::{Seed, TestApp};
use devnet::chain::{ChainConfig, MarketSpec, SimulatedChain};
use indexer_domain::ids::subaccount_uuid;
use indexer_testkit::db::TestDb;

const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
                      response_schema_conformance";

async fn seed(app: &TestApp) {
    let pool = app.db.pool();
    let mut chain = SimulatedChain::new(ChainConfig {
        markets: vec![MarketSpec::btc_usd(), MarketSpec::eth_usd()],
        funding_interval_blocks: 5,
        ..ChainConfig::default()
    });
    let mut ender = Ender::new(pool).await;
    ender.run(&mut chain, 12).await;
    let btc = &chain.config().markets[0];
    let mid = btc.subticks_at(chain.prices()[0]);
    let book = ingest::ladder(btc, 0, mid, 3, 10 * btc.step_base_quantums, 1_000_000);
    ingest::place_orders(pool, app.state.cache(), &book).await;
    let seed = Seed { pool };
    let sub = subaccount_uuid(&owner_address(0), 0);
    seed.username(sub, "GreenWhale42").await;
    seed.pnl_tick(sub, 10, "1000000").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_server_conforms_to_its_own_openapi_document() {
    let python = python();
    let schemathesis = python.with_file_name("schemathesis");
    assert!(schemathesis.exists(), "no {}", schemathesis.display());
    let app = TestApp::start(TestDb::new().await).await;
    seed(&app).await;
    app.state
        .markets()
        .refresh(app.state.pools().reader())
        .await
        .unwrap();
    app.state.heights().refresh().await.unwrap();

    // Every operation documents the two statuses any route can answer.
    let doc = app.get("/v4/openapi.json").await.body;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            for status in ["500", "503"] {
                assert!(
                    operation["responses"].get(status).is_some(),
                    "{method} {path} does not document {status}"
                );
            }
        }
    }

    let max_examples = std::env::var("SCHEMATHESIS_MAX_EXAMPLES").unwrap_or_else(|_| "15".into());
    let workdir = std::env::temp_dir().join(format!("comlink-schemathesis-{}", std::process::id()));
    std::fs::create_dir_all(&workdir).unwrap();
    let mut command = tokio::process::Command::new(&schemathesis);
    command
        .current_dir(&workdir)
        .arg("--config-file")
        .arg(python_dir().join("schemathesis.toml"))
        .arg("run")
        .arg(format!("{}/v4/openapi.json", app.base_url))
        .args(["--url", &app.base_url])
        .args(["--checks", CHECKS])
        .args(["--max-examples", &max_examples])
        .args(["--seed", "1"])
        .args(["--workers", "2"])
        .args(["--generation-database", "none"])
        .args(["--request-timeout", "20"])
        .arg("--no-color")
        .env("SCHEMATHESIS_HOOKS", "")
        .kill_on_drop(true);
    if let Ok(dir) = std::env::var("SCHEMATHESIS_REPORT_DIR") {
        command.args(["--report", "junit", "--report-dir", &dir]);
    }
    let output = command.output().await.expect("running schemathesis");
    let stdout = String::from_utf8_lossy(&output.stdout);
    eprintln!("{stdout}");
    app.stop().await;
    assert!(
        output.status.success(),
        "schemathesis found problems:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

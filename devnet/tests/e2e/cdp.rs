//! Headless Chromium driven over the DevTools protocol (CDP): the browser opens a page, the test
//! evaluates JavaScript in it. No chromedriver or Selenium needed: CDP is a websocket.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

use super::ws::JsonSocket;

/// `CHROMIUM` or the first Chromium/Chrome on PATH (Debian's `chromium` package:
/// /usr/bin/chromium; scripts/infra.sh installs it).
pub fn chromium_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("CHROMIUM") {
        return PathBuf::from(path);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in ["chromium", "chromium-browser", "google-chrome", "chrome"] {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join(name);
            if candidate.is_file() {
                return candidate;
            }
        }
    }
    panic!(
        "no Chromium found (set CHROMIUM or install Debian's `chromium`; scripts/infra.sh up \
         installs it)"
    );
}

/// A headless Chromium showing one page; killed on drop.
pub struct Browser {
    child: Child,
    profile: PathBuf,
    stderr: Arc<Mutex<String>>,
    page: JsonSocket,
    next_id: u64,
}

impl Browser {
    /// Starts Chromium on `url` and attaches to its page.
    pub async fn open(url: &str) -> Browser {
        let profile = std::env::temp_dir().join(format!("e2e-chromium-{}", uuid::Uuid::new_v4()));
        let mut child = Command::new(chromium_binary())
            .args([
                "--headless=new",
                "--no-sandbox", // CI runs as root
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--no-default-browser-check",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg(url)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            // Its own process group, so the renderers and helpers go with it on drop.
            .process_group(0)
            .spawn()
            .expect("starting chromium");
        let stderr = Arc::new(Mutex::new(String::new()));
        let endpoint = devtools_endpoint(child.stderr.take().expect("stderr"), stderr.clone());
        let browser_ws = match endpoint.recv_timeout(Duration::from_secs(60)) {
            Ok(url) => url,
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "chromium did not open its DevTools port:\n{}",
                    stderr.lock().unwrap()
                );
            }
        };
        let page_ws = page_target(&browser_ws).await;
        let page = JsonSocket::connect(&page_ws)
            .await
            .expect("attaching to the page");
        Browser {
            child,
            profile,
            stderr,
            page,
            next_id: 0,
        }
    }

    /// Evaluates `expression` in the page and returns its value (JSON-serialisable values only).
    pub async fn eval(&mut self, expression: &str) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        self.page
            .send(&json!({"id": id, "method": "Runtime.evaluate",
                          "params": {"expression": expression, "returnByValue": true}}))
            .await
            .expect("sending to the page");
        loop {
            let reply = self
                .page
                .next(Duration::from_secs(30))
                .await
                .unwrap_or_else(|| panic!("no answer to {expression}:\n{}", self.stderr()));
            if reply["id"] == id {
                return reply["result"]["result"]["value"].clone();
            }
        }
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-9", "--", &group]).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// Reads Chromium's stderr on a thread; sends the browser's DevTools websocket URL when it is
/// printed and keeps everything for failure messages.
fn devtools_endpoint(
    stderr: std::process::ChildStderr,
    log: Arc<Mutex<String>>,
) -> mpsc::Receiver<String> {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(url) = line.strip_prefix("DevTools listening on ") {
                let _ = sender.send(url.trim().to_owned());
            }
            if let Ok(mut log) = log.lock() {
                log.push_str(&line);
                log.push('\n');
            }
        }
    });
    receiver
}

/// The page's DevTools websocket, from the browser's `/json/list`.
async fn page_target(browser_ws: &str) -> String {
    let host = browser_ws
        .strip_prefix("ws://")
        .and_then(|rest| rest.split('/').next())
        .expect("ws://host:port/... URL");
    let addr: SocketAddr = host.parse().expect("DevTools address");
    for _ in 0..100 {
        let list = tokio::task::spawn_blocking(move || get_json(addr, "/json/list"))
            .await
            .expect("http task");
        if let Ok(targets) = list {
            let page = targets.as_array().and_then(|targets| {
                targets
                    .iter()
                    .find(|t| t["type"] == "page")
                    .and_then(|t| t["webSocketDebuggerUrl"].as_str())
            });
            if let Some(page) = page {
                return page.to_owned();
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromium listed no page target");
}

/// GET of a JSON document from the DevTools HTTP endpoint, which keeps the connection open
/// (so the body is read by its Content-Length, not to EOF).
fn get_json(addr: SocketAddr, path: &str) -> std::io::Result<Value> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: {addr}\r\n\r\n")?;
    let mut reader = BufReader::new(stream);
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    serde_json::from_slice(&body).map_err(std::io::Error::other)
}

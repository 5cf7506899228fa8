//! Runs a service binary the way an orchestrator does and checks the contract every service
//! keeps: `/healthz` answers, `/metrics` serves Prometheus text, and SIGTERM ends the process
//! with status 0.
//!
//! ```ignore
//! #[test]
//! fn starts_serves_health_and_stops_cleanly_on_sigterm() {
//!     indexer_testkit::process::assert_service_lifecycle(env!("CARGO_BIN_EXE_ender"));
//! }
//! ```
//!
//! Only the standard library is used (plain HTTP/1.1 over `TcpStream`, `kill -s TERM`), so the
//! helper adds no dependencies to the services' test builds.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// Upper bound on waiting for `/healthz`; generous because CI machines are shared. Not a speed
/// requirement.
const HEALTHY_BOUND: Duration = Duration::from_secs(120);
/// Upper bound on waiting for the process to exit after SIGTERM.
const EXIT_BOUND: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(50);
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);
/// A port picked free can be taken by someone else before the service binds it; try again.
const PORT_ATTEMPTS: usize = 3;

/// Starts `binary` on a free admin port, waits for `/healthz` 200, checks `/metrics` serves
/// Prometheus text, sends SIGTERM and asserts a clean exit (status 0). Panics, with the
/// service's output, on any violation.
pub fn assert_service_lifecycle(binary: &str) {
    assert_service_lifecycle_with_env(binary, &[]);
}

/// [`assert_service_lifecycle`] with extra environment variables (database names, prefixes).
pub fn assert_service_lifecycle_with_env(binary: &str, env: &[(&str, &str)]) {
    let mut service = RunningService::start_healthy(binary, env);

    let metrics = http_get(service.admin_addr, "/metrics")
        .unwrap_or_else(|e| service.fail(&format!("GET /metrics failed: {e}")));
    if metrics.status != 200 {
        service.fail(&format!(
            "GET /metrics answered {}: {}",
            metrics.status, metrics.body
        ));
    }
    let content_type = metrics.header("content-type").unwrap_or_default();
    if !content_type.starts_with("text/plain") || !metrics.body.contains("# TYPE ") {
        service.fail(&format!(
            "GET /metrics is not Prometheus text (content-type {content_type:?}):\n{}",
            metrics.body
        ));
    }

    service.terminate();
    let status = service.wait_for_exit(EXIT_BOUND);
    if !status.success() {
        service.fail(&format!(
            "exited with {status} after SIGTERM, expected status 0"
        ));
    }
}

/// A child process with its output captured, killed if the test panics.
pub struct RunningService {
    child: Child,
    pub admin_addr: SocketAddr,
    output: Arc<Mutex<String>>,
    binary: String,
}

impl RunningService {
    /// Starts `binary` with `ADMIN_HOST=127.0.0.1` and a free `ADMIN_PORT`, and waits until
    /// `/healthz` answers 200.
    pub fn start_healthy(binary: &str, env: &[(&str, &str)]) -> RunningService {
        for attempt in 1..=PORT_ATTEMPTS {
            let mut service = Self::spawn(binary, env);
            match service.wait_healthy() {
                Ok(()) => return service,
                Err(Exited(_))
                    if attempt < PORT_ATTEMPTS && service.output().contains("already in use") =>
                {
                    continue
                }
                Err(Exited(status)) => {
                    service.fail(&format!("exited with {status} before /healthz answered"))
                }
            }
        }
        unreachable!("the last attempt either returns or fails")
    }

    fn spawn(binary: &str, env: &[(&str, &str)]) -> RunningService {
        let port = free_port();
        let mut command = Command::new(binary);
        command
            .env("ADMIN_HOST", "127.0.0.1")
            .env("ADMIN_PORT", port.to_string())
            .env("NODE_ENV", "test")
            .env("LOG_FORMAT", "json")
            // Tests never page anyone.
            .env_remove("BUGSNAG_KEY")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {binary}: {e}"));
        let output = Arc::new(Mutex::new(String::new()));
        capture(child.stdout.take(), Arc::clone(&output));
        capture(child.stderr.take(), Arc::clone(&output));
        RunningService {
            child,
            admin_addr: SocketAddr::from(([127, 0, 0, 1], port)),
            output,
            binary: binary.to_string(),
        }
    }

    /// Everything the process printed so far (stdout and stderr interleaved by line).
    pub fn output(&self) -> String {
        self.output.lock().map(|o| o.clone()).unwrap_or_default()
    }

    fn wait_healthy(&mut self) -> Result<(), Exited> {
        let deadline = Instant::now() + HEALTHY_BOUND;
        loop {
            if let Some(status) = self.child.try_wait().expect("cannot poll the child") {
                return Err(Exited(status));
            }
            if let Ok(response) = http_get(self.admin_addr, "/healthz") {
                if response.status == 200 {
                    return Ok(());
                }
            }
            if Instant::now() >= deadline {
                self.fail(&format!(
                    "/healthz did not answer 200 within {HEALTHY_BOUND:?}"
                ));
            }
            thread::sleep(POLL);
        }
    }

    /// Sends SIGTERM, as ECS does when it stops a task.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-s", "TERM", &self.child.id().to_string()])
            .status()
            .unwrap_or_else(|e| panic!("cannot run kill: {e}"));
        assert!(
            status.success(),
            "kill -s TERM {} failed: {status}",
            self.child.id()
        );
    }

    /// Waits for the process to exit; fails (and kills it) if it is still running after `bound`.
    pub fn wait_for_exit(&mut self, bound: Duration) -> ExitStatus {
        let deadline = Instant::now() + bound;
        loop {
            if let Some(status) = self.child.try_wait().expect("cannot poll the child") {
                // Let the capture threads see the last lines.
                thread::sleep(POLL);
                return status;
            }
            if Instant::now() >= deadline {
                self.fail(&format!("still running {bound:?} after SIGTERM"));
            }
            thread::sleep(POLL);
        }
    }

    /// Kills the process and panics with `reason` and its output.
    pub fn fail(&mut self, reason: &str) -> ! {
        let _ = self.child.kill();
        let _ = self.child.wait();
        thread::sleep(POLL);
        panic!(
            "{}: {reason}\n--- service output ---\n{}",
            self.binary,
            self.output()
        );
    }
}

impl Drop for RunningService {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

struct Exited(ExitStatus);

/// A port free right now on 127.0.0.1 (bound, read and released).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("cannot bind 127.0.0.1:0");
    listener.local_addr().expect("no local address").port()
}

fn capture<R: Read + Send + 'static>(stream: Option<R>, output: Arc<Mutex<String>>) {
    let Some(stream) = stream else { return };
    thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if let Ok(mut output) = output.lock() {
                output.push_str(&line);
                output.push('\n');
            }
        }
    });
}

/// A parsed HTTP response.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    pub status: u16,
    /// Header names lowercased.
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl HttpResponse {
    pub fn header(&self, name: &str) -> Option<String> {
        let name = name.to_ascii_lowercase();
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
    }
}

/// `GET path` over HTTP/1.1 with `Connection: close`.
pub fn http_get(addr: SocketAddr, path: &str) -> std::io::Result<HttpResponse> {
    let mut stream = TcpStream::connect_timeout(&addr, HTTP_TIMEOUT)?;
    stream.set_read_timeout(Some(HTTP_TIMEOUT))?;
    stream.set_write_timeout(Some(HTTP_TIMEOUT))?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw)?;
    parse_response(&raw).ok_or_else(|| {
        std::io::Error::new(std::io::ErrorKind::InvalidData, "malformed HTTP response")
    })
}

fn parse_response(raw: &[u8]) -> Option<HttpResponse> {
    let text = String::from_utf8_lossy(raw);
    let (head, body) = text.split_once("\r\n\r\n")?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split_whitespace().nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_string()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.eq_ignore_ascii_case("chunked"));
    let body = if chunked {
        dechunk(body)?
    } else {
        body.to_string()
    };
    Some(HttpResponse {
        status,
        headers,
        body,
    })
}

fn dechunk(mut body: &str) -> Option<String> {
    let mut out = String::new();
    loop {
        let (size, rest) = body.split_once("\r\n")?;
        let size = usize::from_str_radix(size.split(';').next()?.trim(), 16).ok()?;
        if size == 0 {
            return Some(out);
        }
        out.push_str(rest.get(..size)?);
        body = rest.get(size + 2..)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_plain_and_chunked_responses() {
        let plain = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\ncontent-length: 2\r\n\r\nok";
        let response = parse_response(plain).unwrap();
        assert_eq!((response.status, response.body.as_str()), (200, "ok"));
        assert_eq!(
            response.header("CONTENT-TYPE").as_deref(),
            Some("text/plain")
        );

        let chunked = b"HTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n# TY\r\n3\r\nPE \r\n0\r\n\r\n";
        let response = parse_response(chunked).unwrap();
        assert_eq!((response.status, response.body.as_str()), (503, "# TYPE "));
    }
}

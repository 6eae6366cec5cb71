//! Real processes on 127.0.0.1 for the end-to-end tests: the testbed binary, Debian's
//! Prometheus scraping it, and small HTTP/1.0 requests to either. Each child is killed and
//! reaped when its [`Killed`] is dropped, however the test ends.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const PROMETHEUS: &str = "/usr/bin/prometheus";

/// A child process killed and reaped when dropped, however the test ends.
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `GET path` on `addr` (HTTP/1.0, bounded by 2 s): the status and the body.
pub fn get(addr: SocketAddr, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let status = text.split_whitespace().nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string())?;
    Some((status, body))
}

/// `POST path` with a JSON body on `addr`: the status.
pub fn post(addr: SocketAddr, path: &str, json: &str) -> Option<u16> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(
        s,
        "POST {path} HTTP/1.0\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{json}",
        json.len()
    )
    .ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    text.split_whitespace().nth(1)?.parse().ok()
}

/// Polls `f` every 100 ms until it is true, for at most `limit`.
pub fn wait_until(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    false
}

/// A port free on 127.0.0.1 a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free port: {e}"))
}

/// Starts the testbed binary on a free port with `scenario`; its address.
pub fn testbed(scenario: &Path) -> (Killed, SocketAddr) {
    let (child, addr, _) = testbed_with(scenario, &[], 1);
    (child, addr)
}

/// Starts `scalebench testbed --listen 127.0.0.1:0 --scenario SCENARIO EXTRA...` and reads the
/// first `lines` lines it prints (bounded by 20 s): the child, its address (from the first
/// line) and the lines.
pub fn testbed_with(
    scenario: &Path,
    extra: &[&std::ffi::OsStr],
    lines: usize,
) -> (Killed, SocketAddr, Vec<String>) {
    use std::io::BufRead;
    let mut child = Command::new(env!("CARGO_BIN_EXE_scalebench"))
        .args(["testbed", "--listen", "127.0.0.1:0", "--scenario"])
        .arg(scenario)
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn the testbed: {e}"));
    let stdout = child.stdout.take();
    let child = Killed(child);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let Some(out) = stdout else { return };
        for line in std::io::BufReader::new(out).lines().take(lines) {
            let Ok(line) = line else { return };
            if tx.send(line).is_err() {
                return;
            }
        }
    });
    let mut printed = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while printed.len() < lines {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) => printed.push(line),
            Err(_) => panic!("the testbed printed {printed:?}, not {lines} lines, within 20 s"),
        }
    }
    let addr = printed[0]
        .split_whitespace()
        .find_map(|w| w.strip_prefix("http://"))
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no address in {:?}", printed[0]));
    (child, addr, printed)
}

/// Starts Prometheus on 127.0.0.1 scraping `target` every second, its data in `dir`; waits
/// (bounded) until it is ready and has scraped the target.
pub fn prometheus(dir: &Path, target: SocketAddr) -> (Killed, SocketAddr) {
    assert!(
        Path::new(PROMETHEUS).exists(),
        "{PROMETHEUS} not found: run scripts/test-deps (apt-get install prometheus)"
    );
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  \
             - job_name: testbed\n    static_configs:\n      - targets: ['{target}']\n"
        ),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let addr = SocketAddr::from(([127, 0, 0, 1], free_port()));
    let log = std::fs::File::create(dir.join("prometheus.log")).unwrap_or_else(|e| panic!("{e}"));
    let child = Command::new(PROMETHEUS)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("tsdb").display()
        ))
        .arg(format!("--web.listen-address={addr}"))
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .unwrap_or_else(|e| panic!("spawn prometheus: {e}"));
    let child = Killed(child);
    let log = || std::fs::read_to_string(dir.join("prometheus.log")).unwrap_or_default();
    let ready = wait_until(Duration::from_secs(30), || {
        get(addr, "/-/ready").is_some_and(|(s, _)| s == 200)
    });
    assert!(ready, "Prometheus not ready within 30 s:\n{}", log());
    let scraped = wait_until(Duration::from_secs(20), || {
        get(addr, "/api/v1/query?query=scalebench_replicas_ready")
            .is_some_and(|(_, body)| body.contains("\"value\""))
    });
    assert!(
        scraped,
        "Prometheus did not scrape the testbed within 20 s:\n{}",
        log()
    );
    (child, addr)
}

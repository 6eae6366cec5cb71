//! OpenAI requests through the live engine against a hand-written server-sent-events server on
//! 127.0.0.1: chunked HTTP/1.1 written with deliberate delays, HTTP chunks and SSE events split
//! mid-way, CRLF framing. TTFT, inter-token gaps and TPOT are measured from the intended send
//! time; a mid-stream error and a stream without `[DONE]` are failed requests; a whole answer
//! is read at its end. Every run is a few seconds at most.

mod common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{listen, outcome, serial};
use live::LoadConfig;
use scalebench_core::Plan;
use scalebench_core::run::SetupRun;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::sleep;

const MS: Duration = Duration::from_millis(1);

/// The first content chunk comes this long after the request; then one every `GAP`.
const FIRST: Duration = Duration::from_millis(100);
const GAP: Duration = Duration::from_millis(40);
/// Content chunks of a streamed answer.
const CHUNKS: u32 = 4;

/// The server and the request bodies it received.
struct SseServer {
    addr: SocketAddr,
    bodies: Arc<Mutex<Vec<String>>>,
    _rt: tokio::runtime::Runtime,
}

/// Paths: `/v1/completions` streams [`CHUNKS`] content chunks (the first after [`FIRST`],
/// then every [`GAP`]), the usage chunk and `[DONE]`; `/error` one content chunk, then an
/// error event; `/cut` two content chunks and the end of the body without `[DONE]`; `/whole`
/// a whole JSON completion after 50 ms. Connections are kept alive.
fn sse_server() -> SseServer {
    let (rt, listener, addr) = listen(2);
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&bodies);
    rt.spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            tokio::spawn(connection(stream, Arc::clone(&seen)));
        }
    });
    SseServer {
        addr,
        bodies,
        _rt: rt,
    }
}

/// Serves requests on one connection until the client closes it.
async fn connection(mut s: TcpStream, bodies: Arc<Mutex<Vec<String>>>) {
    let mut buf = Vec::new();
    loop {
        // The head, then a body of its content-length.
        let head_end = loop {
            if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            let mut more = [0u8; 4096];
            match s.read(&mut more).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&more[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
        let path = head.split(' ').nth(1).unwrap_or("/").to_string();
        let length: usize = head
            .lines()
            .find_map(|l| {
                let (name, value) = l.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse().ok())?
            })
            .unwrap_or(0);
        while buf.len() < head_end + length {
            let mut more = [0u8; 4096];
            match s.read(&mut more).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&more[..n]),
            }
        }
        let body = String::from_utf8_lossy(&buf[head_end..head_end + length]).to_string();
        buf.drain(..head_end + length);
        bodies.lock().unwrap_or_else(|e| e.into_inner()).push(body);
        if answer(&mut s, &path).await.is_err() {
            return;
        }
    }
}

/// One SSE event, CRLF framed.
fn event(data: &str) -> Vec<u8> {
    format!("data: {data}\r\n\r\n").into_bytes()
}

fn content(text: &str) -> Vec<u8> {
    event(&format!(
        r#"{{"id":"cmpl-1","object":"text_completion","choices":[{{"index":0,"text":"{text}","finish_reason":null}}]}}"#
    ))
}

/// Writes `bytes` as one HTTP chunk.
async fn chunk(s: &mut TcpStream, bytes: &[u8]) -> std::io::Result<()> {
    let mut out = format!("{:x}\r\n", bytes.len()).into_bytes();
    out.extend_from_slice(bytes);
    out.extend_from_slice(b"\r\n");
    s.write_all(&out).await
}

/// Writes `event` so that it completes only after `wait`: its first half at once as one HTTP
/// chunk, then the chunk header and a few bytes of the rest, and after `wait` the remainder
/// (the HTTP chunk itself split across two writes).
async fn split_event(s: &mut TcpStream, ev: &[u8], wait: Duration) -> std::io::Result<()> {
    let (a, b) = ev.split_at(ev.len() / 2);
    chunk(s, a).await?;
    let (b1, b2) = b.split_at(3);
    s.write_all(format!("{:x}\r\n", b.len()).as_bytes()).await?;
    s.write_all(b1).await?;
    s.flush().await?;
    sleep(wait).await;
    s.write_all(b2).await?;
    s.write_all(b"\r\n").await
}

async fn answer(s: &mut TcpStream, path: &str) -> std::io::Result<()> {
    if path == "/whole" {
        sleep(50 * MS).await;
        let body = r#"{"id":"cmpl-2","object":"text_completion","choices":[{"index":0,"text":" a b c","finish_reason":"length"}],"usage":{"prompt_tokens":50,"completion_tokens":3,"total_tokens":53}}"#;
        let head = format!(
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
            body.len()
        );
        s.write_all(head.as_bytes()).await?;
        return s.write_all(body.as_bytes()).await;
    }
    s.write_all(
        b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\ntransfer-encoding: chunked\r\n\r\n",
    )
    .await?;
    // A keep-alive comment at once; the first content chunk completes after FIRST.
    chunk(s, b": keep-alive\r\n\r\n").await?;
    sleep(FIRST - 20 * MS).await;
    split_event(s, &content(" one"), 20 * MS).await?;
    let chunks = match path {
        "/error" => 1,
        "/cut" => 2,
        _ => CHUNKS,
    };
    for _ in 1..chunks {
        sleep(GAP - 15 * MS).await;
        split_event(s, &content(" more"), 15 * MS).await?;
    }
    match path {
        "/error" => {
            chunk(
                s,
                &event(r#"{"error":{"message":"the model fell over","type":"InternalServerError","code":500}}"#),
            )
            .await?;
            chunk(s, &event("[DONE]")).await?;
        }
        "/cut" => {}
        _ => {
            let usage = format!(
                r#"{{"id":"cmpl-1","object":"text_completion","choices":[],"usage":{{"prompt_tokens":50,"completion_tokens":{CHUNKS},"total_tokens":{}}}}}"#,
                50 + CHUNKS
            );
            // The usage chunk and [DONE] in one HTTP chunk.
            let mut tail = event(&usage);
            tail.extend_from_slice(&event("[DONE]"));
            chunk(s, &tail).await?;
        }
    }
    s.write_all(b"0\r\n\r\n").await
}

/// A plan of `rate` evenly spaced OpenAI completions a second for `duration`, prompts of 50
/// tokens and 4 output tokens, with `classes` (TOML) appended.
fn plan(rate: f64, duration: &str, classes: &str) -> Plan {
    let src = format!(
        r#"
name = "openai"
duration = "{duration}"
seed = 5
[slo]
latency = "2s"
ttft = "150ms"
[traffic]
arrival = "constant"
timeout = "5s"
[[traffic.shape]]
kind = "steady"
rate = {rate}
[traffic.tokens]
prompt = 50
output = 4
[traffic.openai]
api = "completions"
model = "sse-test"
{classes}
[service]
time = "10ms"
[cluster]
billing = "replica"
price_per_replica_hour = 0
[[setup]]
name = "load"
[setup.fixed]
replicas = 1
"#
    );
    Plan::parse(std::path::Path::new("openai.toml"), &src).unwrap_or_else(|e| panic!("{e}"))
}

/// Runs `plan` against `url` (one fixed connection when `one_connection`).
fn run(plan: &Plan, url: &str, one_connection: bool) -> SetupRun {
    let mut config = LoadConfig::new(common::target(url));
    if one_connection {
        config.connections = 1;
        config.fixed_connections = true;
        config.workers = Some(1);
    }
    common::run_config(plan, &config, None)
}

#[test]
fn a_stream_s_ttft_itl_and_tpot_are_measured_from_the_intended_time() {
    let _serial = serial();
    let s = sse_server();
    // The URL has no path: the API's, /v1/completions.
    let p = plan(10.0, "2s", "");
    let r = run(&p, &format!("http://{}", s.addr), false);
    assert_eq!(r.requests().ok, 20, "{:?} {:?}", r.requests(), r.load);
    assert_eq!(outcome(&r, "http_200"), 20);
    let t = r.tokens.as_ref().expect("token figures");
    // The server makes the first token complete 100 ms after it read the request, which
    // went out within a millisecond of its intended time; loopback and the server's timers
    // add a few ms more.
    let ttft = t.ttft.summary();
    assert!(ttft.p50 >= 100.0 && ttft.max < 140.0, "ttft {ttft:?}");
    // Gaps of 40 ms between content chunks (the events completed by the second half of a
    // split): 3 per answer.
    assert_eq!(t.itl.len(), 60);
    let itl = t.itl.summary();
    assert!(itl.p50 >= 35.0 && itl.p50 <= 50.0, "itl {itl:?}");
    // TPOT = (end - first token) / (4 - 1): three 40 ms gaps and the tail, over 3.
    let tpot = t.tpot.summary();
    assert!(tpot.p50 >= 39.0 && tpot.max < 60.0, "tpot {tpot:?}");
    assert_eq!(t.output_tokens, 80, "usage.completion_tokens");
    assert_eq!(t.prompt_tokens, Some(1000), "usage.prompt_tokens");
    assert_eq!(t.good, 20);

    // What was sent: the completions body, a prompt of exactly 50 tokens, different for every
    // request, and max_tokens 4.
    let bodies = s.bodies.lock().unwrap_or_else(|e| e.into_inner()).clone();
    assert_eq!(bodies.len(), 20);
    let mut prompts = std::collections::HashSet::new();
    for b in &bodies {
        let v: serde_json::Value = serde_json::from_str(b).unwrap_or_else(|e| panic!("{e}: {b}"));
        assert_eq!(v["model"], "sse-test");
        assert_eq!(v["max_tokens"], 4);
        assert_eq!(v["stream"], true);
        assert_eq!(v["stream_options"]["include_usage"], true);
        let prompt = v["prompt"].as_str().unwrap_or_default();
        assert_eq!(openai::Encoding::Cl100kBase.count(prompt), 50, "{prompt}");
        prompts.insert(prompt.to_string());
    }
    assert_eq!(prompts.len(), 20, "every request has its own prompt");
}

#[test]
fn a_stall_before_sending_counts_in_the_ttft() {
    let _serial = serial();
    let s = sse_server();
    // One connection for requests 100 ms apart that each take ~230 ms: request k waits for
    // the k before it, and goes out about 130 ms x k late. Its TTFT counts that wait.
    let p = plan(10.0, "800ms", "");
    let r = run(&p, &format!("http://{}/v1/completions", s.addr), true);
    assert_eq!(r.requests().ok, 8, "{:?}", r.requests());
    let t = r.tokens.as_ref().expect("token figures");
    let lag = r.load.as_ref().map(|l| l.schedule_lag.summary());
    let lag_max = lag.map_or(0.0, |l| l.max);
    assert!(lag_max > 700.0, "the last request waited ~900 ms: {lag:?}");
    let ttft = t.ttft.summary();
    // The last request: its wait plus 100 ms. Measured from the actual send time it would be
    // ~100 ms, as every other request's.
    assert!(
        ttft.max >= lag_max + 95.0 && ttft.max < lag_max + 150.0,
        "ttft {ttft:?} lag {lag:?}"
    );
    // The gaps between tokens do not move.
    assert!(t.itl.summary().max < 60.0, "{:?}", t.itl.summary());
}

#[test]
fn errors_in_the_stream_and_streams_cut_short_fail_and_whole_answers_count() {
    let _serial = serial();
    let s = sse_server();
    let classes = r#"
[[traffic.class]]
name = "stream"
request = { path = "/v1/completions" }
[[traffic.class]]
name = "error"
request = { path = "/error" }
[[traffic.class]]
name = "cut"
request = { path = "/cut" }
[[traffic.class]]
name = "whole"
request = { path = "/whole", headers = { "x-test" = "whole" } }
"#;
    let p = plan(20.0, "2s", classes);
    let r = run(&p, &format!("http://{}", s.addr), false);
    let by = |name: &str| {
        r.classes
            .iter()
            .find(|c| c.name == name)
            .map(|c| c.requests)
            .unwrap_or_else(|| panic!("class {name}"))
    };
    let (stream, error, cut, whole) = (by("stream"), by("error"), by("cut"), by("whole"));
    for (name, c) in [("stream", &stream), ("whole", &whole)] {
        assert!(c.sent > 3, "{name}: {c:?}");
        assert_eq!((c.ok, c.failed), (c.sent, 0), "{name}: {c:?}");
    }
    for (name, c) in [("error", &error), ("cut", &cut)] {
        assert!(c.sent > 3, "{name}: {c:?}");
        assert_eq!((c.ok, c.failed), (0, c.sent), "{name}: {c:?}");
    }
    // Answered 200 but failed: counted as bad answers, not as 200s.
    assert_eq!(outcome(&r, "bad_answer"), error.sent + cut.sent);
    assert_eq!(outcome(&r, "http_200"), stream.sent + whole.sent);
    let t = r.tokens.as_ref().expect("token figures");
    // A whole answer has no first token of its own: TTFT and TPOT are the streams' alone.
    assert_eq!(t.ttft.len(), stream.sent);
    assert_eq!(t.tpot.len(), stream.sent);
    assert_eq!(
        t.output_tokens,
        u64::from(CHUNKS) * stream.sent + 3 * whole.sent
    );
    // Gaps are recorded as they came, those of failed streams too: 3 a full stream, 1 a cut
    // one, none for one content chunk before the error.
    assert_eq!(t.itl.len(), 3 * stream.sent + cut.sent);
}

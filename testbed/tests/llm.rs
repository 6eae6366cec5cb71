//! The testbed as an OpenAI-compatible LLM server: tokens streamed as server-sent events at
//! the token model's pace, whole answers, usage, vLLM's metric names, and the refusals.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{call, client, json, start, stop};
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use openai::{Api, Encoding, StreamDecoder};
use scalebench_core::Plan;

/// One replica of a token model: 20 ms steps (+1 ms a further sequence), 0.1 ms a prompt token.
fn plan() -> Plan {
    let src = r#"
duration = "1h"
[slo]
latency = "10s"
[traffic]
capacity = 10
[[traffic.shape]]
kind = "steady"
rate = 1
[traffic.tokens]
prompt = 100
output = 4
[service]
gpus = 1
[service.llm]
prefill_per_token = "0.1ms"
step = "20ms"
step_per_sequence = "1ms"
max_batch = 8
kv_cache_tokens = 100000
[cluster]
billing = "replica"
price_per_replica_hour = 1.0
[[setup]]
name = "one"
[setup.fixed]
replicas = 1
"#;
    Plan::parse(Path::new("llm.toml"), src).unwrap_or_else(|e| panic!("{e}"))
}

/// Sends `body` to `path` and decodes the streamed answer with the instant each read came.
async fn stream(tb: &testbed::Testbed, path: &str, body: &str, api: Api) -> openai::Completion {
    let c = client(false);
    let req = Request::builder()
        .method(Method::POST)
        .uri(format!("http://{}{path}", tb.addr()))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("a request");
    let start = Instant::now();
    let fut = async {
        let resp = c.request(req).await.expect("a response");
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(
            resp.headers()["content-type"].to_str().ok(),
            Some("text/event-stream")
        );
        let mut body = resp.into_body();
        let mut dec = StreamDecoder::new(api, Some(Encoding::Cl100kBase));
        while let Some(frame) = body.frame().await {
            let frame = frame.expect("a frame");
            if let Some(data) = frame.data_ref() {
                dec.feed(data, start.elapsed().as_nanos() as u64);
            }
        }
        dec.finish(start.elapsed().as_nanos() as u64)
    };
    tokio::time::timeout(Duration::from_secs(20), fut)
        .await
        .expect("the stream ends within 20 s")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_stream_at_the_models_pace_with_usage_and_done() {
    let tb = start(&plan(), 1.0).await;
    // "hello world": 2 prompt tokens (0.2 ms of prefill); 5 output tokens.
    let c = stream(
        &tb,
        "/v1/chat/completions",
        r#"{"model":"m","messages":[{"role":"user","content":"hello world"}],"max_tokens":5,"stream":true,"stream_options":{"include_usage":true}}"#,
        Api::Chat,
    )
    .await;
    assert!(c.ok(), "{c:?}");
    assert_eq!(c.output_tokens, Some(5));
    assert_eq!(c.prompt_tokens, Some(2));
    assert_eq!(c.counted_tokens, 5, "one content chunk a token");
    assert_eq!(c.chunk_ns.len(), 5);
    assert_eq!(c.finish_reason.as_deref(), Some("length"));
    // Nothing comes before its step ends: token k (from 0) not before 20.2 ms + k x 20 ms. (Gaps
    // between reads may be shorter: a client that reads late gets two tokens in one read.)
    let first = c.first_token_ns.expect("a first token");
    assert!(first >= 20_200_000, "first token at {first} ns");
    for (k, &t) in c.chunk_ns.iter().enumerate() {
        assert!(
            t >= 20_200_000 + 20_000_000 * k as u64,
            "token {k}: {:?}",
            c.chunk_ns
        );
    }
    assert!(c.end_ns >= 100_000_000, "{}", c.end_ns);

    // Completions without usage: the tokenizer counts the content.
    let c = stream(
        &tb,
        "/v1/completions",
        r#"{"prompt":"hello","max_tokens":3,"stream":true}"#,
        Api::Completions,
    )
    .await;
    assert!(c.ok(), "{c:?}");
    assert_eq!((c.output_tokens, c.counted_tokens), (None, 3));

    // A whole answer.
    let (status, body) = call(
        &client(false),
        &tb,
        Method::POST,
        "/v1/completions",
        r#"{"prompt":"hello","max_tokens":4}"#,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let v = json(&body);
    assert_eq!(v["object"], "text_completion");
    assert_eq!(v["choices"][0]["text"], " the the the the");
    assert_eq!(v["usage"]["completion_tokens"], 4);
    assert_eq!(v["usage"]["prompt_tokens"], 1);

    // vLLM's names, with the tokens counted.
    let (_, metrics) = call(&client(false), &tb, Method::GET, "/metrics", "").await;
    for line in [
        "vllm:generation_tokens_total{model_name=\"scalebench-testbed\"} 12",
        "vllm:prompt_tokens_total{model_name=\"scalebench-testbed\"} 4",
        "vllm:num_requests_running{model_name=\"scalebench-testbed\"} 0",
    ] {
        assert!(metrics.lines().any(|l| l == line), "{line}\n{metrics}");
    }
    assert_eq!(tb.snapshot().requests_ok, 3);
    stop(tb).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_and_a_service_without_a_token_model_are_refused() {
    let tb = start(&plan(), 1.0).await;
    let c = client(false);
    for (path, body, says) in [
        ("/v1/completions", "{}", "\"prompt\""),
        ("/v1/chat/completions", r#"{"messages":3}"#, "\"messages\""),
        (
            "/v1/completions",
            r#"{"prompt":"x","max_tokens":-1}"#,
            "max_tokens",
        ),
    ] {
        let (status, answer) = call(&c, &tb, Method::POST, path, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        let msg = json(&answer)["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(msg.contains(says), "{body}: {msg}");
    }
    let (status, _) = call(&c, &tb, Method::GET, "/v1/completions", "").await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    let (status, models) = call(&c, &tb, Method::GET, "/v1/models", "").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(json(&models)["data"][0]["id"], "scalebench-testbed");
    stop(tb).await;

    let tb = common::start_config(testbed::TestbedConfig::default_demo()).await;
    let (status, answer) = call(
        &c,
        &tb,
        Method::POST,
        "/v1/completions",
        r#"{"prompt":"x","max_tokens":2}"#,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
    assert!(answer.contains("no token model"), "{answer}");
    stop(tb).await;
}

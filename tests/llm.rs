//! An LLM endpoint end to end, through the binary: `scalebench load --openai` against
//! `scalebench testbed` serving a token model (TTFT, ITL, TPOT and goodput in report.json),
//! `run --driver testbed` of a small LLM scenario beside `--driver sim` of the same file, and a
//! small trace replayed against the testbed on its own instants. About 35 s of real time.

use std::path::Path;

use scalebench_core::report::{SetupReport, TokenReport};

mod common;

/// A token model of 50 ms decode steps (+1 ms a further sequence), 0.1 ms of prefill a prompt
/// token, 16 sequences a replica; two fixed replicas at $2 an hour each. Prompts of 100 to 300
/// tokens and answers of 10 to 30 at 2 requests a second (about a third of a replica's batch
/// busy), for `DURATION`.
fn scenario(duration: &str) -> String {
    format!(
        r#"
name = "small-llm"
duration = "{duration}"
seed = 11
window = "10s"
[slo]
latency = "5s"
ttft = "250ms"
tpot = "80ms"
[traffic]
arrival = "poisson"
timeout = "30s"
[[traffic.shape]]
kind = "steady"
rate = 2
[traffic.tokens]
prompt = {{ dist = "uniform", min = 100, max = 300 }}
output = {{ dist = "uniform", min = 10, max = 30 }}
[service]
gpus = 1
lifecycle = {{ schedule = "0s", start = "5s", load = "5s", grace_period = "10s" }}
[service.llm]
prefill_per_token = "0.1ms"
step = "50ms"
step_per_sequence = "1ms"
max_batch = 16
kv_cache_tokens = 20000
[cluster]
billing = "replica"
price_per_replica_hour = 2.0
[[setup]]
name = "fixed-2"
[setup.fixed]
replicas = 2
"#
    )
}

fn write(dir: &Path, name: &str, text: &str) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    path
}

fn tokens(s: &SetupReport) -> &TokenReport {
    s.tokens
        .as_ref()
        .unwrap_or_else(|| panic!("{}: no token figures", s.name))
}

#[test]
fn load_measures_a_streaming_openai_endpoint() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let scenario = write(dir.path(), "small-llm.toml", &scenario("1h"));
    let (_bed, addr) = common::testbed(&scenario);
    let out = dir.path().join("out");
    // No path in the URL: the API's, /v1/completions.
    let url = format!("http://{addr}");
    let o = common::scalebench(&[
        "load",
        &url,
        "--rate",
        "4",
        "--duration",
        "4s",
        "--openai",
        "completions",
        "--model",
        "test-model",
        "--prompt-tokens",
        "200",
        "--output-tokens",
        "12",
        "--slo-ttft",
        "250ms",
        "--out",
        out.to_str().unwrap_or_default(),
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let r = common::read_report(&out);
    let s = &r.setups[0];
    assert_eq!(s.requests.ok, 16, "{:?} {:?}", s.requests, s.load);
    let t = tokens(s);
    let (ttft, itl, tpot) = (
        t.ttft_ms.unwrap_or_default(),
        t.itl_ms.unwrap_or_default(),
        t.tpot_ms.unwrap_or_default(),
    );
    // A request joins its replica's batch at the next step: its first token comes after what
    // is left of the step in progress (up to 51 ms, and 20 ms more when another request's
    // prefill is in it) and its own step, 50 ms + 20 ms of its prefill (+1 ms a sequence
    // beside it); each further token a step later (50-51 ms, 70 when a request joined it).
    assert!(ttft.p50 >= 70.0 && ttft.p50 < 150.0, "ttft {ttft:?}");
    assert!(ttft.max < 200.0, "ttft {ttft:?}");
    assert!(itl.p50 >= 49.0 && itl.p50 < 60.0, "itl {itl:?}");
    assert!(itl.max < 100.0, "itl {itl:?}");
    assert!(tpot.p50 >= 49.0 && tpot.max < 80.0, "tpot {tpot:?}");
    assert_eq!(t.output_tokens, 16 * 12);
    assert_eq!(
        t.prompt_tokens,
        Some(16 * 200),
        "the prompts are 200 tokens exactly"
    );
    // Every answer came within 250 ms of TTFT and 5 s end to end: all good.
    assert_eq!(t.goodput.requests, 16);
    assert!(t.goodput.share > 0.999, "{:?}", t.goodput);
    let outcomes = &s
        .load
        .as_ref()
        .map(|l| l.outcomes.clone())
        .unwrap_or_default();
    assert_eq!(outcomes.get("http_200"), Some(&16), "{outcomes:?}");
}

/// The testbed runs scenario time this many times faster than real time: 3 minutes in 36 s.
const TIME_SCALE: f64 = 5.0;

#[test]
fn the_testbed_driver_agrees_with_the_simulator_on_a_small_llm_scenario() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let scenario = write(dir.path(), "small-llm.toml", &scenario("3m"));
    let (sim, bed) = common::sim_and_testbed(&scenario, dir.path(), TIME_SCALE);
    let (s, b) = (&sim.setups[0], &bed.setups[0]);
    // Same seed, same arrivals, same token counts.
    assert_eq!(b.requests.scheduled, s.requests.scheduled);
    assert_eq!(b.requests.ok, b.requests.scheduled, "{:?}", b.requests);
    let (st, bt) = (tokens(s), tokens(b));
    assert_eq!(bt.output_tokens, st.output_tokens);
    assert_eq!(bt.prompt_tokens, st.prompt_tokens);
    let (sf, bf) = (
        st.ttft_ms.unwrap_or_default(),
        bt.ttft_ms.unwrap_or_default(),
    );
    // TTFT: the testbed steps the same model on the real clock, so a request's first token
    // comes at the same step end in model time, plus what real HTTP adds: the request crosses
    // loopback and a hyper server before the model sees it, and its token comes back the same
    // way after the clock task woke for the step's end (tokio's timer: up to 1 ms late, more
    // when its thread waits for a core). Measured on a machine of 2 cores (3 runs, 332
    // requests): sim p50 76.9 ms, p99 137.2 ms; testbed p50 +9.1 to +9.3 ms, p99 +8.7 to
    // +13.4 ms (about 2 ms of real time at 5x); with two busy loops on the cores, p50 +14 ms and
    // p99 +24 ms. A request that reaches the model later than its arrival can miss the step
    // that starts meanwhile and join the next, 50 ms later: rare, but the p99 is the 4th
    // slowest of 332. So the p50 may be 20 ms later, the p99 one step and 20 ms; neither
    // earlier than the simulator's, but for the histograms' buckets and the order of
    // requests that arrive together (2%, and 10% at the p99's few requests).
    assert!(
        bf.p50 >= sf.p50 * 0.98 && bf.p50 <= sf.p50 + 20.0,
        "TTFT p50 testbed {} sim {}",
        bf.p50,
        sf.p50
    );
    assert!(
        bf.p99 >= sf.p99 * 0.9 && bf.p99 <= sf.p99 + 50.0 + 20.0,
        "TTFT p99 testbed {} sim {}",
        bf.p99,
        sf.p99
    );
    // Two fixed replicas for 3 minutes at $2 an hour each: the bill is the model's own, in
    // integer nanoseconds, on both hosts ($0.20).
    let (sc, bc) = (
        s.cost.total_usd.unwrap_or(f64::NAN),
        b.cost.total_usd.unwrap_or(f64::NAN),
    );
    assert!((bc - sc).abs() <= 0.01 * sc, "cost testbed {bc} sim {sc}");
    assert!((sc - 0.2).abs() < 0.001, "{sc}");
}

/// 24 requests over 6 s, 1 to 7 a second (times in seconds, prompt and output tokens).
const TRACE: &str = "t,prompt,output
0.0,100,5
0.25,120,6
1.0,90,4
1.1,80,4
1.2,70,3
1.9,60,3
2.5,200,8
3.0,50,2
3.05,50,2
3.1,50,2
3.15,50,2
3.2,50,2
3.25,50,2
3.3,50,2
4.0,150,6
4.5,150,6
5.0,300,10
5.2,40,2
5.4,40,2
5.6,40,2
5.7,40,2
5.8,40,2
5.9,40,2
5.95,40,2
";

#[test]
fn a_trace_is_replayed_against_the_testbed_on_its_own_instants() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    write(dir.path(), "trace.csv", TRACE);
    let text = scenario("6s")
        .replace("window = \"10s\"", "window = \"1s\"")
        .replace(
            "[[traffic.shape]]\nkind = \"steady\"\nrate = 2\n",
            "[traffic.trace]\nfile = \"trace.csv\"\nformat = \"csv\"\ntime_column = \"t\"\nprompt_column = \"prompt\"\noutput_column = \"output\"\n",
        )
        .replace(
            "[traffic.tokens]\nprompt = { dist = \"uniform\", min = 100, max = 300 }\noutput = { dist = \"uniform\", min = 10, max = 30 }\n",
            "",
        );
    assert!(text.contains("[traffic.trace]") && !text.contains("[traffic.tokens]"));
    let scenario = write(dir.path(), "replay.toml", &text);
    let r = common::run_report(
        &scenario,
        &dir.path().join("out"),
        &["--driver", "testbed", "--time-scale", "2"],
    );
    let s = &r.setups[0];
    assert_eq!(s.requests.scheduled, 24);
    assert_eq!(s.requests.ok, 24, "{:?}", s.requests);
    // Each second's requests are the trace's: the arrivals are the trace's instants.
    let per_second: Vec<f64> = s.timeline.iter().map(|w| w.rps).collect();
    assert_eq!(per_second, vec![2.0, 4.0, 1.0, 7.0, 2.0, 8.0]);
    // And they went out on them: the schedule lag (actual - intended send time, in scenario
    // time at 2x) stays within 20 ms (10 ms real, for a machine busy with the other tests;
    // under 1 ms real when idle); a replay that drifted or sent in bursts would be late by
    // the gaps between requests (50 ms and more).
    let lag = s
        .load
        .as_ref()
        .map(|l| l.schedule_lag_ms)
        .unwrap_or_default();
    assert!(lag.p99 < 20.0, "schedule lag {lag:?}");
    // Each answer has the trace's tokens: 100 + 120 + ... prompt and 5 + 6 + ... output.
    let t = tokens(s);
    let (prompt, output) = TRACE.lines().skip(1).fold((0u64, 0u64), |(p, o), l| {
        let v: Vec<u64> = l
            .split(',')
            .skip(1)
            .filter_map(|x| x.parse().ok())
            .collect();
        (p + v[0], o + v[1])
    });
    assert_eq!(t.output_tokens, output);
    assert_eq!(t.prompt_tokens, Some(prompt));
}

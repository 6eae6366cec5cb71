//! LLM scenarios: `[service.llm]` (the token model) and `[traffic.tokens]` resolve into the
//! plan, and the arrival stream carries each request's token counts.

use std::path::Path;

use scalebench_core::Plan;
use scalebench_core::arrivals::ArrivalStream;
use scalebench_core::llm::Tokens;

const LLM: &str = r#"
duration = "10m"
[slo]
latency = "20s"
[traffic]
capacity_replicas = 4
[[traffic.shape]]
kind = "steady"
rate = "50%"
[traffic.tokens]
prompt = { dist = "uniform", min = 300, max = 500 }
output = 100
[service.llm]
prefill_per_token = "0.1ms"
step = "20ms"
step_per_sequence = "0.25ms"
max_batch = 32
kv_cache_tokens = 16384
[[cluster.pool]]
name = "gpu"
gpus_per_node = 1
price_per_hour = 2.0
max_nodes = 4
[[setup]]
name = "f"
[setup.fixed]
replicas = 4
"#;

fn parse(src: &str) -> Result<Plan, String> {
    Plan::parse(Path::new("llm.toml"), src).map_err(|e| e.to_string())
}

#[test]
fn the_token_model_sets_concurrency_service_time_and_capacity() {
    let p = parse(LLM).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        p.service.concurrency, 32,
        "max_batch is the replica's concurrency"
    );
    // Mean lengths 400 and 100: 40 ms of prefill and 100 steps of 20 ms alone.
    assert_eq!(p.service.time.mean_secs(), 2.04);
    // The docs' worked example: 7.891 requests/s per replica, 4 replicas.
    let per = 0.32 / 0.040_55;
    assert!(
        (p.capacity_rps - 4.0 * per).abs() < 1e-9,
        "{}",
        p.capacity_rps
    );
}

#[test]
fn arrivals_carry_their_tokens_and_a_service_time_made_of_them() {
    let p = parse(LLM).unwrap_or_else(|e| panic!("{e}"));
    let mut n = 0;
    for a in ArrivalStream::new(&p).take(2000) {
        let t = a.tokens.expect("an LLM plan's arrivals carry tokens");
        assert!((300..=500).contains(&t.prompt) && t.output == 100, "{t:?}");
        let alone = t.prompt as f64 * 1e-4 + 100.0 * 0.02;
        assert!(
            (a.service_s - alone).abs() < 1e-9,
            "{} vs {alone}",
            a.service_s
        );
        n += 1;
    }
    assert_eq!(n, 2000);
    // The same seed gives the same tokens; they do not move the arrival instants.
    let again: Vec<Option<Tokens>> = ArrivalStream::new(&p).take(50).map(|a| a.tokens).collect();
    let first: Vec<Option<Tokens>> = ArrivalStream::new(&p).take(50).map(|a| a.tokens).collect();
    assert_eq!(again, first);
    // Other token lengths leave the arrival instants where they were (their own stream).
    let fixed_rate = LLM.replace("capacity_replicas = 4", "capacity = 20");
    let instants = |src: &str| -> Vec<u64> {
        let p = parse(src).unwrap_or_else(|e| panic!("{e}"));
        ArrivalStream::new(&p).take(200).map(|a| a.t_ns).collect()
    };
    assert_eq!(
        instants(&fixed_rate),
        instants(&fixed_rate.replace("output = 100", "output = 300"))
    );
}

#[test]
fn a_token_model_without_token_counts_or_with_bad_settings_is_refused() {
    let no_tokens = LLM.replace(
        "[traffic.tokens]\nprompt = { dist = \"uniform\", min = 300, max = 500 }\noutput = 100\n",
        "",
    );
    let e = parse(&no_tokens).expect_err("tokens are needed");
    assert!(e.contains("add [traffic.tokens]"), "{e}");
    assert!(e.starts_with("llm.toml:"), "{e}");
    let e = parse(&LLM.replace("max_batch = 32", "max_batch = 0")).expect_err("batch");
    assert!(e.contains("service.llm.max_batch must be between 1"), "{e}");
    let e = parse(&LLM.replace("output = 100", "output = 0")).expect_err("zero");
    assert!(e.contains("between 1 and"), "{e}");
    let e = parse(&LLM.replace("kv_cache_tokens = 16384", "kv_cache_tokens = 0")).expect_err("kv");
    assert!(e.contains("kv_cache_tokens must be above zero"), "{e}");
    // Without the token model a service time is still required.
    let block = "[service.llm]\nprefill_per_token = \"0.1ms\"\nstep = \"20ms\"\nstep_per_sequence = \"0.25ms\"\nmax_batch = 32\nkv_cache_tokens = 16384\n";
    assert!(LLM.contains(block));
    let e = parse(&LLM.replace(block, "[service]\ngpus = 1\n")).expect_err("time");
    assert!(
        e.contains("service.time must have a mean above zero"),
        "{e}"
    );
}

/// The Azure LLM trace's first 300 rows, shipped with the traces crate's tests (CC-BY 4.0:
/// Patel et al., "Splitwise", ISCA 2024; see traces/tests/data/README.md).
fn trace_scenario(extra_trace: &str, traffic_extra: &str) -> String {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../traces/tests/data");
    LLM.replace(
        "[[traffic.shape]]\nkind = \"steady\"\nrate = \"50%\"\n",
        &format!(
            "{traffic_extra}[traffic.trace]\nfile = \"{dir}/azure-llm-2023-conv-head.csv\"\nformat = \"azure-llm\"\n{extra_trace}"
        ),
    )
    .replace(
        "[traffic.tokens]\nprompt = { dist = \"uniform\", min = 300, max = 500 }\noutput = 100\n",
        "",
    )
}

#[test]
fn a_trace_replays_its_instants_and_token_counts() {
    let src = trace_scenario("", "");
    let p = parse(&src).unwrap_or_else(|e| panic!("{e}"));
    let info = p.trace.expect("trace info");
    assert_eq!(info.requests, 300);
    let (prompt, output) = info.mean_tokens.expect("the trace has tokens");
    assert!(prompt > 100.0 && output > 10.0, "{prompt} {output}");
    let arrivals: Vec<_> = ArrivalStream::new(&p).collect();
    // The run (10 minutes) holds every request of the trace's first ~55 s.
    assert_eq!(arrivals.len(), 300);
    assert_eq!(arrivals[0].t_ns, 0);
    assert_eq!(
        arrivals[0].tokens,
        Some(Tokens {
            prompt: 374,
            output: 44
        })
    );
    // 18:15:50.9951690 - 18:15:46.6805900
    assert_eq!(arrivals[1].t_ns, 4_314_579_000);
    assert_eq!(
        arrivals[1].tokens,
        Some(Tokens {
            prompt: 396,
            output: 109
        })
    );
    assert!(arrivals.windows(2).all(|w| w[0].t_ns <= w[1].t_ns));
    // The token model's time alone for each request.
    let alone = 374.0 * 1e-4 + 44.0 * 0.02;
    assert!((arrivals[0].service_s - alone).abs() < 1e-9);

    // Twice as fast, looped: the run is cut at its duration.
    let p =
        parse(&trace_scenario("speed = 2.0\nloop = true\n", "")).unwrap_or_else(|e| panic!("{e}"));
    let n = ArrivalStream::new(&p).count();
    assert!(
        n > 300 * 10,
        "{n} requests in 10 minutes of a looped 27 s pass"
    );
    let expected = p.trace.expect("info").expected;
    assert!(
        (n as f64 - expected).abs() / expected < 0.05,
        "{n} vs {expected}"
    );
}

#[test]
fn a_trace_with_shapes_or_a_bad_row_is_refused_with_its_file_and_line() {
    let e = parse(&trace_scenario(
        "",
        "[[traffic.shape]]\nkind = \"steady\"\nrate = 1\n",
    ))
    .expect_err("both");
    assert!(e.contains("replaces the rate shapes"), "{e}");
    let dir = tempfile::tempdir().expect("a temp dir");
    let bad = dir.path().join("bad.csv");
    std::fs::write(
        &bad,
        "TIMESTAMP,ContextTokens,GeneratedTokens\n2023-11-16 18:15:46.6805900,374,44\n2023-11-16 18:15:47.0,x,3\n",
    )
    .expect("write");
    let src = trace_scenario("", "").replace(
        &format!(
            "{}/azure-llm-2023-conv-head.csv",
            concat!(env!("CARGO_MANIFEST_DIR"), "/../traces/tests/data")
        ),
        "bad.csv",
    );
    // The trace's file is found beside the scenario.
    let e = Plan::parse(&dir.path().join("s.toml"), &src)
        .map_err(|e| e.to_string())
        .expect_err("a bad row");
    assert!(e.contains("bad.csv:3"), "{e}");
    assert!(e.contains("s.toml:"), "{e}");
}

#[test]
fn traffic_openai_is_read_and_checked_with_its_place() {
    let with = |table: &str| LLM.replace("[service.llm]", &format!("{table}\n[service.llm]"));
    let p = parse(&with(
        "[traffic.openai]\napi = \"chat\"\nmodel = \"m\"\nstream = false\nencoding = \"o200k_base\"",
    ))
    .unwrap_or_else(|e| panic!("{e}"));
    let spec = p.traffic.openai.expect("[traffic.openai]");
    assert_eq!(
        (spec.api, spec.model.as_str(), spec.stream, spec.encoding),
        (openai::Api::Chat, "m", false, openai::Encoding::O200kBase)
    );
    assert!(spec.include_usage && spec.ignore_eos, "the defaults");
    // An unknown key, a bad API or encoding: serde's error, at its line.
    for (table, needle) in [
        (
            "[traffic.openai]\napi = \"chat\"\nmodel = \"m\"\nstreem = true",
            "streem",
        ),
        ("[traffic.openai]\napi = \"edit\"\nmodel = \"m\"", "edit"),
        (
            "[traffic.openai]\napi = \"chat\"\nmodel = \"m\"\nencoding = \"gpt2\"",
            "gpt2",
        ),
    ] {
        let src = with(table);
        let line = src.lines().position(|l| l.contains(needle)).unwrap_or(0) + 1;
        let e = parse(&src).expect_err(table);
        assert!(e.contains(needle), "{e}");
        assert!(e.starts_with(&format!("llm.toml:{line}:")), "{e}");
    }
    // Without token counts there is nothing to build prompts from: refused at [traffic].
    let no_tokens = LLM
        .replace(
            "[traffic.tokens]\nprompt = { dist = \"uniform\", min = 300, max = 500 }\noutput = 100\n",
            "",
        )
        .replace(
            "[service.llm]\nprefill_per_token = \"0.1ms\"\nstep = \"20ms\"\nstep_per_sequence = \"0.25ms\"\nmax_batch = 32\nkv_cache_tokens = 16384\n",
            "[service]\ntime = \"1s\"\n[traffic.openai]\napi = \"completions\"\nmodel = \"m\"\n",
        );
    let e = parse(&no_tokens).expect_err("tokens are needed");
    assert!(
        e.contains("[traffic.openai] needs the requests' token counts"),
        "{e}"
    );
    assert!(e.starts_with("llm.toml:"), "{e}");
    // A class may set its path and headers, not its body or method.
    let class = "[traffic.openai]\napi = \"completions\"\nmodel = \"m\"\n[[traffic.class]]\nname = \"a\"\nrequest = { path = \"/v1/x\", headers = { \"x-a\" = \"1\" } }\n[[traffic.class]]\nname = \"b\"\nrequest = { body = '{\"x\": 1}' }";
    let e = parse(&with(class)).expect_err("a body");
    assert!(
        e.contains("class \"b\"") && e.contains("path and headers only"),
        "{e}"
    );
    assert!(
        parse(&with(
            &class.replace("body = '{\"x\": 1}'", "path = \"/v1/y\"")
        ))
        .is_ok()
    );
    let e = parse(&with("[traffic.openai]\napi = \"chat\"\nmodel = \" \"")).expect_err("model");
    assert!(e.contains("needs a model"), "{e}");
}

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

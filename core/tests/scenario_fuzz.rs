//! Property test of the scenario parser: every shipped scenario (and an LLM one replaying a
//! small trace), mutated by byte flips, insertions, deletions, duplicated and dropped lines,
//! and truncation, through `Plan::parse`: never a panic, and every rejection names the file
//! and a line (`file:LINE:COLUMN: ...`) or the trace's file and line.

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use scalebench_core::Plan;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// (path, text) of every shipped scenario, plus an LLM scenario on the traces crate's
/// 300-row sample of the Azure trace (CC-BY 4.0; see traces/tests/data/README.md), whose
/// path resolves beside the sample.
fn samples() -> Vec<(PathBuf, String)> {
    let dir = root().join("workloads/scenarios");
    let mut out: Vec<(PathBuf, String)> = std::fs::read_dir(&dir)
        .expect("the shipped scenarios")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .filter(|p| !p.ends_with("llm-trace.toml"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("readable");
            (p, text)
        })
        .collect();
    out.sort();
    let llm = std::fs::read_to_string(dir.join("llm-trace.toml"))
        .expect("llm-trace.toml")
        .replace(
            "file = \"../traces/azure-llm-2023-conv.csv\"",
            "file = \"azure-llm-2023-conv-head.csv\"",
        );
    out.push((root().join("traces/tests/data/llm.toml"), llm));
    out
}

#[derive(Clone, Debug)]
enum Mutation {
    Flip(usize, u8),
    Insert(usize, u8),
    Delete(usize),
    DuplicateLine(usize),
    DropLine(usize),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<usize>().prop_map(Mutation::Delete),
        any::<usize>().prop_map(Mutation::DuplicateLine),
        any::<usize>().prop_map(Mutation::DropLine),
        any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn apply(text: &str, ms: &[Mutation]) -> Vec<u8> {
    let mut b = text.as_bytes().to_vec();
    for m in ms {
        let n = b.len().max(1);
        match *m {
            Mutation::Flip(i, x) if !b.is_empty() => b[i % n] ^= x.max(1),
            Mutation::Insert(i, x) => b.insert(i % (b.len() + 1), x),
            Mutation::Delete(i) if !b.is_empty() => {
                b.remove(i % n);
            }
            Mutation::DuplicateLine(i) | Mutation::DropLine(i) => {
                let mut lines: Vec<Vec<u8>> =
                    b.split(|&c| c == b'\n').map(<[u8]>::to_vec).collect();
                let k = i % lines.len();
                if matches!(m, Mutation::DropLine(_)) {
                    lines.remove(k);
                } else {
                    let l = lines[k].clone();
                    lines.insert(k, l);
                }
                b = lines.join(&b'\n');
            }
            Mutation::Truncate(i) => b.truncate(i % n),
            _ => {}
        }
    }
    b
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 10_000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn mutated_scenarios_never_panic_and_every_error_has_a_place(
        which in any::<usize>(),
        ms in prop::collection::vec(mutation(), 1..4),
    ) {
        let all = samples_cached();
        let (path, text) = &all[which % all.len()];
        let bytes = apply(text, &ms);
        // A scenario is text: bytes that are not UTF-8 are refused before parsing, by `load`.
        let Ok(src) = String::from_utf8(bytes) else { return Ok(()); };
        if let Err(e) = Plan::parse(path, &src) {
            let msg = e.to_string();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            let placed = msg.contains(&format!("{name}:"))
                || msg.contains(".csv:");
            prop_assert!(placed, "no place in: {}", msg);
        }
    }
}

fn samples_cached() -> &'static [(PathBuf, String)] {
    static SAMPLES: std::sync::OnceLock<Vec<(PathBuf, String)>> = std::sync::OnceLock::new();
    SAMPLES.get_or_init(samples)
}

#[test]
fn every_sample_parses_unmutated() {
    for (path, text) in samples_cached() {
        if let Err(e) = Plan::parse(path, text) {
            panic!("{}: {e}", path.display());
        }
    }
}

//! Property tests: every trace parser is fed at least 10,000 mutated inputs (valid samples with
//! bytes flipped, inserted or deleted, lines duplicated, dropped or swapped, tricky fragments
//! spliced in, the file cut short). Never a panic; every error names the file and a line; the
//! records that do come out are in time order.

use std::io::Write;

use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::TestCaseError;
use traces::{CsvColumns, Format, Malformed, ReplaySpec, Spread, TimeUnit};

const CASES: u32 = 10_000;

const AZURE_LLM: &str = "TIMESTAMP,ContextTokens,GeneratedTokens\r\n\
2023-11-16 18:15:46.6805900,374,44\r\n\
2023-11-16 18:15:50.9951690,396,109\r\n\
2024-05-10 00:00:01+00:00,879,55\r\n\
2024-05-10 00:00:01.004000+00:00,91,16";

const FUNCTIONS_2021: &str = "app,func,end_timestamp,duration\n\
7b2c,9ed2,0.0418487,0.04184\n\
7b2c,9ed2,12.5,0.5\n\
a3f1,0c11,3.000001,2.999\n\
a3f1,0c11,1.25,0.0\n\
a3f1,0c12,7,1e-3\n";

const BURSTGPT: &str = "Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type\n\
5,ChatGPT,472,18,490,Conversation log\n\
45,\"GPT-4, 32k\",1087,0,1087,API log\n\
45.5,ChatGPT,12,300,312,Conversation log\n";

const MOONCAKE: &str = "{\"timestamp\": 27482, \"input_length\": 6955, \"output_length\": 52, \"hash_ids\": [46, 47, 48]}\n\
{\"timestamp\": 30535, \"input_length\": 6472, \"output_length\": 26, \"hash_ids\": []}\n\
{\"timestamp\": 30535.5, \"input_length\": 2, \"output_length\": 1.0}\n";

const SPEC_TOML: &str = "file = \"../../shared/traces/azure-llm-2023-conv.csv\"\n\
format = \"csv\"\n\
time_column = \"timestamp\"\n\
time_unit = \"ms\"\n\
speed = 2.0\n\
rate_scale = 1.5\n\
window = { start = \"10m\", length = \"30m\" }\n\
loop = true\n\
malformed = \"skip\"\n\
sorted = false\n";

const CSV: &str = "id,ts,in,out\n1,1000.5,100,10\n\"2\",1250,\"200\",20\n3,1250,0,0\n";

fn functions_2019() -> String {
    let mut out = String::from("HashOwner,HashApp,HashFunction,Trigger");
    for m in 1..=1440 {
        out.push_str(&format!(",{m}"));
    }
    for (i, trigger) in ["http", "timer", "queue"].iter().enumerate() {
        out.push_str(&format!("\no{i},a{i},f{i},{trigger}"));
        for m in 0..1440 {
            out.push_str(if m % (97 + i) == 5 { ",3" } else { ",0" });
        }
    }
    out.push('\n');
    out
}

/// Fragments that tend to find parser edges.
const FRAGMENTS: &[&[u8]] = &[
    b"\xef\xbb\xbf",
    b"\r\n",
    b"\n\n",
    b"\"",
    b"\"\"",
    b",",
    b"-1",
    b"-",
    b"1e999",
    b"1e-999",
    b"99999999999999999999999",
    b"4294967296",
    b"9223372036854775808",
    b"NaN",
    b"{",
    b"}",
    b"[",
    b"2023-13-45 25:61:61",
    b"9999-12-31 23:59:59",
    b"1969-12-31 23:59:59",
    b"+99:99",
    b"\xff\xfe",
    b"\0",
    b" ",
];

#[derive(Debug, Clone)]
enum Mutation {
    Flip(Index, u8),
    Insert(Index, u8),
    Delete(Index),
    Splice(Index, usize),
    DuplicateLine(Index),
    DropLine(Index),
    SwapLines(Index, Index),
    Truncate(Index),
}

fn byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        any::<u8>(),
        prop::sample::select(b",\"\n\r-.e9 0:T+Z{}[]".to_vec()),
    ]
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => (any::<Index>(), 1u8..).prop_map(|(i, x)| Mutation::Flip(i, x)),
        3 => (any::<Index>(), byte()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        2 => any::<Index>().prop_map(Mutation::Delete),
        3 => (any::<Index>(), 0..FRAGMENTS.len()).prop_map(|(i, f)| Mutation::Splice(i, f)),
        1 => any::<Index>().prop_map(Mutation::DuplicateLine),
        1 => any::<Index>().prop_map(Mutation::DropLine),
        1 => (any::<Index>(), any::<Index>()).prop_map(|(a, b)| Mutation::SwapLines(a, b)),
        1 => any::<Index>().prop_map(Mutation::Truncate),
    ]
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    let at = |i: &Index, len: usize| if len == 0 { 0 } else { i.index(len) };
    match m {
        Mutation::Flip(i, x) => {
            if !bytes.is_empty() {
                let k = at(i, bytes.len());
                bytes[k] ^= x;
            }
        }
        Mutation::Insert(i, b) => {
            let k = at(i, bytes.len() + 1);
            bytes.insert(k, *b);
        }
        Mutation::Delete(i) => {
            if !bytes.is_empty() {
                let k = at(i, bytes.len());
                bytes.remove(k);
            }
        }
        Mutation::Splice(i, f) => {
            let k = at(i, bytes.len() + 1);
            bytes.splice(k..k, FRAGMENTS[*f].iter().copied());
        }
        Mutation::DuplicateLine(i) | Mutation::DropLine(i) | Mutation::SwapLines(i, _) => {
            let mut lines: Vec<Vec<u8>> =
                bytes.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
            let k = at(i, lines.len());
            match m {
                Mutation::DuplicateLine(_) => {
                    let line = lines[k].clone();
                    lines.insert(k, line);
                }
                Mutation::DropLine(_) => {
                    lines.remove(k);
                }
                Mutation::SwapLines(_, j) => {
                    let j = at(j, lines.len());
                    lines.swap(k, j);
                }
                _ => {}
            }
            *bytes = lines.join(&b'\n');
        }
        Mutation::Truncate(i) => {
            let k = at(i, bytes.len() + 1);
            bytes.truncate(k);
        }
    }
}

/// Options varied per case.
#[derive(Debug, Clone)]
struct Options {
    skip: bool,
    rate_scale: f64,
    speed: f64,
}

fn options() -> impl Strategy<Value = Options> {
    (
        any::<bool>(),
        prop::sample::select(vec![1.0, 0.5, 2.5]),
        prop::sample::select(vec![1.0, 3.0]),
    )
        .prop_map(|(skip, rate_scale, speed)| Options {
            skip,
            rate_scale,
            speed,
        })
}

fn check_error(e: &traces::TraceError, spec: &ReplaySpec) -> Result<(), TestCaseError> {
    let text = e.to_string();
    let line = e.line();
    prop_assert!(line.is_some(), "no line in: {text}");
    let prefix = format!("{}:{}: ", spec.file.display(), line.unwrap_or(0));
    prop_assert!(text.starts_with(&prefix), "{text}");
    prop_assert!(text.contains("expected"), "{text}");
    Ok(())
}

/// Feeds the mutated `sample` to `open` (reading up to 20,000 records) and `scan`.
fn feed(
    format: Format,
    sample: &[u8],
    mutations: &[Mutation],
    opts: &Options,
) -> Result<(), TestCaseError> {
    let mut bytes = sample.to_vec();
    for m in mutations {
        apply(&mut bytes, m);
    }
    let mut file =
        tempfile::NamedTempFile::new().map_err(|e| TestCaseError::fail(e.to_string()))?;
    file.write_all(&bytes)
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    let mut spec = ReplaySpec::new(file.path(), format);
    spec.malformed = if opts.skip {
        Malformed::Skip
    } else {
        Malformed::Fail
    };
    spec.rate_scale = opts.rate_scale;
    spec.speed = opts.speed;
    spec.sort_chunk_rows = 3; // the spill path, for the unsorted formats
    match traces::open(&spec) {
        Err(e) => check_error(&e, &spec)?,
        Ok(replay) => {
            let mut prev = 0;
            for r in replay.take(20_000) {
                match r {
                    Ok(r) => {
                        prop_assert!(r.t_ns >= prev, "out of order: {} after {prev}", r.t_ns);
                        prev = r.t_ns;
                    }
                    Err(e) => {
                        check_error(&e, &spec)?;
                        break;
                    }
                }
            }
        }
    }
    if let Err(e) = traces::scan(&spec) {
        check_error(&e, &spec)?;
    }
    Ok(())
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: CASES,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn azure_llm(m in prop::collection::vec(mutation(), 1..8), o in options()) {
        feed(Format::AzureLlm, AZURE_LLM.as_bytes(), &m, &o)?;
    }

    #[test]
    fn azure_functions_2019(m in prop::collection::vec(mutation(), 1..8), o in options()) {
        let format = Format::AzureFunctions2019 { spread: Spread::Poisson, triggers: vec![] };
        feed(format, functions_2019().as_bytes(), &m, &o)?;
    }

    #[test]
    fn azure_functions_2021(m in prop::collection::vec(mutation(), 1..8), o in options()) {
        feed(Format::AzureFunctions2021, FUNCTIONS_2021.as_bytes(), &m, &o)?;
    }

    #[test]
    fn burstgpt(m in prop::collection::vec(mutation(), 1..8), o in options()) {
        feed(Format::BurstGpt, BURSTGPT.as_bytes(), &m, &o)?;
    }

    #[test]
    fn mooncake(m in prop::collection::vec(mutation(), 1..8), o in options()) {
        feed(Format::Mooncake, MOONCAKE.as_bytes(), &m, &o)?;
    }

    #[test]
    fn replay_spec_toml(m in prop::collection::vec(mutation(), 1..8)) {
        // What a scenario's [traffic.trace] table holds: a spec that reads is a valid one.
        let mut bytes = SPEC_TOML.as_bytes().to_vec();
        for one in &m {
            apply(&mut bytes, one);
        }
        if let Ok(spec) = toml::from_str::<ReplaySpec>(&String::from_utf8_lossy(&bytes)) {
            prop_assert!(spec.validate().is_ok(), "{spec:?}");
        }
    }

    #[test]
    fn generic_csv(m in prop::collection::vec(mutation(), 1..8), o in options(), sorted in any::<bool>(), rfc in any::<bool>()) {
        let (sample, unit) = if rfc {
            (CSV.replace("1000.5", "2024-05-10T00:00:00.5Z").replace("1250", "2024-05-10 00:00:01.25+00:00"), TimeUnit::Rfc3339)
        } else {
            (CSV.to_string(), TimeUnit::Ms)
        };
        let format = Format::Csv(CsvColumns {
            time_column: "ts".into(),
            time_unit: unit,
            prompt_column: Some("in".into()),
            output_column: Some("out".into()),
            sorted,
        });
        feed(format, sample.as_bytes(), &m, &o)?;
    }
}

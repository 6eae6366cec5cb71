//! What to replay: the file, its format, and the transforms. These types are what a scenario's
//! `[traffic.trace]` table holds, so they deserialize from TOML or JSON as-is (unknown keys are
//! refused), with the format's own options beside `format` in the same table.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::TraceError;
use crate::parse::format_duration_ns;
use crate::scale::{SPEED_RANGE, Scale};

/// The rate scales a replay accepts.
pub(crate) const RATE_SCALE_RANGE: std::ops::RangeInclusive<f64> = 1e-6..=1000.0;

/// The external sort's default chunk: at most this many rows are held in memory at once.
pub const DEFAULT_SORT_CHUNK_ROWS: usize = 500_000;

/// A replay: the trace file, its format and the transforms applied in order (window, speed,
/// rate scale, loop).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "RawSpec", into = "RawSpec")]
pub struct ReplaySpec {
    /// The trace file (the caller resolves a relative path).
    pub file: PathBuf,
    /// Its format, with the format's options.
    pub format: Format,
    /// Time scale: the trace's clock runs this many times faster (gaps divided by it). 1 keeps
    /// the trace's pace; from 0.001 to 1,000,000.
    pub speed: f64,
    /// More or fewer requests with the same shape over time: each request is kept with
    /// probability k when k < 1, and sent floor(k) times plus once more with probability
    /// frac(k) when k >= 1, the copies spread between it and the next request. 1 keeps the
    /// trace as it is; from 0.000001 to 1000.
    pub rate_scale: f64,
    /// The part of the trace to replay, in trace time (before speed). Whole trace by default.
    pub window: Window,
    /// Repeat the window until the consumer stops reading (the replay then never ends).
    pub looping: bool,
    /// What a malformed row does: fail (the default) or skip it and count it.
    pub malformed: Malformed,
    /// The seed of every random draw (rate scaling, Functions 2019's spread).
    pub seed: u64,
    /// The external sort's chunk for unsorted formats: the most rows held in memory at once.
    pub sort_chunk_rows: usize,
}

impl ReplaySpec {
    /// A replay of the whole of `file` as it is: speed 1, rate scale 1, no loop, failing on the
    /// first malformed row, seed 0.
    pub fn new(file: impl Into<PathBuf>, format: Format) -> Self {
        ReplaySpec {
            file: file.into(),
            format,
            speed: 1.0,
            rate_scale: 1.0,
            window: Window::default(),
            looping: false,
            malformed: Malformed::Fail,
            seed: 0,
            sort_chunk_rows: DEFAULT_SORT_CHUNK_ROWS,
        }
    }

    /// Checks the options' ranges and the format's options.
    pub fn validate(&self) -> Result<(), TraceError> {
        self.checked().map(|_| ())
    }

    /// Checks the options and returns the speed's exact scale.
    pub(crate) fn checked(&self) -> Result<Scale, TraceError> {
        let path = &self.file;
        let scale = Scale::new(self.speed).ok_or_else(|| {
            TraceError::option(
                path,
                "speed",
                self.speed.to_string(),
                format!(
                    "a time scale from {} to {}",
                    SPEED_RANGE.start(),
                    SPEED_RANGE.end()
                ),
            )
        })?;
        if !RATE_SCALE_RANGE.contains(&self.rate_scale) {
            return Err(TraceError::option(
                path,
                "rate_scale",
                self.rate_scale.to_string(),
                "a rate scale from 0.000001 to 1000",
            ));
        }
        if self.window.length == Some(Duration::ZERO) {
            return Err(TraceError::option(
                path,
                "window.length",
                "0",
                "a window longer than 0 (leave it out for the rest of the trace)",
            ));
        }
        if self.sort_chunk_rows == 0 {
            return Err(TraceError::option(
                path,
                "sort_chunk_rows",
                "0",
                "at least 1 row",
            ));
        }
        if let Format::Csv(cols) = &self.format
            && cols.time_column.is_empty()
        {
            return Err(TraceError::option(
                path,
                "time_column",
                "empty",
                "the name of the time column in the header",
            ));
        }
        Ok(scale)
    }
}

/// The format of a trace file.
///
/// As a table of its own it is tagged by `format`, with the format's options beside it (serde
/// cannot refuse unknown keys beside a format without options; [`ReplaySpec`]'s flat table does).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "format", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Format {
    /// Azure LLM inference traces, 2023 and 2024: `TIMESTAMP,ContextTokens,GeneratedTokens`,
    /// sorted.
    AzureLlm,
    /// Azure Functions 2019: per-minute invocation counts per function for one day
    /// (`HashOwner,HashApp,HashFunction,Trigger,1,...,1440`), spread within each minute.
    #[serde(rename = "azure-functions-2019")]
    AzureFunctions2019 {
        /// How a minute's invocations are placed within it.
        #[serde(default)]
        spread: Spread,
        /// Only functions with one of these triggers (`http`, `timer`, `queue`, ...; case
        /// ignored); all when empty.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        triggers: Vec<String>,
    },
    /// Azure Functions 2021: `app,func,end_timestamp,duration` in seconds, unsorted; a request
    /// arrives at `end_timestamp - duration`.
    #[serde(rename = "azure-functions-2021")]
    AzureFunctions2021,
    /// BurstGPT: `Timestamp,Model,Request tokens,Response tokens,Total tokens,Log Type`,
    /// seconds from the trace's start, sorted.
    #[serde(rename = "burstgpt")]
    BurstGpt,
    /// Mooncake JSON lines: `{"timestamp": ms, "input_length": n, "output_length": n, ...}`,
    /// sorted.
    Mooncake,
    /// A CSV file with a header, a time column and optional token columns.
    Csv(CsvColumns),
}

impl Format {
    /// The name a scenario uses (`azure-llm`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            Format::AzureLlm => "azure-llm",
            Format::AzureFunctions2019 { .. } => "azure-functions-2019",
            Format::AzureFunctions2021 => "azure-functions-2021",
            Format::BurstGpt => "burstgpt",
            Format::Mooncake => "mooncake",
            Format::Csv(_) => "csv",
        }
    }
}

/// How Azure Functions 2019's per-minute counts are placed within their minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Spread {
    /// As a Poisson process would: the sorted order statistics of n uniform draws (seeded).
    #[default]
    Poisson,
    /// Evenly spaced: the i-th of n (from 0) at (2i + 1) / 2n of the minute.
    Uniform,
    /// All n at the minute's first instant, as a burst (the worst case for a per-minute count).
    Constant,
}

/// The columns of a generic CSV trace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CsvColumns {
    /// The header name of the time column.
    pub time_column: String,
    /// Its unit.
    #[serde(default)]
    pub time_unit: TimeUnit,
    /// The header name of the prompt-token column, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_column: Option<String>,
    /// The header name of the output-token column, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_column: Option<String>,
    /// Whether the rows are in time order (the default); `false` sorts the file first with an
    /// external sort.
    #[serde(default = "yes")]
    pub sorted: bool,
}

fn yes() -> bool {
    true
}

/// The unit of a generic CSV's time column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TimeUnit {
    /// Seconds, a decimal (`12.5`).
    #[default]
    S,
    /// Milliseconds, a decimal.
    Ms,
    /// Microseconds, a decimal.
    Us,
    /// Nanoseconds, a decimal.
    Ns,
    /// A date-time, `2024-05-10T00:00:00.004Z` (RFC 3339; a space may stand for the `T` and no
    /// zone means UTC).
    Rfc3339,
}

/// The part of a trace to replay, in trace time: from `start` after the first request, for
/// `length` (to the end of the trace when `None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Window {
    /// Where the window starts, after the trace's first request.
    #[serde(default, with = "human")]
    pub start: Duration,
    /// How long it is; to the end of the trace when `None`.
    #[serde(default, with = "human_opt", skip_serializing_if = "Option::is_none")]
    pub length: Option<Duration>,
}

/// What a malformed row does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Malformed {
    /// The first malformed row is an error naming the file and line.
    #[default]
    Fail,
    /// Malformed rows are skipped and counted ([`crate::Replay::skipped`]).
    Skip,
}

/// The flat table a scenario writes; [`ReplaySpec`] is its checked form.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSpec {
    file: PathBuf,
    format: FormatName,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    speed: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    rate_scale: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    window: Option<Window>,
    #[serde(rename = "loop", default, skip_serializing_if = "Option::is_none")]
    looping: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    malformed: Option<Malformed>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    seed: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sort_chunk_rows: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    spread: Option<Spread>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    triggers: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    time_column: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    time_unit: Option<TimeUnit>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    prompt_column: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    output_column: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sorted: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
enum FormatName {
    #[serde(rename = "azure-llm")]
    AzureLlm,
    #[serde(rename = "azure-functions-2019")]
    AzureFunctions2019,
    #[serde(rename = "azure-functions-2021")]
    AzureFunctions2021,
    #[serde(rename = "burstgpt")]
    BurstGpt,
    #[serde(rename = "mooncake")]
    Mooncake,
    #[serde(rename = "csv")]
    Csv,
}

impl TryFrom<RawSpec> for ReplaySpec {
    type Error = String;

    fn try_from(raw: RawSpec) -> Result<Self, String> {
        let only = |present: bool, key: &str, format: &str| {
            if present {
                Err(format!("`{key}` is only for format = \"{format}\""))
            } else {
                Ok(())
            }
        };
        let csv_keys = [
            ("time_column", raw.time_column.is_some()),
            ("time_unit", raw.time_unit.is_some()),
            ("prompt_column", raw.prompt_column.is_some()),
            ("output_column", raw.output_column.is_some()),
            ("sorted", raw.sorted.is_some()),
        ];
        if raw.format != FormatName::Csv {
            for (key, present) in csv_keys {
                only(present, key, "csv")?;
            }
        }
        if raw.format != FormatName::AzureFunctions2019 {
            only(raw.spread.is_some(), "spread", "azure-functions-2019")?;
            only(raw.triggers.is_some(), "triggers", "azure-functions-2019")?;
        }
        let format = match raw.format {
            FormatName::AzureLlm => Format::AzureLlm,
            FormatName::AzureFunctions2019 => Format::AzureFunctions2019 {
                spread: raw.spread.unwrap_or_default(),
                triggers: raw.triggers.unwrap_or_default(),
            },
            FormatName::AzureFunctions2021 => Format::AzureFunctions2021,
            FormatName::BurstGpt => Format::BurstGpt,
            FormatName::Mooncake => Format::Mooncake,
            FormatName::Csv => Format::Csv(CsvColumns {
                time_column: raw.time_column.ok_or(
                    "format = \"csv\" needs `time_column`, the header name of the time column",
                )?,
                time_unit: raw.time_unit.unwrap_or_default(),
                prompt_column: raw.prompt_column,
                output_column: raw.output_column,
                sorted: raw.sorted.unwrap_or(true),
            }),
        };
        let spec = ReplaySpec {
            file: raw.file,
            format,
            speed: raw.speed.unwrap_or(1.0),
            rate_scale: raw.rate_scale.unwrap_or(1.0),
            window: raw.window.unwrap_or_default(),
            looping: raw.looping.unwrap_or(false),
            malformed: raw.malformed.unwrap_or_default(),
            seed: raw.seed.unwrap_or(0),
            sort_chunk_rows: raw.sort_chunk_rows.unwrap_or(DEFAULT_SORT_CHUNK_ROWS),
        };
        spec.validate().map_err(|e| match e.kind() {
            crate::ErrorKind::Option {
                option,
                found,
                expected,
            } => format!("`{option}` is {found}; expected {expected}"),
            other => other.to_string(),
        })?;
        Ok(spec)
    }
}

impl From<ReplaySpec> for RawSpec {
    fn from(spec: ReplaySpec) -> Self {
        let mut raw = RawSpec {
            file: spec.file,
            format: FormatName::AzureLlm,
            speed: (spec.speed != 1.0).then_some(spec.speed),
            rate_scale: (spec.rate_scale != 1.0).then_some(spec.rate_scale),
            window: (spec.window != Window::default()).then_some(spec.window),
            looping: spec.looping.then_some(true),
            malformed: (spec.malformed != Malformed::Fail).then_some(spec.malformed),
            seed: (spec.seed != 0).then_some(spec.seed),
            sort_chunk_rows: (spec.sort_chunk_rows != DEFAULT_SORT_CHUNK_ROWS)
                .then_some(spec.sort_chunk_rows),
            spread: None,
            triggers: None,
            time_column: None,
            time_unit: None,
            prompt_column: None,
            output_column: None,
            sorted: None,
        };
        raw.format = match spec.format {
            Format::AzureLlm => FormatName::AzureLlm,
            Format::AzureFunctions2019 { spread, triggers } => {
                raw.spread = Some(spread);
                raw.triggers = (!triggers.is_empty()).then_some(triggers);
                FormatName::AzureFunctions2019
            }
            Format::AzureFunctions2021 => FormatName::AzureFunctions2021,
            Format::BurstGpt => FormatName::BurstGpt,
            Format::Mooncake => FormatName::Mooncake,
            Format::Csv(cols) => {
                raw.time_column = Some(cols.time_column);
                raw.time_unit = Some(cols.time_unit);
                raw.prompt_column = cols.prompt_column;
                raw.output_column = cols.output_column;
                raw.sorted = (!cols.sorted).then_some(false);
                FormatName::Csv
            }
        };
        raw
    }
}

/// Serde for a [`Duration`] written as `"10m"`, `"30s"`, `"1h"`, `"250ms"`.
mod human {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    use crate::parse::{format_duration_ns, human_duration_ns};

    pub(super) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        let ns = u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
        s.serialize_str(&format_duration_ns(ns))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        let text = String::deserialize(d)?;
        human_duration_ns(&text)
            .map(Duration::from_nanos)
            .map_err(serde::de::Error::custom)
    }
}

/// [`human`] for an optional duration.
mod human_opt {
    use std::time::Duration;

    use serde::{Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
        match d {
            Some(d) => super::human::serialize(d, s),
            None => s.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Duration>, D::Error> {
        super::human::deserialize(d).map(Some)
    }
}

/// The window's bounds in trace nanoseconds after the trace's first request.
pub(crate) fn window_ns(window: &Window) -> (u64, Option<u64>) {
    let start = u64::try_from(window.start.as_nanos()).unwrap_or(u64::MAX);
    let end = window
        .length
        .map(|len| start.saturating_add(u64::try_from(len.as_nanos()).unwrap_or(u64::MAX)));
    (start, end)
}

/// A window for messages: `[10m, 40m)` or `from 10m`.
pub(crate) fn describe_window(window: &Window) -> String {
    let (start, end) = window_ns(window);
    match end {
        Some(end) => format!(
            "[{}, {})",
            format_duration_ns(start),
            format_duration_ns(end)
        ),
        None => format!("from {}", format_duration_ns(start)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse::human_duration_ns;

    #[test]
    fn durations_round_trip() {
        assert_eq!(human_duration_ns("10m"), Ok(600_000_000_000));
        let w = Window {
            start: Duration::from_secs(600),
            length: Some(Duration::from_millis(1500)),
        };
        assert_eq!(describe_window(&w), "[10m, 601500ms)");
    }
}

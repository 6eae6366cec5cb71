//! Number formatting for the terminal tables: a few significant digits, explicit units, and
//! never a rounding that makes a figure look better than it is.

/// `v` to 3 significant digits, keeping trailing zeros (`1.20`); integers of 4 or more digits
/// are printed whole. Non-finite values print as Rust prints them (`NaN`, `inf`).
pub(crate) fn sig3(v: f64) -> String {
    if !v.is_finite() {
        return v.to_string();
    }
    if v == 0.0 {
        return "0".to_owned();
    }
    let decimals = |x: f64| (2 - x.abs().log10().floor() as i32).max(0) as usize;
    let d = decimals(v);
    let s = format!("{v:.d$}");
    // Rounding may add a digit (9.996 -> "10.00"): count again on the rounded value.
    let rounded: f64 = s.parse().unwrap_or(v);
    let d2 = decimals(rounded);
    if d2 < d { format!("{rounded:.d2$}") } else { s }
}

/// Drops trailing zeros after a decimal point, and the point itself if nothing is left.
pub(crate) fn trim(s: String) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    }
}

/// A latency in milliseconds: `42.1 ms` below a second, `1.23 s` from a second on.
pub(crate) fn ms(v: f64) -> String {
    let s = sig3(v);
    if s.parse::<f64>().is_ok_and(|r| r.abs() >= 1000.0) {
        format!("{} s", sig3(v / 1000.0))
    } else {
        format!("{s} ms")
    }
}

/// Seconds, 3 significant digits without trailing zeros: `42`, `3.5`, `0.25`.
pub(crate) fn secs(v: f64) -> String {
    trim(sig3(v))
}

/// A span of seconds the way people say it: `45s`, `10m`, `10m30s`, `1h30m`, `1h01m05s`.
pub(crate) fn duration(v: f64) -> String {
    if !v.is_finite() || v < 60.0 {
        return format!("{}s", secs(v));
    }
    let total = v.round() as u64;
    let (h, m, s) = (total / 3600, total / 60 % 60, total % 60);
    match (h, m, s) {
        (0, m, 0) => format!("{m}m"),
        (0, m, s) => format!("{m}m{s:02}s"),
        (h, 0, 0) => format!("{h}h"),
        (h, m, 0) => format!("{h}h{m:02}m"),
        (h, m, s) => format!("{h}h{m:02}m{s:02}s"),
    }
}

/// A fraction as a percentage with 2 decimals, rounded down so a value below a threshold never
/// prints at or above it (0.98996 is `98.99%`, not `99.00%`).
pub(crate) fn pct_floor(fraction: f64) -> String {
    if !fraction.is_finite() {
        return fraction.to_string();
    }
    // The epsilon keeps 0.999 (99.8999...% in binary) at 99.90%.
    let hundredths = (fraction * 10_000.0 + 1e-6).floor();
    format!("{:.2}%", hundredths / 100.0)
}

/// A fraction as a percentage with one decimal: `37.5%`.
pub(crate) fn pct1(fraction: f64) -> String {
    format!("{:.1}%", fraction * 100.0)
}

/// Money: cents from a dollar on (`$12.35`), 3 significant digits below (`$0.00167`).
pub(crate) fn usd(v: f64) -> String {
    if v.abs() >= 1.0 {
        format!("${v:.2}")
    } else {
        format!("${}", sig3(v))
    }
}

/// A rate: `1234/s`, `56.7/s`, `0.5/s`.
pub(crate) fn per_s(v: f64) -> String {
    format!("{}/s", trim(sig3(v)))
}

/// `v` shown by `show`, or `-` when nothing measured it.
pub(crate) fn or_dash<T>(v: Option<T>, show: impl FnOnce(T) -> String) -> String {
    v.map_or_else(|| "-".to_owned(), show)
}

/// A load engine limit's value or bound in its unit (`ms`, `count`, `fraction`): `12.3 ms`,
/// `1 ms`, `1.23 s`, `40`, `97%`.
pub(crate) fn limit_value(unit: &str, v: f64) -> String {
    match unit {
        "ms" if v.abs() >= 1000.0 => ms(v),
        "ms" => format!("{} ms", trim(sig3(v))),
        "fraction" => format!("{}%", trim(sig3(v * 100.0))),
        "count" if v.fract() == 0.0 => format!("{v:.0}"),
        _ => trim(sig3(v)),
    }
}

/// What a load engine limit measures, for sentences: `pacing lag p99`, `requests not sent`.
pub(crate) fn limit_label(reason: &str) -> &str {
    match reason {
        "pacing_lag" => "pacing lag p99",
        "not_sent" => "requests not sent",
        "saturated" => "busiest sending thread busy",
        "connection_cap" => "connection wait p99",
        other => other,
    }
}

/// An SLO percentile as a label: 99 is `p99`, 99.9 is `p99.9`.
pub(crate) fn percentile(p: f64) -> String {
    format!("p{}", trim(format!("{p:.3}")))
}

/// The load engine's figures as the terminal and the HTML show them, in the order of their
/// columns: lag p50, p99, max, pacing p99, connection wait p99, shards, connections, busy.
pub(crate) fn load_cells(l: &scalebench_core::report::LoadReport) -> [String; 8] {
    [
        ms(l.schedule_lag_ms.p50),
        ms(l.schedule_lag_ms.p99),
        ms(l.schedule_lag_ms.max),
        ms(l.pacing_lag_ms.p99),
        ms(l.connection_wait_ms.p99),
        or_dash(l.shards, |n| n.to_string()),
        or_dash(l.max_connections, |n| n.to_string()),
        or_dash(l.peak_busy, pct1),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn three_significant_digits() {
        assert_eq!(sig3(0.0), "0");
        assert_eq!(sig3(1.2), "1.20");
        assert_eq!(sig3(12.345), "12.3");
        assert_eq!(sig3(123.45), "123");
        assert_eq!(sig3(0.001234), "0.00123");
        assert_eq!(sig3(9.996), "10.0");
        assert_eq!(sig3(99.96), "100");
        assert_eq!(sig3(4321.0), "4321");
    }

    #[test]
    fn latency_switches_to_seconds_after_rounding() {
        assert_eq!(ms(42.14), "42.1 ms");
        assert_eq!(ms(0.5), "0.500 ms");
        assert_eq!(ms(999.4), "999 ms");
        assert_eq!(ms(999.6), "1.00 s");
        assert_eq!(ms(1234.0), "1.23 s");
        assert_eq!(ms(30_000.0), "30.0 s");
    }

    #[test]
    fn seconds_and_durations() {
        assert_eq!(secs(42.0), "42");
        assert_eq!(secs(3.5), "3.5");
        assert_eq!(secs(0.25), "0.25");
        assert_eq!(duration(45.0), "45s");
        assert_eq!(duration(600.0), "10m");
        assert_eq!(duration(630.0), "10m30s");
        assert_eq!(duration(5400.0), "1h30m");
        assert_eq!(duration(3665.0), "1h01m05s");
        assert_eq!(duration(7200.0), "2h");
    }

    #[test]
    fn percentages_never_round_up_past_a_threshold() {
        assert_eq!(pct_floor(0.98996), "98.99%");
        assert_eq!(pct_floor(0.999), "99.90%");
        assert_eq!(pct_floor(1.0), "100.00%");
        assert_eq!(pct1(0.375), "37.5%");
    }

    #[test]
    fn money_and_labels() {
        assert_eq!(usd(12.346), "$12.35");
        assert_eq!(usd(0.001667), "$0.00167");
        assert_eq!(usd(0.0), "$0");
        assert_eq!(percentile(99.0), "p99");
        assert_eq!(percentile(99.9), "p99.9");
    }

    #[test]
    fn limits_and_unknowns() {
        assert_eq!(limit_value("ms", 12.34), "12.3 ms");
        assert_eq!(limit_value("ms", 1.0), "1 ms");
        assert_eq!(limit_value("ms", 1500.0), "1.50 s");
        assert_eq!(limit_value("count", 40.0), "40");
        assert_eq!(limit_value("fraction", 0.97), "97%");
        assert_eq!(limit_label("pacing_lag"), "pacing lag p99");
        assert_eq!(limit_label("new_kind"), "new_kind");
        assert_eq!(or_dash(None::<f64>, usd), "-");
        assert_eq!(or_dash(Some(0.0), usd), "$0");
        assert_eq!(per_s(1234.4), "1234/s");
        assert_eq!(per_s(56.71), "56.7/s");
        assert_eq!(per_s(0.5), "0.5/s");
    }
}

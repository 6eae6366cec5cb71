//! Numbers and durations as the Kubernetes objects write them: resource.Quantity strings,
//! whole seconds, Go duration strings.

use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use scalebench_core::Duration;

/// `x` as a Quantity, in the shortest decimal that reads back as the same f64 (`2.5`, `0.05`);
/// the API server may canonicalise it (`2500m`), which [`parse`] reads too.
pub fn quantity(x: f64) -> Quantity {
    Quantity(x.to_string())
}

/// A Quantity's value: a decimal number with an optional exponent, SI suffix (`n`, `u`, `m`,
/// `k`, `M`, `G`, `T`, `P`, `E`) or binary suffix (`Ki` ... `Ei`).
pub fn parse(q: &str) -> Option<f64> {
    let q = q.trim();
    let suffixes: [(&str, f64); 15] = [
        ("Ki", 1024f64),
        ("Mi", 1024f64.powi(2)),
        ("Gi", 1024f64.powi(3)),
        ("Ti", 1024f64.powi(4)),
        ("Pi", 1024f64.powi(5)),
        ("Ei", 1024f64.powi(6)),
        ("n", 1e-9),
        ("u", 1e-6),
        ("m", 1e-3),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("T", 1e12),
        ("P", 1e15),
        ("E", 1e18),
    ];
    for (suffix, scale) in suffixes {
        if let Some(number) = q.strip_suffix(suffix) {
            let v: f64 = number.parse().ok()?;
            // Division by the inverse keeps milli values exact (2500m -> 2.5, 700m -> 0.7).
            return Some(if scale < 1.0 {
                v / (1.0 / scale).round()
            } else {
                v * scale
            });
        }
    }
    q.parse().ok().filter(|v: &f64| v.is_finite())
}

/// A duration in whole seconds, rounded to the nearest (the API's fields are whole seconds).
pub fn whole_secs(d: Duration) -> i64 {
    (d.as_nanos().saturating_add(500_000_000) / 1_000_000_000) as i64
}

/// [`whole_secs`] as an int32 field (saturating).
pub fn secs_i32(d: Duration) -> i32 {
    i32::try_from(whole_secs(d)).unwrap_or(i32::MAX)
}

/// Whole seconds back to a duration (negative counts as zero).
pub fn from_secs(s: i64) -> Duration {
    Duration::from_secs(u64::try_from(s).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_read_back() {
        for x in [0.7, 2.5, 100.0, 0.05, 1e-3, 12345.678] {
            assert_eq!(parse(&quantity(x).0), Some(x), "{x}");
        }
        assert_eq!(parse("2500m"), Some(2.5));
        assert_eq!(parse("700m"), Some(0.7));
        assert_eq!(parse("1k"), Some(1000.0));
        assert_eq!(parse("1Ki"), Some(1024.0));
        assert_eq!(parse("abc"), None);
    }

    #[test]
    fn seconds_round_to_nearest() {
        assert_eq!(whole_secs(Duration::from_millis(1499)), 1);
        assert_eq!(whole_secs(Duration::from_millis(1500)), 2);
        assert_eq!(secs_i32(Duration::from_secs(300)), 300);
    }
}

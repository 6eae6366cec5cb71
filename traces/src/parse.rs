//! Field parsers: decimal times to exact integer nanoseconds, token counts, and civil date-times
//! (`2023-11-16 18:15:46.6805900`, `2024-05-10 00:00:00.004000+00:00`, RFC 3339) to nanoseconds
//! since 1970-01-01 UTC. No floating point: a timestamp means the same instant on every machine.

/// Why a field is not a valid number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NumError {
    /// Not a number at all (or empty).
    NotANumber,
    /// A number, but negative where counts are expected.
    Negative,
    /// A number with a fraction where whole numbers are expected.
    NotWhole,
    /// Too large (or small) to represent.
    OutOfRange,
    /// Not a valid date-time.
    NotADateTime,
}

impl NumError {
    /// A short phrase for an error message ("is not a number", ...).
    pub(crate) fn phrase(self) -> &'static str {
        match self {
            NumError::NotANumber => "not a number",
            NumError::Negative => "negative",
            NumError::NotWhole => "not a whole number",
            NumError::OutOfRange => "out of range",
            NumError::NotADateTime => "not a valid date-time",
        }
    }
}

/// Significant digits kept from a decimal; more fractional digits are cut (below a nanosecond
/// for any unit here), more integral digits are out of range anyway.
const MAX_DIGITS: u32 = 25;

/// A decimal number (`12`, `-0.5`, `1.25e3`, `.5`) in units of `unit_ns` nanoseconds, as whole
/// nanoseconds rounded down (towards minus infinity).
pub(crate) fn decimal_ns(field: &[u8], unit_ns: i128) -> Result<i64, NumError> {
    let (negative, rest) = match field.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, field),
    };
    let mut mantissa: i128 = 0;
    let mut digits = 0u32; // significant digits in `mantissa`
    let mut seen_digit = false;
    let mut scale: i64 = 0; // value = mantissa * 10^scale
    let mut i = 0;
    let mut fraction = false;
    while let Some(&b) = rest.get(i) {
        match b {
            b'.' if !fraction => fraction = true,
            b'0'..=b'9' => {
                seen_digit = true;
                if digits < MAX_DIGITS {
                    mantissa = mantissa * 10 + i128::from(b - b'0');
                    if mantissa > 0 {
                        digits += 1;
                    }
                    if fraction {
                        scale -= 1;
                    }
                } else if !fraction {
                    return Err(NumError::OutOfRange);
                }
            }
            _ => break,
        }
        i += 1;
    }
    if !seen_digit {
        return Err(NumError::NotANumber);
    }
    if let Some(b'e' | b'E') = rest.get(i) {
        i += 1;
        let (exp_negative, exp_start) = match rest.get(i) {
            Some(b'-') => (true, i + 1),
            Some(b'+') => (false, i + 1),
            _ => (false, i),
        };
        let exp_digits = rest.get(exp_start..).unwrap_or_default();
        if exp_digits.is_empty() || !exp_digits.iter().all(u8::is_ascii_digit) {
            return Err(NumError::NotANumber);
        }
        let mut exp: i64 = 0;
        for &b in exp_digits {
            exp = (exp * 10 + i64::from(b - b'0')).min(10_000);
        }
        scale += if exp_negative { -exp } else { exp };
        i = rest.len();
    }
    if i != rest.len() {
        return Err(NumError::NotANumber);
    }
    let mut value = mantissa.checked_mul(unit_ns).ok_or(NumError::OutOfRange)?;
    if negative {
        value = -value;
    }
    let value = if scale >= 0 {
        if value == 0 {
            0
        } else {
            let factor = u32::try_from(scale)
                .ok()
                .and_then(|s| 10i128.checked_pow(s))
                .ok_or(NumError::OutOfRange)?;
            value.checked_mul(factor).ok_or(NumError::OutOfRange)?
        }
    } else {
        match u32::try_from(-scale)
            .ok()
            .and_then(|s| 10i128.checked_pow(s))
        {
            Some(divisor) => value.div_euclid(divisor),
            // Smaller in size than any divisor: rounds down to 0 or -1.
            None => {
                if value < 0 {
                    -1
                } else {
                    0
                }
            }
        }
    };
    i64::try_from(value).map_err(|_| NumError::OutOfRange)
}

/// A token count: a whole, non-negative number that fits in 32 bits (`12` or `12.0`).
pub(crate) fn tokens(field: &[u8]) -> Result<u32, NumError> {
    let (int, frac) = match field.iter().position(|&b| b == b'.') {
        Some(dot) => (
            field.get(..dot).unwrap_or_default(),
            field.get(dot + 1..).unwrap_or_default(),
        ),
        None => (field, &[][..]),
    };
    let (negative, digits) = match int.split_first() {
        Some((b'-', rest)) => (true, rest),
        Some((b'+', rest)) => (false, rest),
        _ => (false, int),
    };
    let all_digits = |s: &[u8]| s.iter().all(u8::is_ascii_digit);
    if digits.is_empty() || !all_digits(digits) || !all_digits(frac) {
        return Err(NumError::NotANumber);
    }
    let zero = digits.iter().all(|&b| b == b'0');
    if negative && !(zero && frac.iter().all(|&b| b == b'0')) {
        return Err(NumError::Negative);
    }
    if !frac.iter().all(|&b| b == b'0') {
        return Err(NumError::NotWhole);
    }
    let mut n: u64 = 0;
    for &b in digits {
        n = n * 10 + u64::from(b - b'0');
        if n > u64::from(u32::MAX) {
            return Err(NumError::OutOfRange);
        }
    }
    u32::try_from(n).map_err(|_| NumError::OutOfRange)
}

/// Days from 1970-01-01 to the given proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// A fixed-width run of ASCII digits at `at`.
fn digits(s: &[u8], at: usize, n: usize) -> Option<i64> {
    let part = s.get(at..at + n)?;
    part.iter().try_fold(0i64, |acc, &b| {
        b.is_ascii_digit().then(|| acc * 10 + i64::from(b - b'0'))
    })
}

/// A civil date-time, `YYYY-MM-DD HH:MM:SS[.fraction][zone]` (a `T` may stand for the space; the
/// fraction has 1 to 9 digits used, more are cut; the zone is `Z`, `+HH:MM`, `-HH:MM`, `+HHMM`
/// or `+HH`, and none means UTC), as nanoseconds since 1970-01-01T00:00:00Z.
pub(crate) fn datetime_ns(s: &[u8]) -> Option<i64> {
    let year = digits(s, 0, 4)?;
    let month = digits(s, 5, 2)?;
    let day = digits(s, 8, 2)?;
    let hour = digits(s, 11, 2)?;
    let minute = digits(s, 14, 2)?;
    let second = digits(s, 17, 2)?;
    let sep_ok = s.get(4) == Some(&b'-')
        && s.get(7) == Some(&b'-')
        && matches!(s.get(10), Some(b' ' | b'T' | b't'))
        && s.get(13) == Some(&b':')
        && s.get(16) == Some(&b':');
    if !sep_ok
        || !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let mut i = 19;
    let mut frac_ns: i64 = 0;
    if s.get(i) == Some(&b'.') {
        i += 1;
        let start = i;
        let mut weight = 100_000_000;
        while let Some(&b) = s.get(i) {
            if !b.is_ascii_digit() {
                break;
            }
            frac_ns += i64::from(b - b'0') * weight;
            weight /= 10;
            i += 1;
        }
        if i == start {
            return None;
        }
    }
    let offset_s = match s.get(i..)? {
        [] | [b'Z' | b'z'] => 0,
        [sign @ (b'+' | b'-'), zone @ ..] => {
            let (h, m) = match zone {
                [_, _] => (digits(zone, 0, 2)?, 0),
                [_, _, b':', _, _] => (digits(zone, 0, 2)?, digits(zone, 3, 2)?),
                [_, _, _, _] => (digits(zone, 0, 2)?, digits(zone, 2, 2)?),
                _ => return None,
            };
            if h > 23 || m > 59 {
                return None;
            }
            let off = h * 3600 + m * 60;
            if *sign == b'-' { -off } else { off }
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3600 + minute * 60 + second - offset_s;
    secs.checked_mul(1_000_000_000)?.checked_add(frac_ns)
}

/// A human duration such as `10m`, `30s`, `1h`, `250ms`, `1.5h` or `0`, in nanoseconds.
pub(crate) fn human_duration_ns(s: &str) -> Result<u64, String> {
    let s = s.trim();
    let split = s
        .find(|c: char| c.is_ascii_alphabetic() || c == 'µ')
        .unwrap_or(s.len());
    let (number, unit) = s.split_at(split);
    let unit_ns: i128 = match unit {
        "ns" => 1,
        "us" | "µs" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" | "min" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        "d" => 86_400_000_000_000,
        "" if number.bytes().all(|b| b == b'0' || b == b'.') && !number.is_empty() => 1,
        _ => {
            return Err(format!(
                "`{s}`: expected a number and a unit, ns, us, ms, s, m, h or d (e.g. `10m`, `250ms`)"
            ));
        }
    };
    match decimal_ns(number.as_bytes(), unit_ns) {
        Ok(ns) => u64::try_from(ns).map_err(|_| format!("`{s}`: expected a duration >= 0")),
        Err(e) => Err(format!("`{s}`: the number is {}", e.phrase())),
    }
}

/// `ns` as the shortest exact human duration (`10m`, `250ms`, `7ns`).
pub(crate) fn format_duration_ns(ns: u64) -> String {
    const UNITS: [(u64, &str); 7] = [
        (86_400_000_000_000, "d"),
        (3_600_000_000_000, "h"),
        (60_000_000_000, "m"),
        (1_000_000_000, "s"),
        (1_000_000, "ms"),
        (1_000, "us"),
        (1, "ns"),
    ];
    if ns == 0 {
        return "0s".to_string();
    }
    for (size, name) in UNITS {
        if ns.is_multiple_of(size) {
            return format!("{}{name}", ns / size);
        }
    }
    format!("{ns}ns")
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i128 = 1_000_000_000;

    #[test]
    fn decimals_are_exact_nanoseconds() {
        assert_eq!(decimal_ns(b"1", S), Ok(1_000_000_000));
        assert_eq!(decimal_ns(b"0.0418487", S), Ok(41_848_700));
        assert_eq!(decimal_ns(b"1.0000000019", S), Ok(1_000_000_001));
        assert_eq!(decimal_ns(b".5", S), Ok(500_000_000));
        assert_eq!(decimal_ns(b"5.", S), Ok(5_000_000_000));
        assert_eq!(decimal_ns(b"-0.5", S), Ok(-500_000_000));
        assert_eq!(decimal_ns(b"-0.0000000001", S), Ok(-1));
        assert_eq!(decimal_ns(b"1.5e3", 1_000_000), Ok(1_500_000_000));
        assert_eq!(decimal_ns(b"2E-9", S), Ok(2));
        assert_eq!(decimal_ns(b"27482", 1_000_000), Ok(27_482_000_000));
        assert_eq!(decimal_ns(b"0e999999", S), Ok(0));
        assert_eq!(decimal_ns(b"1e-999999", S), Ok(0));
        assert_eq!(
            decimal_ns(b"000000000000000000000000000001", S),
            Ok(S as i64)
        );
    }

    #[test]
    fn non_numbers_and_huge_numbers_are_refused() {
        for bad in [
            &b""[..],
            b"-",
            b".",
            b"e3",
            b"1e",
            b"1x",
            b"nan",
            b"inf",
            b"1 2",
            b"--1",
        ] {
            assert_eq!(decimal_ns(bad, S), Err(NumError::NotANumber), "{bad:?}");
        }
        assert_eq!(decimal_ns(b"1e30", S), Err(NumError::OutOfRange));
        assert_eq!(
            decimal_ns(b"99999999999999999999999999", S),
            Err(NumError::OutOfRange)
        );
        assert_eq!(decimal_ns(b"10000000000", S), Err(NumError::OutOfRange));
        assert_eq!(
            decimal_ns(b"9999999999999999999999999", 86_400 * S),
            Err(NumError::OutOfRange)
        );
    }

    #[test]
    fn token_counts() {
        assert_eq!(tokens(b"374"), Ok(374));
        assert_eq!(tokens(b"12.0"), Ok(12));
        assert_eq!(tokens(b"0"), Ok(0));
        assert_eq!(tokens(b"-0"), Ok(0));
        assert_eq!(tokens(b"-3"), Err(NumError::Negative));
        assert_eq!(tokens(b"1.5"), Err(NumError::NotWhole));
        assert_eq!(tokens(b"abc"), Err(NumError::NotANumber));
        assert_eq!(tokens(b""), Err(NumError::NotANumber));
        assert_eq!(tokens(b"4294967295"), Ok(u32::MAX));
        assert_eq!(tokens(b"4294967296"), Err(NumError::OutOfRange));
        assert_eq!(
            tokens(b"99999999999999999999999"),
            Err(NumError::OutOfRange)
        );
    }

    #[test]
    fn azure_2023_2024_and_rfc3339_date_times() {
        // 2023-11-16T18:15:46Z = 1700158546 s since the epoch.
        let base = 1_700_158_546_000_000_000;
        assert_eq!(
            datetime_ns(b"2023-11-16 18:15:46.6805900"),
            Some(base + 680_590_000)
        );
        assert_eq!(datetime_ns(b"2023-11-16 18:15:46"), Some(base));
        assert_eq!(datetime_ns(b"2023-11-16T18:15:46Z"), Some(base));
        assert_eq!(datetime_ns(b"2023-11-16T19:15:46+01:00"), Some(base));
        assert_eq!(datetime_ns(b"2023-11-16T17:15:46-0100"), Some(base));
        assert_eq!(datetime_ns(b"2023-11-16 20:15:46+02"), Some(base));
        assert_eq!(
            datetime_ns(b"2023-11-16 18:15:46.1234567891"),
            Some(base + 123_456_789)
        );
        // 2024-05-10 = 19853 days after 1970-01-01.
        let day = 19_853 * 86_400 * 1_000_000_000;
        assert_eq!(
            datetime_ns(b"2024-05-10 00:00:00.004000+00:00"),
            Some(day + 4_000_000)
        );
        assert_eq!(
            datetime_ns(b"2024-05-10 00:00:01+00:00"),
            Some(day + 1_000_000_000)
        );
        assert_eq!(datetime_ns(b"1970-01-01 00:00:00"), Some(0));
        assert_eq!(datetime_ns(b"1969-12-31 23:59:59"), Some(-1_000_000_000));
        assert_eq!(
            datetime_ns(b"2024-02-29 00:00:00"),
            Some(19_782 * 86_400 * 1_000_000_000)
        );
    }

    #[test]
    fn malformed_date_times() {
        for bad in [
            &b"2023-02-29 00:00:00"[..],
            b"2023-13-01 00:00:00",
            b"2023-11-16 24:00:00",
            b"2023-11-16 18:60:00",
            b"2023-11-16 18:15:46.",
            b"2023-11-16 18:15:46 ",
            b"2023-11-16 18:15:46+1",
            b"2023-11-16 18:15:46+25:00",
            b"2023/11/16 18:15:46",
            b"2023-11-16",
            b"18:15:46",
            b"9999-12-31 23:59:59",
            b"",
        ] {
            assert_eq!(datetime_ns(bad), None, "{}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn human_durations() {
        assert_eq!(human_duration_ns("10m"), Ok(600_000_000_000));
        assert_eq!(human_duration_ns("30s"), Ok(30_000_000_000));
        assert_eq!(human_duration_ns("1h"), Ok(3_600_000_000_000));
        assert_eq!(human_duration_ns("250ms"), Ok(250_000_000));
        assert_eq!(human_duration_ns("1.5h"), Ok(5_400_000_000_000));
        assert_eq!(human_duration_ns("0"), Ok(0));
        assert!(human_duration_ns("10").is_err());
        assert!(human_duration_ns("-1s").is_err());
        assert!(human_duration_ns("1 fortnight").is_err());
        assert!(human_duration_ns("9999999999999999999999999d").is_err());
        assert_eq!(format_duration_ns(600_000_000_000), "10m");
        assert_eq!(format_duration_ns(250_000_000), "250ms");
        assert_eq!(format_duration_ns(1_500), "1500ns");
        assert_eq!(format_duration_ns(0), "0s");
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    /// The proleptic Gregorian date `days` after 1970-01-01 (H. Hinnant's `civil_from_days`),
    /// the inverse of `days_from_civil`, written separately to check it.
    fn civil_from_days(days: i64) -> (i64, i64, i64) {
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = doy - (153 * mp + 2) / 5 + 1;
        let month = if mp < 10 { mp + 3 } else { mp - 9 };
        let year = yoe + era * 400 + i64::from(month <= 2);
        (year, month, day)
    }

    fn config() -> ProptestConfig {
        ProptestConfig {
            cases: 10_000,
            failure_persistence: None,
            ..ProptestConfig::default()
        }
    }

    proptest! {
        #![proptest_config(config())]

        #[test]
        fn any_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..40)) {
            let _ = decimal_ns(&bytes, 1_000_000_000);
            let _ = decimal_ns(&bytes, 1);
            let _ = tokens(&bytes);
            let _ = datetime_ns(&bytes);
            let _ = human_duration_ns(&String::from_utf8_lossy(&bytes));
        }

        #[test]
        fn decimal_seconds_are_exact(whole in 0i64..9_000_000_000, frac in 0i64..1_000_000_000, negative in any::<bool>()) {
            let text = format!("{}{whole}.{frac:09}", if negative { "-" } else { "" });
            let ns = whole * 1_000_000_000 + frac;
            prop_assert_eq!(decimal_ns(text.as_bytes(), 1_000_000_000), Ok(if negative { -ns } else { ns }));
            let trimmed = text.trim_end_matches('0');
            prop_assert_eq!(decimal_ns(trimmed.as_bytes(), 1_000_000_000), decimal_ns(text.as_bytes(), 1_000_000_000));
        }

        #[test]
        fn date_times_match_the_civil_calendar(days in -100_000i64..100_000, secs in 0i64..86_400, nanos in 0i64..1_000_000_000, offset_min in -(23 * 60 + 59)..(23 * 60 + 59i64)) {
            let (y, mo, d) = civil_from_days(days);
            prop_assume!((1000..=9999).contains(&y));
            prop_assert_eq!(days_from_civil(y, mo, d), days);
            let (h, mi, s) = (secs / 3600, secs / 60 % 60, secs % 60);
            let utc = (days * 86_400 + secs) * 1_000_000_000 + nanos;
            let text = format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}.{nanos:09}");
            prop_assert_eq!(datetime_ns(text.as_bytes()), Some(utc));
            // The same wall clock in another zone is `offset` earlier in UTC.
            let sign = if offset_min < 0 { '-' } else { '+' };
            let zoned = format!("{text}{sign}{:02}:{:02}", offset_min.abs() / 60, offset_min.abs() % 60);
            prop_assert_eq!(datetime_ns(zoned.as_bytes()), Some(utc - offset_min * 60_000_000_000));
        }

        #[test]
        fn durations_format_and_parse_back(ns in 0u64..(1 << 62)) {
            prop_assert_eq!(human_duration_ns(&format_duration_ns(ns)), Ok(ns));
        }
    }
}

//! Timestamp parsing shared by the parsers and the CLI.

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};

/// Parses RFC 3339 / ISO 8601 (with or without zone; no zone means UTC), `YYYY-MM-DD HH:MM:SS[.fff]`,
/// and epoch numbers in seconds, milliseconds, microseconds or nanoseconds (told apart by magnitude).
/// Returns unix nanoseconds.
pub fn parse_timestamp(s: &str) -> Option<i64> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if let Some(ns) = parse_epoch(s) {
        return Some(ns);
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return dt.timestamp_nanos_opt();
    }
    // Zone-less ISO-like forms, optionally with a comma before the fraction (Java/Python loggers).
    let normalised = s.replacen(',', ".", 1);
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y/%m/%d %H:%M:%S%.f",
    ] {
        if let Ok(n) = NaiveDateTime::parse_from_str(&normalised, fmt) {
            return Utc.from_utc_datetime(&n).timestamp_nanos_opt();
        }
    }
    for fmt in ["%Y-%m-%d %H:%M:%S%.f%z", "%Y-%m-%d %H:%M:%S%.f %z"] {
        if let Ok(dt) = DateTime::parse_from_str(&normalised, fmt) {
            return dt.timestamp_nanos_opt();
        }
    }
    None
}

fn parse_epoch(s: &str) -> Option<i64> {
    let (int_part, frac) = match s.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (s, None),
    };
    if int_part.is_empty() || !int_part.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    if let Some(f) = frac
        && !f.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let v: i64 = int_part.parse().ok()?;
    // Magnitude tells the unit: 1e9..1e11 s, 1e12..1e14 ms, 1e15..1e17 µs, 1e18.. ns.
    let ns = match int_part.len() {
        9..=11 => {
            let frac_ns = frac
                .map(|f| {
                    let f = &f[..f.len().min(9)];
                    f.parse::<i64>().unwrap_or(0) * 10i64.pow(9 - f.len() as u32)
                })
                .unwrap_or(0);
            v.checked_mul(1_000_000_000)?.checked_add(frac_ns)?
        }
        12..=14 => v.checked_mul(1_000_000)?,
        15..=17 => v.checked_mul(1_000)?,
        18..=19 => v,
        _ => return None,
    };
    Some(ns)
}

/// A positive length of time written as a number and a unit: `90s`, `30m` (or `30min`), `2h`,
/// `1d`, the way people say "the last 30 minutes" in a command. `None` for anything else.
pub fn parse_duration(word: &str) -> Option<chrono::Duration> {
    let split = word.find(|c: char| !c.is_ascii_digit())?;
    let (n, unit) = word.split_at(split);
    let n: i64 = n.parse().ok()?;
    let d = match unit {
        "s" => chrono::Duration::try_seconds(n)?,
        "m" | "min" => chrono::Duration::try_minutes(n)?,
        "h" => chrono::Duration::try_hours(n)?,
        "d" => chrono::Duration::try_days(n)?,
        _ => return None,
    };
    (d > chrono::Duration::zero()).then_some(d)
}

/// Formats unix nanoseconds as RFC 3339 in UTC with millisecond precision.
pub fn format_ns(ns: i64) -> String {
    Utc.timestamp_nanos(ns)
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_a_positive_number_and_a_unit() {
        assert_eq!(parse_duration("90s"), Some(chrono::Duration::seconds(90)));
        assert_eq!(parse_duration("30m"), Some(chrono::Duration::minutes(30)));
        assert_eq!(parse_duration("30min"), Some(chrono::Duration::minutes(30)));
        assert_eq!(parse_duration("2h"), Some(chrono::Duration::hours(2)));
        assert_eq!(parse_duration("1d"), Some(chrono::Duration::days(1)));
        for bad in ["0m", "30", "m", "30x", "-5m", "99999999999999999999d"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn parses_common_forms() {
        let want = 1_674_981_742_383_150_913i64;
        assert_eq!(
            parse_timestamp("2023-01-29T08:42:22.383150913Z"),
            Some(want)
        );
        assert_eq!(parse_timestamp("1674981742383150913"), Some(want));
        assert_eq!(
            parse_timestamp("1674981742"),
            Some(1_674_981_742_000_000_000)
        );
        assert_eq!(
            parse_timestamp("1674981742383"),
            Some(1_674_981_742_383_000_000)
        );
        assert_eq!(
            parse_timestamp("1674981742.5"),
            Some(1_674_981_742_500_000_000)
        );
        assert_eq!(
            parse_timestamp("2023-01-29 08:42:22,383"),
            Some(1_674_981_742_383_000_000)
        );
        assert_eq!(
            parse_timestamp("2023-01-29T10:42:22+02:00"),
            Some(1_674_981_742_000_000_000)
        );
        assert_eq!(parse_timestamp("yesterday"), None);
        assert_eq!(parse_timestamp("12"), None);
    }

    #[test]
    fn formats_utc() {
        assert_eq!(
            format_ns(1_674_981_742_383_150_913),
            "2023-01-29T08:42:22.383Z"
        );
    }
}

//! Hand-written timestamp scanners: find a timestamp near the start of a line without regexes or
//! allocation. Recognised (all UTC unless the stamp carries an offset):
//!
//! - ISO 8601 / RFC 3339 and relatives: `2023-01-29T08:42:22.383Z`, `2023-01-29 08:42:22,383`,
//!   `2023/01/29 08:42:22` (Go), `20230129-08:42:22:383` (compact, Android-style);
//! - two-digit years: `23/01/29 08:42:22` (log4j `yy/MM/dd`), `230129 084222` (Hadoop 0.x);
//! - year-less: `Jan 29 08:42:22` (syslog), `01.29 08:42:22`, `I0129 08:42:22.383150` (klog/glog,
//!   which also gives the level);
//! - `29/Jan/2023:08:42:22 +0000` (nginx/Apache access), `Sun Jan 29 08:42:22.383 2023` (asctime,
//!   Apache error);
//! - epoch seconds (10 digits, optional fraction), milliseconds (13), microseconds (16) and
//!   nanoseconds (19), between 2000 and 2100.

use rootline_core::Level;

/// How to fill in the year of year-less stamps.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct YearRule {
    /// Use this year.
    pub fixed: Option<i32>,
    /// Otherwise the year of this instant (now when `None`); a stamp that would land more than
    /// two days after it is taken to be from the year before (logs do not come from the future).
    pub now_ns: Option<i64>,
}

impl YearRule {
    fn resolve(&self, month: u32, day: u32, secs_of_day: i64, nanos: i64) -> Option<i64> {
        if let Some(y) = self.fixed {
            return to_ns(y as i64, month, day, secs_of_day, nanos, 0);
        }
        let now = self.now_ns.unwrap_or_else(now_ns);
        let year = year_of(now);
        let ts = to_ns(year, month, day, secs_of_day, nanos, 0)?;
        if ts > now.saturating_add(2 * 86_400 * 1_000_000_000) {
            to_ns(year - 1, month, day, secs_of_day, nanos, 0)
        } else {
            Some(ts)
        }
    }
}

pub(crate) fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as i64)
        .unwrap_or(0)
}

/// A timestamp found in a line: unix nanoseconds and the byte range it covers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Found {
    pub ts_ns: i64,
    pub start: usize,
    pub end: usize,
    /// Set by formats that carry the level in the stamp (klog's `E0129`).
    pub level: Option<Level>,
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub(crate) fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = m as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn year_of(ns: i64) -> i64 {
    // Inverse of days_from_civil, year only.
    let z = ns.div_euclid(86_400 * 1_000_000_000) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    yoe + era * 400 + i64::from(m <= 2)
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

/// Validated calendar fields to unix nanoseconds; `offset_s` is the zone's offset east of UTC.
pub(crate) fn to_ns(
    y: i64,
    month: u32,
    day: u32,
    secs_of_day: i64,
    nanos: i64,
    offset_s: i64,
) -> Option<i64> {
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(y, month) {
        return None;
    }
    if !(0..86_401).contains(&secs_of_day) || !(1970..=2262).contains(&y) {
        return None;
    }
    let secs = days_from_civil(y, month, day) * 86_400 + secs_of_day - offset_s;
    secs.checked_mul(1_000_000_000)?.checked_add(nanos)
}

/// Finds the earliest timestamp that starts within the first `window` bytes of `s`, at a token
/// boundary.
pub(crate) fn find_timestamp(s: &str, window: usize, years: YearRule) -> Option<Found> {
    let b = s.as_bytes();
    let limit = b.len().min(window);
    for p in 0..limit {
        // Only at a token boundary: `blk_1674981742` is an id, not a time.
        if p > 0 && (b[p - 1].is_ascii_alphanumeric() || b[p - 1] == b'_') {
            continue;
        }
        if let Some(f) = timestamp_at(b, p, years) {
            return Some(f);
        }
    }
    None
}

/// A timestamp that starts exactly at byte `p`.
pub(crate) fn timestamp_at(b: &[u8], p: usize, years: YearRule) -> Option<Found> {
    let c = *b.get(p)?;
    let found = if c.is_ascii_digit() {
        ymd(b, p)
            .or_else(|| yy_slash(b, p))
            .or_else(|| yymmdd(b, p))
            .or_else(|| clf(b, p))
            .or_else(|| yearless_numeric(b, p, years))
            .or_else(|| epoch(b, p))
    } else if c.is_ascii_uppercase() {
        klog(b, p, years)
            .or_else(|| syslog_stamp(b, p, years))
            .or_else(|| asctime(b, p))
    } else {
        None
    };
    found.map(|(ts_ns, end, level)| Found {
        ts_ns,
        start: p,
        end,
        level,
    })
}

/// Parses a whole string as a timestamp (JSON/logfmt/CSV values), falling back to the core parser.
pub(crate) fn parse_value(s: &str, years: YearRule) -> Option<i64> {
    let s = s.trim();
    if let Some(f) = timestamp_at(s.as_bytes(), 0, years)
        && f.end == s.len()
    {
        return Some(f.ts_ns);
    }
    rootline_core::time::parse_timestamp(s)
}

type Hit = (i64, usize, Option<Level>);

fn num(b: &[u8], p: usize, n: usize) -> Option<u32> {
    let digits = b.get(p..p + n)?;
    let mut v = 0u32;
    for &d in digits {
        if !d.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(d - b'0');
    }
    Some(v)
}

/// One or two digits; returns (value, bytes used).
fn num12(b: &[u8], p: usize) -> Option<(u32, usize)> {
    let first = num(b, p, 1)?;
    match num(b, p + 1, 1) {
        Some(second) => Some((first * 10 + second, 2)),
        None => Some((first, 1)),
    }
}

fn is_boundary(b: &[u8], p: usize) -> bool {
    b.get(p).is_none_or(|c| !c.is_ascii_alphanumeric())
}

/// `H[H]:M[M]:S[S]` then an optional fraction (`.`/`,` and 1–9+ digits, or `:` and 3 digits).
/// Returns (seconds of day, nanoseconds, end).
fn clock(b: &[u8], p: usize) -> Option<(i64, i64, usize)> {
    let (h, n1) = num12(b, p)?;
    let mut q = p + n1;
    if b.get(q) != Some(&b':') {
        return None;
    }
    let (mi, n2) = num12(b, q + 1)?;
    q += 1 + n2;
    if b.get(q) != Some(&b':') {
        return None;
    }
    let (s, n3) = num12(b, q + 1)?;
    q += 1 + n3;
    if h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let mut nanos = 0i64;
    match b.get(q) {
        Some(b'.' | b',') if b.get(q + 1).is_some_and(u8::is_ascii_digit) => {
            q += 1;
            let mut scale = 100_000_000i64;
            while let Some(d) = b.get(q).filter(|d| d.is_ascii_digit()) {
                nanos += i64::from(d - b'0') * scale;
                scale /= 10;
                q += 1;
            }
        }
        Some(b':')
            if num(b, q + 1, 3).is_some() && !b.get(q + 4).is_some_and(u8::is_ascii_digit) =>
        {
            nanos = i64::from(num(b, q + 1, 3)?) * 1_000_000;
            q += 4;
        }
        _ => {}
    }
    Some((i64::from(h * 3600 + mi * 60 + s), nanos, q))
}

/// An optional zone after a clock: `Z`, `+02:00`, `+0200`, `+02`, or ` +0200` (space first).
fn zone(b: &[u8], p: usize) -> (i64, usize) {
    match b.get(p) {
        Some(b'Z' | b'z') if is_boundary(b, p + 1) => (0, p + 1),
        Some(&sign @ (b'+' | b'-')) => {
            let sign = if sign == b'+' { 1 } else { -1 };
            let Some(hh) = num(b, p + 1, 2) else {
                return (0, p);
            };
            let (mm, end) = if b.get(p + 3) == Some(&b':') {
                match num(b, p + 4, 2) {
                    Some(mm) => (mm, p + 6),
                    None => return (0, p),
                }
            } else if let Some(mm) = num(b, p + 3, 2) {
                (mm, p + 5)
            } else {
                (0, p + 3)
            };
            if hh > 14 || mm > 59 || b.get(end).is_some_and(u8::is_ascii_digit) {
                return (0, p);
            }
            (sign * i64::from(hh * 3600 + mm * 60), end)
        }
        Some(b' ') if matches!(b.get(p + 1), Some(b'+' | b'-')) => {
            let (off, end) = zone(b, p + 1);
            // Only a full `+HHMM` after a space counts, so `... 08:42:22 -1 retries` stays text.
            if end == p + 6 && is_boundary(b, end) {
                (off, end)
            } else {
                (0, p)
            }
        }
        _ => (0, p),
    }
}

/// `YYYY-MM-DD[T ]clock[zone]`, also with `/` or `.` separators, and the compact
/// `YYYYMMDD[T-]clock`.
fn ymd(b: &[u8], p: usize) -> Option<Hit> {
    let y = num(b, p, 4)?;
    let sep = *b.get(p + 4)?;
    let (m, d, q, compact) = if matches!(sep, b'-' | b'/' | b'.') {
        let m = num(b, p + 5, 2)?;
        if b.get(p + 7) != Some(&sep) {
            return None;
        }
        (m, num(b, p + 8, 2)?, p + 10, false)
    } else {
        (num(b, p + 4, 2)?, num(b, p + 6, 2)?, p + 8, true)
    };
    match b.get(q) {
        Some(b'T' | b' ') => {}
        Some(b'-') if compact => {}
        _ => return None,
    }
    let (secs, nanos, q) = clock(b, q + 1)?;
    let (off, q) = zone(b, q);
    if !is_boundary(b, q) {
        return None;
    }
    Some((to_ns(i64::from(y), m, d, secs, nanos, off)?, q, None))
}

/// `YY/MM/DD clock` (log4j `yy/MM/dd HH:mm:ss`).
fn yy_slash(b: &[u8], p: usize) -> Option<Hit> {
    let yy = num(b, p, 2)?;
    if b.get(p + 2) != Some(&b'/') || b.get(p + 5) != Some(&b'/') || b.get(p + 8) != Some(&b' ') {
        return None;
    }
    let (m, d) = (num(b, p + 3, 2)?, num(b, p + 6, 2)?);
    let (secs, nanos, q) = clock(b, p + 9)?;
    if !is_boundary(b, q) {
        return None;
    }
    Some((to_ns(2000 + i64::from(yy), m, d, secs, nanos, 0)?, q, None))
}

/// `YYMMDD HHMMSS` (Hadoop 0.x / HDFS).
fn yymmdd(b: &[u8], p: usize) -> Option<Hit> {
    let (yy, m, d) = (num(b, p, 2)?, num(b, p + 2, 2)?, num(b, p + 4, 2)?);
    if b.get(p + 6) != Some(&b' ') {
        return None;
    }
    let (h, mi, s) = (num(b, p + 7, 2)?, num(b, p + 9, 2)?, num(b, p + 11, 2)?);
    let q = p + 13;
    if !matches!(b.get(q), None | Some(b' ' | b'\t')) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    let secs = i64::from(h * 3600 + mi * 60 + s);
    Some((to_ns(2000 + i64::from(yy), m, d, secs, 0, 0)?, q, None))
}

/// `MM.DD clock`, `MM-DD clock`, `MM/DD clock` without a year.
fn yearless_numeric(b: &[u8], p: usize, years: YearRule) -> Option<Hit> {
    let m = num(b, p, 2)?;
    if !matches!(b.get(p + 2), Some(b'.' | b'-' | b'/')) || b.get(p + 5) != Some(&b' ') {
        return None;
    }
    let d = num(b, p + 3, 2)?;
    let (secs, nanos, q) = clock(b, p + 6)?;
    if !is_boundary(b, q) {
        return None;
    }
    Some((years.resolve(m, d, secs, nanos)?, q, None))
}

fn month(b: &[u8], p: usize) -> Option<u32> {
    const MONTHS: [&[u8; 3]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    let m = b.get(p..p + 3)?;
    MONTHS
        .iter()
        .position(|x| x[..] == *m)
        .map(|i| i as u32 + 1)
}

/// `DD/Mon/YYYY:HH:MM:SS[ +HHMM]` (common log format).
fn clf(b: &[u8], p: usize) -> Option<Hit> {
    let d = num(b, p, 2)?;
    if b.get(p + 2) != Some(&b'/') || b.get(p + 6) != Some(&b'/') || b.get(p + 11) != Some(&b':') {
        return None;
    }
    let m = month(b, p + 3)?;
    let y = num(b, p + 7, 4)?;
    let (secs, nanos, q) = clock(b, p + 12)?;
    let (off, q) = zone(b, q);
    if !is_boundary(b, q) {
        return None;
    }
    Some((to_ns(i64::from(y), m, d, secs, nanos, off)?, q, None))
}

/// Epoch seconds (10 digits, optional fraction), ms (13), µs (16) or ns (19) as a whole token.
fn epoch(b: &[u8], p: usize) -> Option<Hit> {
    let len = b[p..].iter().take_while(|c| c.is_ascii_digit()).count();
    let int = std::str::from_utf8(&b[p..p + len]).ok()?;
    let v: i64 = int.parse().ok()?;
    let mut q = p + len;
    let ns = match len {
        10 => {
            let mut ns = v.checked_mul(1_000_000_000)?;
            if b.get(q) == Some(&b'.') && b.get(q + 1).is_some_and(u8::is_ascii_digit) {
                q += 1;
                let mut scale = 100_000_000i64;
                while let Some(d) = b.get(q).filter(|d| d.is_ascii_digit()) {
                    ns += i64::from(d - b'0') * scale;
                    scale /= 10;
                    q += 1;
                }
            }
            ns
        }
        13 => v.checked_mul(1_000_000)?,
        16 => v.checked_mul(1_000)?,
        19 => v,
        _ => return None,
    };
    // Not part of a dotted version, a date or an identifier.
    if !is_boundary(b, q) || matches!(b.get(q), Some(b'.' | b'-' | b':' | b'/' | b'_')) {
        return None;
    }
    const Y2000: i64 = 946_684_800_000_000_000;
    const Y2100: i64 = 4_102_444_800_000_000_000;
    (Y2000..Y2100).contains(&ns).then_some((ns, q, None))
}

/// klog/glog: `E0129 08:42:22.383150` at the start of a line; the letter is the level.
fn klog(b: &[u8], p: usize, years: YearRule) -> Option<Hit> {
    if p != 0 {
        return None;
    }
    let level = match b.first()? {
        b'I' => Level::Info,
        b'W' => Level::Warn,
        b'E' => Level::Error,
        b'F' => Level::Fatal,
        b'D' => Level::Debug,
        _ => return None,
    };
    let (m, d) = (num(b, 1, 2)?, num(b, 3, 2)?);
    if b.get(5) != Some(&b' ') {
        return None;
    }
    let (secs, nanos, q) = clock(b, 6)?;
    if !is_boundary(b, q) {
        return None;
    }
    Some((years.resolve(m, d, secs, nanos)?, q, Some(level)))
}

/// Month name, day (space-padded or not), clock: returns (month, day, secs, nanos, end).
fn month_day_clock(b: &[u8], p: usize) -> Option<(u32, u32, i64, i64, usize)> {
    let m = month(b, p)?;
    if b.get(p + 3) != Some(&b' ') {
        return None;
    }
    let mut q = p + 4;
    if b.get(q) == Some(&b' ') {
        q += 1;
    }
    let (d, n) = num12(b, q)?;
    q += n;
    if b.get(q) != Some(&b' ') {
        return None;
    }
    let (secs, nanos, q) = clock(b, q + 1)?;
    Some((m, d, secs, nanos, q))
}

/// `Jan 29 08:42:22[.fff]` (BSD syslog), year from `years`.
fn syslog_stamp(b: &[u8], p: usize, years: YearRule) -> Option<Hit> {
    let (m, d, secs, nanos, q) = month_day_clock(b, p)?;
    if !is_boundary(b, q) {
        return None;
    }
    Some((years.resolve(m, d, secs, nanos)?, q, None))
}

/// `Sun Jan 29 08:42:22[.ffffff] 2023` (asctime; Apache error log inside brackets).
fn asctime(b: &[u8], p: usize) -> Option<Hit> {
    const DAYS: [&[u8; 3]; 7] = [b"Mon", b"Tue", b"Wed", b"Thu", b"Fri", b"Sat", b"Sun"];
    let day = b.get(p..p + 3)?;
    if !DAYS.iter().any(|x| x[..] == *day) || b.get(p + 3) != Some(&b' ') {
        return None;
    }
    let (m, d, secs, nanos, q) = month_day_clock(b, p + 4)?;
    if b.get(q) != Some(&b' ') {
        return None;
    }
    let y = num(b, q + 1, 4)?;
    let q = q + 5;
    if !is_boundary(b, q) {
        return None;
    }
    Some((to_ns(i64::from(y), m, d, secs, nanos, 0)?, q, None))
}

#[cfg(test)]
mod tests {
    use super::*;

    const Y2023: YearRule = YearRule {
        fixed: Some(2023),
        now_ns: None,
    };

    fn ts(s: &str) -> Option<(i64, usize, usize)> {
        find_timestamp(s, 64, Y2023).map(|f| (f.ts_ns, f.start, f.end))
    }

    const T: i64 = 1_674_981_742_000_000_000; // 2023-01-29T08:42:22Z

    #[test]
    fn civil_days_round_trip() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2023, 1, 29), 19_386);
        assert_eq!(year_of(T), 2023);
        assert_eq!(year_of(0), 1970);
    }

    #[test]
    fn recognises_the_usual_stamps() {
        let ms = 383_000_000;
        assert_eq!(ts("2023-01-29T08:42:22.383Z x"), Some((T + ms, 0, 24)));
        assert_eq!(
            ts("2023-01-29 08:42:22,383 INFO").map(|t| t.0),
            Some(T + ms)
        );
        assert_eq!(ts("2023-01-29T10:42:22+02:00").map(|t| t.0), Some(T));
        assert_eq!(
            ts("2023/01/29 08:42:22 main.go:12: x").map(|t| t.0),
            Some(T)
        );
        assert_eq!(ts("20230129-08:42:22:383|a|b").map(|t| t.0), Some(T + ms));
        assert_eq!(ts("23/01/29 08:42:22 INFO x").map(|t| t.0), Some(T));
        assert_eq!(ts("230129 084222 148 INFO").map(|t| t.0), Some(T));
        assert_eq!(ts("[01.29 08:42:22] x").map(|t| t.0), Some(T));
        assert_eq!(ts("Jan 29 08:42:22 host app: x").map(|t| t.0), Some(T));
        assert_eq!(
            ts("Jan  9 08:42:22 host").map(|t| t.0),
            Some(T - 20 * 86_400 * 1_000_000_000)
        );
        assert_eq!(
            ts("[Sun Jan 29 08:42:22.383456 2023] [error] x").map(|t| t.0),
            Some(T + 383_456_000)
        );
        assert_eq!(
            ts("10.0.0.1 - - [29/Jan/2023:09:42:22 +0100] \"GET / HTTP/1.1\""),
            Some((T, 14, 40))
        );
        assert_eq!(ts("- 1674981742 2023.01.29 node").map(|t| t.0), Some(T));
        assert_eq!(ts("1674981742.5 x").map(|t| t.0), Some(T + 500_000_000));
        assert_eq!(ts("1674981742383 x").map(|t| t.0), Some(T + ms));
        let k = find_timestamp("E0129 08:42:22.383150    1 x.go:1] boom", 64, Y2023).unwrap();
        assert_eq!((k.ts_ns, k.level), (T + 383_150_000, Some(Level::Error)));
    }

    #[test]
    fn rejects_look_alikes() {
        assert_eq!(ts("version 1.2.3 build 20230129"), None);
        assert_eq!(ts("at com.example.Foo(Foo.java:1)"), None);
        assert_eq!(ts("2023-13-29 08:42:22 bad month"), None);
        assert_eq!(ts("2023-02-30 08:42:22 bad day"), None);
        assert_eq!(ts("blk_1674981742 id"), None);
        assert_eq!(ts("0001674981742 padded"), None);
        assert_eq!(ts("nova.log.2017-05-16_13:53:08 x"), None);
    }

    #[test]
    fn year_less_stamps_never_land_in_the_future() {
        let now = T; // 2023-01-29
        let rule = YearRule {
            fixed: None,
            now_ns: Some(now),
        };
        let dec = find_timestamp("Dec 31 23:00:00 host", 64, rule).unwrap();
        assert!(dec.ts_ns < now && year_of(dec.ts_ns) == 2022);
        let jan = find_timestamp("Jan 29 08:00:00 host", 64, rule).unwrap();
        assert_eq!(year_of(jan.ts_ns), 2023);
    }
}

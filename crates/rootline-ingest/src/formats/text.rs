//! Plain text lines: a timestamp somewhere near the start (see [`super::timestamp`]), the level
//! from the usual places, and the rest of the line as the message.

use rootline_core::Level;

use super::timestamp::find_timestamp;
use crate::parse::{LineContext, ParseError, ParsedLine};

/// How far into a line a timestamp may start. Most loggers put it first; access logs put the
/// client address first, some exports a file name or a record number (up to ~64 bytes).
pub const TIMESTAMP_WINDOW: usize = 64;

pub(crate) fn parse(line: &str, ctx: &LineContext<'_>) -> Result<(ParsedLine, bool), ParseError> {
    let found = find_timestamp(line, TIMESTAMP_WINDOW, super::year_rule(ctx));
    let Some(found) = found else {
        return match ctx.fallback_ts_ns {
            Some(ts) => Ok((plain(line, ts, None, ctx), false)),
            None => Err(ParseError::NoLeadingTimestamp),
        };
    };
    let prefix = line[..found.start].trim_end();
    let bracketed = prefix.ends_with('[');
    let prefix = prefix.trim_end_matches('[').trim_end();
    let mut rest = &line[found.end..];
    if bracketed {
        rest = rest.strip_prefix(']').unwrap_or(rest);
    }
    let rest = skip_separators(rest);
    let message = if prefix.is_empty() {
        rest.to_string()
    } else if rest.is_empty() {
        prefix.to_string()
    } else {
        let mut m = String::with_capacity(prefix.len() + 1 + rest.len());
        m.push_str(prefix);
        m.push(' ');
        m.push_str(rest);
        m
    };
    let level = found.level.unwrap_or_else(|| level_from_text(rest));
    Ok((
        ParsedLine {
            ts_ns: found.ts_ns,
            service: ctx.default_service.to_string(),
            host: ctx.default_host.map(str::to_string),
            level,
            module: logger_after_level(rest),
            message,
            trace_id: None,
            stream: ctx.stream,
        },
        true,
    ))
}

/// The logger most text layouts print after the level: oslo.log `PID LEVEL logger [req-…]`,
/// log4j `LEVEL [thread] logger: msg`, Spring Boot `LEVEL PID --- [thread] logger : msg`,
/// Python `LEVEL logger: msg`. Only a dotted name counts (`nova.compute.manager`,
/// `c.e.OrderService`), so a plain word after the level is never taken for a logger.
pub(crate) fn logger_after_level(rest: &str) -> Option<String> {
    const LEVELS: [&str; 10] = [
        "INFO", "WARN", "WARNING", "ERROR", "DEBUG", "TRACE", "FATAL", "CRITICAL", "SEVERE",
        "NOTICE",
    ];
    // The level is one of the first few words (a PID or a dash may come first).
    let mut after = None;
    let mut s = rest;
    for _ in 0..3 {
        s = s.trim_start();
        let end = s.find(char::is_whitespace).unwrap_or(s.len());
        let word = s[..end].trim_matches(|c| matches!(c, '[' | ']' | ':' | '-'));
        if LEVELS.iter().any(|l| l.eq_ignore_ascii_case(word)) {
            after = Some(&s[end..]);
            break;
        }
        s = &s[end..];
    }
    let mut s = after?;
    // Skip what sits between the level and the logger: a thread in brackets, a PID, `---`.
    for _ in 0..4 {
        s = s.trim_start();
        if let Some(inner) = s.strip_prefix('[') {
            s = &inner[inner.find(']')? + 1..];
        } else if let Some(r) = s.strip_prefix("---").or_else(|| s.strip_prefix("- ")) {
            s = r;
        } else if s.starts_with(|c: char| c.is_ascii_digit()) {
            s = s.trim_start_matches(|c: char| c.is_ascii_digit());
        } else {
            break;
        }
    }
    let end = s.find(char::is_whitespace).unwrap_or(s.len());
    let word = s[..end].trim_end_matches(':');
    // `FoodServiceImpl#302`, `Class@688`: a line number is not part of the logger.
    let word = word.split(['#', '@']).next().unwrap_or(word);
    let dotted = word.contains('.')
        && !word.ends_with('.')
        && word.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '$'));
    dotted.then(|| word.to_string())
}

/// Skips what loggers put between the stamp and the rest: spaces, `- `, `| `, `|`, `: `.
fn skip_separators(mut s: &str) -> &str {
    loop {
        let t = s.trim_start_matches([' ', '\t']);
        let next = if let Some(r) = t.strip_prefix('|') {
            r
        } else if let Some(r) = t
            .strip_prefix("- ")
            .or_else(|| t.strip_prefix(": "))
            .or_else(|| t.strip_prefix(", "))
        {
            r
        } else {
            return t;
        };
        s = next;
    }
}

/// A line with no timestamp of its own (inside a container wrapper that has one).
fn plain(line: &str, ts_ns: i64, level: Option<Level>, ctx: &LineContext<'_>) -> ParsedLine {
    ParsedLine {
        ts_ns,
        service: ctx.default_service.to_string(),
        host: ctx.default_host.map(str::to_string),
        level: level.unwrap_or_else(|| level_from_text(line)),
        message: line.to_string(),
        trace_id: None,
        module: None,
        stream: ctx.stream,
    }
}

/// A level word in any case (`WARN`, `warning`, `Err`, `CRITICAL`), without allocating.
pub fn level_word(t: &str) -> Option<Level> {
    const WORDS: &[(&str, Level)] = &[
        ("info", Level::Info),
        ("error", Level::Error),
        ("warn", Level::Warn),
        ("warning", Level::Warn),
        ("debug", Level::Debug),
        ("trace", Level::Trace),
        ("fatal", Level::Fatal),
        ("notice", Level::Info),
        ("err", Level::Error),
        ("crit", Level::Fatal),
        ("critical", Level::Fatal),
        ("severe", Level::Error),
        ("information", Level::Info),
        ("inf", Level::Info),
        ("wrn", Level::Warn),
        ("dbg", Level::Debug),
        ("trc", Level::Trace),
        ("finest", Level::Trace),
        ("finer", Level::Trace),
        ("fine", Level::Debug),
        ("panic", Level::Fatal),
        ("alert", Level::Fatal),
        ("emerg", Level::Fatal),
        ("emergency", Level::Fatal),
        ("i", Level::Info),
        ("w", Level::Warn),
        ("e", Level::Error),
        ("d", Level::Debug),
        ("f", Level::Fatal),
    ];
    let t = t.trim_matches(|c| c == '[' || c == ']');
    if t.is_empty() || t.len() > 11 {
        return None;
    }
    WORDS
        .iter()
        .find(|(w, _)| w.len() == t.len() && w.eq_ignore_ascii_case(t))
        .map(|(_, l)| *l)
}

/// Finds the level of a text message: a level word among its first four tokens in any case
/// (`16:42:22.382 INFO ...`, `[error]`, `[mpm_event:notice]`), an upper-case level word a little
/// further in (`RAS KERNEL INFO`), a `level=` pair, or an HTTP status in an access log line.
pub fn level_from_text(text: &str) -> Level {
    for (i, tok) in text.split_ascii_whitespace().take(10).enumerate() {
        if let Some((key, value)) = tok.split_once('=') {
            if matches!(key, "level" | "lvl" | "severity" | "loglevel")
                && let Some(l) = level_word(value.trim_matches('"'))
            {
                return l;
            }
            continue;
        }
        let mut t = tok.trim_matches(|c: char| !c.is_ascii_alphabetic());
        // `[mpm_event:notice]`, `[core:error]` (Apache 2.4).
        if tok.starts_with('[')
            && let Some((_, after)) = t.rsplit_once(':')
        {
            t = after;
        }
        // Single letters are too ambiguous inside free text.
        if t.len() < 3 {
            continue;
        }
        let upper = t.bytes().all(|c| c.is_ascii_uppercase());
        if (i < 4 || (upper && t.len() >= 4))
            && let Some(l) = level_word(t)
        {
            return l;
        }
    }
    http_status_level(text).unwrap_or(Level::Unknown)
}

/// `"GET /x HTTP/1.1" 503 ...` → error for 5xx, warn for 4xx, info otherwise.
fn http_status_level(text: &str) -> Option<Level> {
    let at = text.find(" HTTP/")?;
    let after = &text[at..];
    let quote = after.find("\" ")?;
    let status = after[quote + 2..].get(..3)?;
    if !status.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(match status.as_bytes()[0] {
        b'5' => Level::Error,
        b'4' => Level::Warn,
        _ => Level::Info,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_from_the_usual_places() {
        assert_eq!(level_from_text("ERROR [main] c.e.Pay - x"), Level::Error);
        assert_eq!(level_from_text("[notice] workerEnv.init() ok"), Level::Info);
        assert_eq!(level_from_text("[mpm_event:error] [pid 1] x"), Level::Error);
        assert_eq!(level_from_text("- name - WARNING - disk"), Level::Warn);
        assert_eq!(
            level_from_text("2005.06.03 R02-M1-N0 2005-06-03 R02-M1-N0 RAS KERNEL FATAL x"),
            Level::Fatal
        );
        assert_eq!(level_from_text("a=1 level=warn msg=x"), Level::Warn);
        assert_eq!(
            level_from_text("10.0.0.1 - - \"GET /x HTTP/1.1\" 503 12"),
            Level::Error
        );
        assert_eq!(level_from_text("user logged in"), Level::Unknown);
        // Lower-case words deep in free text are not levels.
        assert_eq!(level_from_text("a b c d we saw an error"), Level::Unknown);
    }
}

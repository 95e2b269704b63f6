//! Syslog: RFC 5424 (`<34>1 2003-10-11T22:14:15.003Z host app 1234 ID47 - msg`) and the BSD
//! format of RFC 3164 (`<34>Oct 11 22:14:15 host app[123]: msg`, also without `<PRI>`, as
//! written to /var/log by rsyslog and syslog-ng). The severity comes from PRI, the service from
//! the app name (tag), the host from the hostname.

use rootline_core::Level;

use super::timestamp::{parse_value, timestamp_at};
use crate::parse::{LineContext, ParseError, ParsedLine};

/// Syslog severity (PRI mod 8) as a level.
pub fn severity_level(sev: u8) -> Level {
    match sev {
        0..=2 => Level::Fatal,
        3 => Level::Error,
        4 => Level::Warn,
        5 | 6 => Level::Info,
        _ => Level::Debug,
    }
}

/// Parses a syslog line. `None` means "not syslog" (so auto-detection may try something else);
/// with `strict` (the file is syslog, or the line starts with `<PRI>`), a line that does not fit
/// is an error instead, except one that does not even start with a `<PRI>`-like prefix or a stamp.
pub(crate) fn parse(
    line: &str,
    ctx: &LineContext<'_>,
    strict: bool,
) -> Option<Result<(ParsedLine, bool), ParseError>> {
    let (pri, rest) = match line.strip_prefix('<') {
        Some(after) => {
            let digits = after.bytes().take_while(u8::is_ascii_digit).count();
            if !(1..=3).contains(&digits) || after.as_bytes().get(digits) != Some(&b'>') {
                return None;
            }
            let pri: u16 = after[..digits].parse().ok()?;
            if pri > 191 {
                return None;
            }
            (Some(pri), &after[digits + 1..])
        }
        None => (None, line),
    };
    let strict = strict || pri.is_some();
    if let Some(pri) = pri
        && let Some(body) = rest.strip_prefix("1 ")
    {
        return Some(rfc5424(pri, body, ctx));
    }
    rfc3164(pri, rest, ctx, strict)
}

fn rfc5424(pri: u16, body: &str, ctx: &LineContext<'_>) -> Result<(ParsedLine, bool), ParseError> {
    let mut rest = body;
    let mut field = || {
        let (f, r) = rest.split_once(' ').unwrap_or((rest, ""));
        rest = r;
        f
    };
    let (ts, host, app, _procid, _msgid) = (field(), field(), field(), field(), field());
    let (ts_ns, own) = if ts == "-" {
        match ctx.fallback_ts_ns {
            Some(fb) => (fb, false),
            None => return Err(ParseError::MissingTimestamp("syslog TIMESTAMP".into())),
        }
    } else {
        match parse_value(ts, super::year_rule(ctx)) {
            Some(t) => (t, true),
            None => return Err(ParseError::BadTimestamp(ts.to_string())),
        }
    };
    let message =
        skip_structured_data(rest).ok_or(ParseError::BadSyslog("unterminated structured data"))?;
    let message = message.strip_prefix('\u{feff}').unwrap_or(message);
    let nil = |s: &str| (s != "-" && !s.is_empty()).then(|| s.to_string());
    Ok((
        ParsedLine {
            ts_ns,
            service: nil(app).unwrap_or_else(|| ctx.default_service.to_string()),
            host: nil(host).or_else(|| ctx.default_host.map(str::to_string)),
            level: severity_level((pri & 7) as u8),
            message: message.to_string(),
            trace_id: None,
            module: None,
            stream: ctx.stream,
        },
        own,
    ))
}

/// Skips `-` or `[id k="v" ...][...]` (quoted values may contain `\]` and `\"`); returns the
/// message after it.
fn skip_structured_data(s: &str) -> Option<&str> {
    if let Some(r) = s.strip_prefix('-') {
        return Some(r.strip_prefix(' ').unwrap_or(r));
    }
    let b = s.as_bytes();
    let mut i = 0;
    while b.get(i) == Some(&b'[') {
        let mut in_quotes = false;
        i += 1;
        loop {
            match b.get(i)? {
                b'\\' if in_quotes => i += 1,
                b'"' => in_quotes = !in_quotes,
                b']' if !in_quotes => break,
                _ => {}
            }
            i += 1;
        }
        i += 1;
    }
    let r = &s[i..];
    Some(r.strip_prefix(' ').unwrap_or(r))
}

fn rfc3164(
    pri: Option<u16>,
    rest: &str,
    ctx: &LineContext<'_>,
    strict: bool,
) -> Option<Result<(ParsedLine, bool), ParseError>> {
    let b = rest.as_bytes();
    // Without PRI, only the BSD stamp (`Jan 29 08:42:22`) says "syslog"; ISO-first lines are text.
    if !strict && !b.first().is_some_and(u8::is_ascii_uppercase) {
        return None;
    }
    let Some(found) = timestamp_at(b, 0, super::year_rule(ctx)) else {
        return strict.then_some(Err(ParseError::NotSyslog));
    };
    let after = rest[found.end..].trim_start_matches(' ');
    let (host, tag, message) = split_host_tag(after);
    if !strict && tag.is_none() {
        return None;
    }
    let level = match pri {
        Some(p) => severity_level((p & 7) as u8),
        None => super::text::level_from_text(message),
    };
    Some(Ok((
        ParsedLine {
            ts_ns: found.ts_ns,
            service: tag
                .map(str::to_string)
                .unwrap_or_else(|| ctx.default_service.to_string()),
            host: host
                .map(str::to_string)
                .or_else(|| ctx.default_host.map(str::to_string)),
            level,
            message: message.to_string(),
            trace_id: None,
            module: None,
            stream: ctx.stream,
        },
        true,
    )))
}

/// `host tag[pid]: msg`, `host tag: msg`, `tag[pid]: msg` (no host), or `host msg`.
fn split_host_tag(s: &str) -> (Option<&str>, Option<&str>, &str) {
    let (first, after_first) = s.split_once(' ').unwrap_or((s, ""));
    if let Some((tag, msg)) = tag_at(s) {
        // The first token is itself a tag: the sender left out the hostname.
        if !first.is_empty() && tag.len() <= first.len() {
            return (None, Some(tag), msg);
        }
    }
    let after_first = after_first.trim_start_matches(' ');
    match tag_at(after_first) {
        Some((tag, msg)) => (Some(first).filter(|h| !h.is_empty()), Some(tag), msg),
        None => (Some(first).filter(|h| !h.is_empty()), None, after_first),
    }
}

/// A tag at the start of `s`: `name[pid]: ` (the name may contain spaces, as macOS process
/// names do) or `name: ` (one token). Returns the name and the message after it.
fn tag_at(s: &str) -> Option<(&str, &str)> {
    let first = s.split(' ').next().unwrap_or("");
    if let Some(name) = first.strip_suffix(':')
        && !name.is_empty()
    {
        let name = match name.strip_suffix(']').and_then(|n| n.rsplit_once('[')) {
            Some((n, pid)) if !n.is_empty() && pid.bytes().all(|c| c.is_ascii_digit()) => n,
            _ => name,
        };
        // `INFO: started` is a level, not a program.
        if name.contains(['=', '"']) || super::text::level_word(name).is_some() {
            return None;
        }
        return Some((name, s[first.len()..].trim_start_matches(' ')));
    }
    // `Some Name[123]: msg`: look a little further for `[digits]:`.
    let window = &s[..s.len().min(64)];
    let close = window.find("]:")?;
    let open = window[..close].rfind('[')?;
    let pid = &window[open + 1..close];
    if open == 0 || pid.is_empty() || !pid.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let name = &s[..open];
    if name.contains([':', '=', '"']) {
        return None;
    }
    Some((name, s[close + 2..].trim_start_matches(' ')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_and_tag_shapes() {
        assert_eq!(
            split_host_tag("combo sshd(pam_unix)[19939]: authentication failure;"),
            (
                Some("combo"),
                Some("sshd(pam_unix)"),
                "authentication failure;"
            )
        );
        assert_eq!(
            split_host_tag("mymachine su: 'su root' failed"),
            (Some("mymachine"), Some("su"), "'su root' failed")
        );
        assert_eq!(
            split_host_tag("app[123]: no host here"),
            (None, Some("app"), "no host here")
        );
        assert_eq!(
            split_host_tag("mac Google Chrome Helper[1234]: x"),
            (Some("mac"), Some("Google Chrome Helper"), "x")
        );
        assert_eq!(
            split_host_tag("host just a message"),
            (Some("host"), None, "just a message")
        );
    }

    #[test]
    fn structured_data_is_skipped() {
        assert_eq!(
            skip_structured_data(r#"[a@1 k="v\]x" j="y"][b@2 z="1"] hello"#),
            Some("hello")
        );
        assert_eq!(skip_structured_data("- hello"), Some("hello"));
        assert_eq!(skip_structured_data("[a@1 k=\"v"), None);
    }
}

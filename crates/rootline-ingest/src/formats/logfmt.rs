//! logfmt: `ts=2023-01-29T08:42:22Z level=info msg="a b" service=x`. Keys are mapped through the
//! same [`JsonMapping`](super::JsonMapping) as JSON; quoted values may contain `\"` and `\\`.

use std::borrow::Cow;

use super::{Fields, Scalar};
use crate::parse::{LineContext, ParseError, ParsedLine};

/// One `key=value` pair (or a bare `key`, whose value is empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pair<'a> {
    pub key: &'a str,
    pub value: Cow<'a, str>,
}

/// Iterates over the pairs of a logfmt line. Stops (without error) at anything that cannot be a
/// key, such as an unmatched quote; callers decide whether enough pairs were found.
pub fn pairs(line: &str) -> Pairs<'_> {
    Pairs { s: line, pos: 0 }
}

#[derive(Debug)]
pub struct Pairs<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Iterator for Pairs<'a> {
    type Item = Pair<'a>;

    fn next(&mut self) -> Option<Pair<'a>> {
        let b = self.s.as_bytes();
        while self.pos < b.len() && b[self.pos].is_ascii_whitespace() {
            self.pos += 1;
        }
        let start = self.pos;
        while self.pos < b.len()
            && !b[self.pos].is_ascii_whitespace()
            && b[self.pos] != b'='
            && b[self.pos] != b'"'
        {
            self.pos += 1;
        }
        if self.pos == start {
            return None;
        }
        let key = &self.s[start..self.pos];
        if b.get(self.pos) != Some(&b'=') {
            return Some(Pair {
                key,
                value: Cow::Borrowed(""),
            });
        }
        self.pos += 1;
        if b.get(self.pos) == Some(&b'"') {
            let vstart = self.pos + 1;
            let mut i = vstart;
            let mut escaped = false;
            while i < b.len() && b[i] != b'"' {
                if b[i] == b'\\' {
                    escaped = true;
                    i += 1;
                }
                i += 1;
            }
            if i >= b.len() {
                // Unterminated quote: not logfmt from here on.
                self.pos = b.len();
                return None;
            }
            let raw = &self.s[vstart..i];
            self.pos = i + 1;
            let value = if escaped {
                Cow::Owned(unescape(raw))
            } else {
                Cow::Borrowed(raw)
            };
            return Some(Pair { key, value });
        }
        let vstart = self.pos;
        while self.pos < b.len() && !b[self.pos].is_ascii_whitespace() {
            self.pos += 1;
        }
        Some(Pair {
            key,
            value: Cow::Borrowed(&self.s[vstart..self.pos]),
        })
    }
}

fn unescape(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

/// A line is logfmt when it starts with `key=` (a plain identifier key) and has at least two
/// `key=value` pairs.
pub fn looks_like(line: &str) -> bool {
    let b = line.as_bytes();
    let key_len = b
        .iter()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-' | b'@'))
        .count();
    if key_len == 0 || b.get(key_len) != Some(&b'=') || !b[0].is_ascii_alphabetic() {
        return false;
    }
    pairs(line).filter(|p| !p.value.is_empty()).take(2).count() == 2
}

pub(crate) fn parse(line: &str, ctx: &LineContext<'_>) -> Result<(ParsedLine, bool), ParseError> {
    let mapping = ctx.json_mapping.unwrap_or_else(|| super::default_mapping());
    let mut fields = Fields::default();
    let mut seen = 0usize;
    for pair in pairs(line) {
        seen += 1;
        let value = pair.value;
        Fields::matches(mapping, pair.key, |slot, prio| {
            fields.set(slot, prio, Scalar::Str(value.clone()));
        });
    }
    if seen == 0 {
        return Err(ParseError::NotLogfmt);
    }
    fields.finish(line, ctx, || mapping.timestamp.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_with_quotes_and_escapes() {
        let got: Vec<(String, String)> =
            pairs(r#"ts=1 msg="a \"b\" c" bare level=info empty= path=/x"#)
                .map(|p| (p.key.to_string(), p.value.into_owned()))
                .collect();
        let want = [
            ("ts", "1"),
            ("msg", "a \"b\" c"),
            ("bare", ""),
            ("level", "info"),
            ("empty", ""),
            ("path", "/x"),
        ];
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(got, want);
        assert!(looks_like("ts=1 level=info"));
        assert!(!looks_like("GET /x?a=1 b=2"));
        assert!(!looks_like("a=1 and nothing else"));
    }
}

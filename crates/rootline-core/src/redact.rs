//! Redaction of secrets (and, optionally, emails and IP addresses) from text before it leaves
//! the process or is shown. The one engine: stored config versions (free text included), model
//! payloads, chat answers and the timeline's raw lines all pass through [`Redactor::redact`]
//! with the same rules, so what one of them hides none of the others shows. Pure (no IO).
//!
//! Every string that goes into a model request passes through [`Redactor::redact`]. The scanners
//! are hand-written (no regex dependency) and err on the side of removing too much: a redacted
//! harmless word costs a little context, a leaked key costs a rotation. Each match is replaced by
//! `[REDACTED:<kind>]`, and redacting already redacted text changes nothing.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What to redact besides secrets, which are always redacted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedactionConfig {
    pub emails: bool,
    pub ips: bool,
}

/// How many matches of each kind were replaced.
pub type RedactionCounts = BTreeMap<String, usize>;

const MARKER: &str = "[REDACTED:";

/// What a stored config's fingerprint mask starts with (`***#` + 8 hex digits: a secret replaced
/// by a short keyed hash, so that a rotated secret still shows as a change; made in
/// `rootline-config`).
pub const MASK_PREFIX: &str = "***#";

/// True for a fingerprint mask: already redacted, never redacted again.
pub fn is_fingerprint_mask(s: &str) -> bool {
    s.len() == MASK_PREFIX.len() + 8
        && s.starts_with(MASK_PREFIX)
        && s[MASK_PREFIX.len()..]
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

#[derive(Debug, Clone, Default)]
pub struct Redactor {
    config: RedactionConfig,
    /// Exact strings always removed (the configured API key), with their kind.
    literals: Vec<(String, &'static str)>,
}

impl Redactor {
    pub fn new(config: RedactionConfig) -> Self {
        Self {
            config,
            literals: vec![],
        }
    }

    /// Also removes every occurrence of `literal` (ignored when shorter than 8 characters).
    pub fn with_literal(mut self, literal: &str, kind: &'static str) -> Self {
        if literal.len() >= 8 {
            self.literals.push((literal.to_string(), kind));
        }
        self
    }

    /// `text` with every secret replaced, counting replacements into `counts`.
    pub fn redact(&self, text: &str, counts: &mut RedactionCounts) -> String {
        let mut s = text.to_string();
        for (literal, kind) in &self.literals {
            let n = s.matches(literal.as_str()).count();
            if n > 0 {
                s = s.replace(literal.as_str(), &marker(kind));
                *counts.entry((*kind).to_string()).or_default() += n;
            }
        }
        s = private_keys(&s, counts);
        s = url_passwords(&s, counts);
        s = auth_headers(&s, counts);
        s = webhook_urls(&s, counts);
        s = key_values(&s, counts);
        s = known_tokens(&s, counts);
        s = aws_secret_keys(&s, counts);
        if self.config.emails {
            s = emails(&s, counts);
        }
        if self.config.ips {
            s = ipv4(&s, counts);
            s = ipv6(&s, counts);
        }
        s
    }

    /// Redacts every string inside a JSON value, keys included.
    pub fn redact_json(
        &self,
        value: &serde_json::Value,
        counts: &mut RedactionCounts,
    ) -> serde_json::Value {
        use serde_json::Value;
        match value {
            Value::String(s) => Value::String(self.redact(s, counts)),
            Value::Array(items) => {
                Value::Array(items.iter().map(|v| self.redact_json(v, counts)).collect())
            }
            Value::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (self.redact(k, counts), self.redact_json(v, counts)))
                    .collect(),
            ),
            other => other.clone(),
        }
    }
}

fn marker(kind: &str) -> String {
    format!("{MARKER}{kind}]")
}

fn bump(counts: &mut RedactionCounts, kind: &str) {
    *counts.entry(kind.to_string()).or_default() += 1;
}

/// Replaces non-overlapping, sorted byte spans `(start, end, kind)` of `text`. Every span
/// boundary must be on a char boundary (all scanners cut at ASCII bytes).
fn splice(text: &str, spans: &[(usize, usize, &str)], counts: &mut RedactionCounts) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for &(start, end, kind) in spans {
        if start < at || end <= start {
            continue;
        }
        out.push_str(&text[at..start]);
        out.push_str(&marker(kind));
        bump(counts, kind);
        at = end;
    }
    out.push_str(&text[at..]);
    out
}

fn find_ci(haystack: &str, needle: &str, from: usize) -> Option<usize> {
    let h = haystack.as_bytes();
    let n = needle.as_bytes();
    if n.is_empty() || h.len() < n.len() {
        return None;
    }
    (from..=h.len() - n.len()).find(|&i| h[i..i + n.len()].eq_ignore_ascii_case(n))
}

/// `-----BEGIN … PRIVATE KEY-----` through the matching END line (or the end of the text, when a
/// line cap cut the block).
fn private_keys(text: &str, counts: &mut RedactionCounts) -> String {
    let mut spans = Vec::new();
    let mut from = 0;
    while let Some(begin) = find_ci(text, "-----BEGIN ", from) {
        let header_end = find_ci(text, "-----", begin + 11).map(|i| i + 5);
        let Some(header_end) = header_end else { break };
        if !text[begin..header_end]
            .to_ascii_uppercase()
            .contains("PRIVATE KEY")
        {
            from = header_end;
            continue;
        }
        let end = find_ci(text, "-----END ", header_end)
            .and_then(|e| find_ci(text, "-----", e + 9).map(|i| i + 5))
            .unwrap_or(text.len());
        spans.push((begin, end, "private_key"));
        from = end;
    }
    splice(text, &spans, counts)
}

fn is_scheme_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.')
}

/// `scheme://user:password@host` keeps the user and host, drops the password.
fn url_passwords(text: &str, counts: &mut RedactionCounts) -> String {
    let b = text.as_bytes();
    let mut spans = Vec::new();
    let mut from = 0;
    while let Some(sep) = text[from..].find("://").map(|i| i + from) {
        from = sep + 3;
        if sep == 0 || !is_scheme_byte(b[sep - 1]) {
            continue;
        }
        // userinfo runs to '@' and may not contain '/', whitespace or quotes.
        let rest = &b[sep + 3..];
        let Some(at) = rest
            .iter()
            .position(|&c| c == b'@' || c == b'/' || c.is_ascii_whitespace() || c == b'"')
        else {
            continue;
        };
        if rest[at] != b'@' {
            continue;
        }
        let userinfo = &rest[..at];
        if let Some(colon) = userinfo.iter().position(|&c| c == b':') {
            let start = sep + 3 + colon + 1;
            let end = sep + 3 + at;
            if end > start
                && !text[start..end].starts_with(MARKER)
                && !is_fingerprint_mask(&text[start..end])
            {
                spans.push((start, end, "url_password"));
            }
        }
        from = sep + 3 + at + 1;
    }
    splice(text, &spans, counts)
}

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'+' | b'/' | b'=')
}

/// `Bearer <token>` anywhere, `Basic <credentials>` after `Authorization`.
fn auth_headers(text: &str, counts: &mut RedactionCounts) -> String {
    let b = text.as_bytes();
    let mut spans = Vec::new();
    for (scheme, kind) in [("bearer", "bearer_token"), ("basic", "basic_auth")] {
        let mut from = 0;
        while let Some(i) = find_ci(text, scheme, from) {
            from = i + scheme.len();
            if i > 0 && b[i - 1].is_ascii_alphanumeric() {
                continue;
            }
            let mut j = i + scheme.len();
            if j >= b.len() || b[j] != b' ' {
                continue;
            }
            while j < b.len() && b[j] == b' ' {
                j += 1;
            }
            let start = j;
            while j < b.len() && is_token_byte(b[j]) {
                j += 1;
            }
            if j - start < 8 {
                continue;
            }
            if kind == "basic_auth" {
                let before = text[..i].trim_end_matches([' ', ':', '"', '\'', '=']);
                if !before.to_ascii_lowercase().ends_with("authorization") {
                    continue;
                }
            }
            spans.push((start, j, kind));
            from = j;
        }
    }
    spans.sort_by_key(|s| s.0);
    splice(text, &spans, counts)
}

fn is_ident_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.')
}

/// Splits an identifier into lowercase words at `_ - .` and camelCase humps.
fn ident_words(ident: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for c in ident.chars() {
        if !c.is_ascii_alphanumeric() {
            if !cur.is_empty() {
                words.push(std::mem::take(&mut cur));
            }
            prev_lower = false;
            continue;
        }
        if c.is_ascii_uppercase() && prev_lower && !cur.is_empty() {
            words.push(std::mem::take(&mut cur));
        }
        prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        cur.push(c.to_ascii_lowercase());
    }
    if !cur.is_empty() {
        words.push(cur);
    }
    words
}

/// Whether a key name (`password`, `db_pass`, `apiKey`, `X-Api-Key`, `client_secret`, …) names
/// a secret. `max_tokens` or `token_count` do not: only the singular word counts.
fn is_secret_key(ident: &str) -> bool {
    const WORDS: &[&str] = &[
        "password",
        "passwd",
        "pwd",
        "pw",
        "pass",
        "passphrase",
        "secret",
        "token",
        "apikey",
        "accesskey",
        "privatekey",
        "credential",
        "credentials",
    ];
    const PAIRS: &[(&str, &str)] = &[("api", "key"), ("access", "key"), ("private", "key")];
    // Metadata about a secret is not the secret: `token_count`, `password_length`, `key_id`.
    const METADATA: &[&str] = &[
        "count", "counts", "len", "length", "size", "type", "id", "ids", "expiry", "expires",
        "ttl", "name", "limit", "max", "min", "total", "used", "file", "path", "url", "endpoint",
        "policy", "version", "kind", "format", "hash", "age", "valid", "enabled", "required",
    ];
    let w = ident_words(ident);
    if w.last().is_some_and(|l| METADATA.contains(&l.as_str())) {
        return false;
    }
    w.iter().any(|x| WORDS.contains(&x.as_str()))
        || w.windows(2)
            .any(|p| PAIRS.contains(&(p[0].as_str(), p[1].as_str())))
}

/// Values that are not secrets even after a secret-looking key.
fn is_placeholder(value: &str) -> bool {
    const PLACEHOLDERS: &[&str] = &[
        "null",
        "none",
        "nil",
        "true",
        "false",
        "undefined",
        "empty",
        "expired",
        "invalid",
        "missing",
        "required",
        "incorrect",
        "not",
        "is",
    ];
    value.starts_with(MARKER)
        || is_fingerprint_mask(value)
        || value.chars().all(|c| c == '*' || c == 'x' || c == 'X')
        || PLACEHOLDERS.contains(&value.to_ascii_lowercase().as_str())
}

/// `password=…`, `"apiKey": "…"`, `db_pass: …`, `Password=…;` (connection strings) and the like.
fn key_values(text: &str, counts: &mut RedactionCounts) -> String {
    let b = text.as_bytes();
    let mut spans = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if !is_ident_byte(b[i]) || (i > 0 && is_ident_byte(b[i - 1])) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && is_ident_byte(b[i]) {
            i += 1;
        }
        let ident = &text[start..i];
        if !is_secret_key(ident) {
            continue;
        }
        // Optional closing quote of a JSON key, spaces, then `=`, `:` or `=>`.
        let mut j = i;
        if j < b.len() && (b[j] == b'"' || b[j] == b'\'') {
            j += 1;
        }
        while j < b.len() && b[j] == b' ' {
            j += 1;
        }
        if j >= b.len() || !(b[j] == b'=' || b[j] == b':') {
            continue;
        }
        j += 1;
        if j < b.len() && b[j] == b'>' {
            j += 1;
        }
        while j < b.len() && b[j] == b' ' {
            j += 1;
        }
        let (vstart, vend) = if j < b.len() && (b[j] == b'"' || b[j] == b'\'') {
            let q = b[j];
            let vs = j + 1;
            let mut k = vs;
            while k < b.len() && b[k] != q {
                // Skip escaped quotes inside JSON strings.
                if b[k] == b'\\' {
                    k += 1;
                }
                k += 1;
            }
            (vs, k.min(b.len()))
        } else {
            let vs = j;
            let mut k = vs;
            while k < b.len()
                && !b[k].is_ascii_whitespace()
                && !matches!(b[k], b',' | b';' | b'&' | b'}' | b')' | b']' | b'"' | b'\'')
            {
                k += 1;
            }
            (vs, k)
        };
        if vend > vstart && !is_placeholder(&text[vstart..vend]) {
            spans.push((vstart, vend, "secret_value"));
            i = vend;
        }
    }
    splice(text, &spans, counts)
}

/// Keys and tokens recognisable by their shape alone.
fn token_kind(word: &str) -> Option<&'static str> {
    let rest_len = |p: &str| word.len() - p.len();
    let alnum_tail = |p: &str| word[p.len()..].bytes().all(|c| c.is_ascii_alphanumeric());
    let prefixed: &[(&str, usize)] = &[
        ("sk-", 20),
        ("sk_live_", 10),
        ("sk_test_", 10),
        ("rk_live_", 10),
        ("ghp_", 20),
        ("gho_", 20),
        ("ghu_", 20),
        ("ghs_", 20),
        ("ghr_", 20),
        ("github_pat_", 20),
        ("glpat-", 20),
        ("xoxb-", 10),
        ("xoxp-", 10),
        ("xoxa-", 10),
        ("xoxr-", 10),
        ("xoxs-", 10),
        ("hf_", 30),
        ("AIza", 30),
    ];
    for &(p, min) in prefixed {
        if word.starts_with(p) && rest_len(p) >= min && word.bytes().any(|c| c.is_ascii_digit()) {
            return Some("api_key");
        }
    }
    for p in ["AKIA", "ASIA"] {
        if word.len() == 20
            && word.starts_with(p)
            && alnum_tail(p)
            && word[4..]
                .bytes()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
        {
            return Some("api_key");
        }
    }
    let parts: Vec<&str> = word.split('.').collect();
    if parts.len() == 3
        && parts[0].starts_with("eyJ")
        && parts.iter().all(|p| {
            p.len() >= 8
                && p.bytes()
                    .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        })
    {
        return Some("jwt");
    }
    None
}

fn known_tokens(text: &str, counts: &mut RedactionCounts) -> String {
    let b = text.as_bytes();
    let is_word = |c: u8| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.');
    let mut spans = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if !is_word(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && is_word(b[i]) {
            i += 1;
        }
        // A sentence may end right after a token.
        let word = text[start..i].trim_end_matches('.');
        if let Some(kind) = token_kind(word) {
            spans.push((start, start + word.len(), kind));
        }
    }
    splice(text, &spans, counts)
}

/// Incoming-webhook URLs carry their credential in the path: Slack's
/// `https://hooks.slack.com/services/T…/B…/…` (and `/workflows/…`), Discord's
/// `https://discord.com/api/webhooks/…`, Microsoft's `…webhook.office.com/webhookb2/…`. The host
/// stays (it says what it was), the path goes.
fn webhook_urls(text: &str, counts: &mut RedactionCounts) -> String {
    const HOOKS: &[&str] = &[
        "hooks.slack.com/",
        "discord.com/api/webhooks/",
        "discordapp.com/api/webhooks/",
        "webhook.office.com/",
    ];
    let b = text.as_bytes();
    let mut spans = Vec::new();
    for hook in HOOKS {
        let mut from = 0;
        while let Some(i) = find_ci(text, hook, from) {
            let start = i + hook.len();
            let mut end = start;
            while end < b.len()
                && !b[end].is_ascii_whitespace()
                && !matches!(b[end], b'"' | b'\'' | b'>' | b')')
            {
                end += 1;
            }
            if end > start && !text[start..end].starts_with(MARKER) {
                spans.push((start, end, "webhook_url"));
            }
            from = end.max(i + 1);
        }
    }
    spans.sort_by_key(|s| s.0);
    splice(text, &spans, counts)
}

/// An AWS secret access key: 40 characters of base64 (`A-Z a-z 0-9 / +`) with upper and lower
/// case, a digit and a `/` or `+`, standing alone. (Hex digests and ids have no `/` or `+` and no
/// mixed case; the key id, `AKIA…`, is a known token.)
fn aws_secret_keys(text: &str, counts: &mut RedactionCounts) -> String {
    let b = text.as_bytes();
    let is_b64 = |c: u8| c.is_ascii_alphanumeric() || matches!(c, b'/' | b'+');
    let mut spans = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if !is_b64(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && is_b64(b[i]) {
            i += 1;
        }
        let word = &b[start..i];
        let trailing_eq = i < b.len() && b[i] == b'=';
        if word.len() == 40
            && !trailing_eq
            && word.iter().any(u8::is_ascii_uppercase)
            && word.iter().any(u8::is_ascii_lowercase)
            && word.iter().any(u8::is_ascii_digit)
            && word.iter().any(|&c| c == b'/' || c == b'+')
        {
            spans.push((start, i, "aws_secret_key"));
        }
    }
    splice(text, &spans, counts)
}

fn emails(text: &str, counts: &mut RedactionCounts) -> String {
    let b = text.as_bytes();
    let local = |c: u8| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'%' | b'+' | b'-');
    let domain = |c: u8| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-');
    let mut spans = Vec::new();
    let mut from = 0;
    while let Some(at) = text[from..].find('@').map(|i| i + from) {
        from = at + 1;
        let mut s = at;
        while s > 0 && local(b[s - 1]) {
            s -= 1;
        }
        let mut e = at + 1;
        while e < b.len() && domain(b[e]) {
            e += 1;
        }
        let dom = text[at + 1..e].trim_end_matches(['.', '-']);
        let e = at + 1 + dom.len();
        let tld_ok = dom
            .rsplit_once('.')
            .is_some_and(|(_, tld)| tld.len() >= 2 && tld.bytes().all(|c| c.is_ascii_alphabetic()));
        if s < at && tld_ok {
            spans.push((s, e, "email"));
            from = e;
        }
    }
    splice(text, &spans, counts)
}

fn ipv4(text: &str, counts: &mut RedactionCounts) -> String {
    let b = text.as_bytes();
    let mut spans = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if !b[i].is_ascii_digit()
            || (i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'.'))
        {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.') {
            i += 1;
        }
        let cand = &text[start..i];
        let cand = cand.trim_end_matches('.');
        let end = start + cand.len();
        let octets: Vec<&str> = cand.split('.').collect();
        let after_ok = end >= b.len() || !b[end].is_ascii_alphanumeric();
        if after_ok
            && octets.len() == 4
            && octets
                .iter()
                .all(|o| !o.is_empty() && o.len() <= 3 && o.parse::<u16>().is_ok_and(|n| n <= 255))
        {
            spans.push((start, end, "ip"));
        }
    }
    splice(text, &spans, counts)
}

/// IPv6 addresses: eight groups, or a `::` with at least three groups, so `09:25:39` and
/// `Foo::bar` stay.
fn ipv6(text: &str, counts: &mut RedactionCounts) -> String {
    let b = text.as_bytes();
    let mut spans = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if !(b[i].is_ascii_hexdigit() || b[i] == b':')
            || (i > 0 && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b':'))
        {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && (b[i].is_ascii_hexdigit() || b[i] == b':') {
            i += 1;
        }
        if i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_') {
            continue;
        }
        let cand = &text[start..i];
        let groups: Vec<&str> = cand.split(':').filter(|g| !g.is_empty()).collect();
        let ok_groups = groups.iter().all(|g| g.len() <= 4);
        let compressed = cand.contains("::") && groups.len() >= 3;
        let full = cand.matches(':').count() == 7 && groups.len() == 8;
        if ok_groups && (compressed || full) && !cand.contains(":::") {
            spans.push((start, i, "ip"));
        }
    }
    splice(text, &spans, counts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn red(s: &str) -> String {
        Redactor::new(RedactionConfig {
            emails: true,
            ips: true,
        })
        .redact(s, &mut RedactionCounts::new())
    }

    fn secrets_only(s: &str) -> String {
        Redactor::default().redact(s, &mut RedactionCounts::new())
    }

    #[test]
    fn api_keys_and_tokens() {
        let s = secrets_only(
            "calling openai with sk-proj-Ab3dEf9hIjK1mNoPqRsTuVwXyZ012345 and AKIAIOSFODNN7EXAMPLE ghp_0123456789abcdefghijABCDEFGHIJ",
        );
        assert!(!s.contains("sk-proj"), "{s}");
        assert!(!s.contains("AKIAIOSFODNN7EXAMPLE"), "{s}");
        assert!(!s.contains("ghp_0123"), "{s}");
        assert_eq!(s.matches("[REDACTED:api_key]").count(), 3, "{s}");
        let jwt = "token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U.";
        let s = secrets_only(jwt);
        assert_eq!(s, "token [REDACTED:jwt].");
    }

    #[test]
    fn bearer_and_basic() {
        let s = secrets_only("GET /api Authorization: Bearer abc.def-ghi_123456 host=x");
        assert_eq!(
            s,
            "GET /api Authorization: Bearer [REDACTED:bearer_token] host=x"
        );
        let s = secrets_only("header authorization: Basic dXNlcjpwYXNzd29yZA== ok");
        assert_eq!(s, "header authorization: Basic [REDACTED:basic_auth] ok");
        // English prose is left alone.
        let plain = "falling back to basic authentication for bearer tokens";
        assert_eq!(secrets_only(plain), plain);
    }

    #[test]
    fn passwords_in_key_values_and_connection_strings() {
        let s = secrets_only(r#"connecting with password=hunter2, user=bob"#);
        assert_eq!(
            s,
            "connecting with password=[REDACTED:secret_value], user=bob"
        );
        let s = secrets_only(r#"{"db_password": "p@ss \"word\"", "apiKey":"k-123"}"#);
        assert!(!s.contains("p@ss") && !s.contains("k-123"), "{s}");
        let s = secrets_only("Server=db;User Id=sa;Password=Sup3r;Database=orders");
        assert_eq!(
            s,
            "Server=db;User Id=sa;Password=[REDACTED:secret_value];Database=orders"
        );
        let s = secrets_only("jdbc:postgresql://app:s3cr3t@db.internal:5432/orders failed");
        assert_eq!(
            s,
            "jdbc:postgresql://app:[REDACTED:url_password]@db.internal:5432/orders failed"
        );
        let s = secrets_only("redis://:topsecret@cache:6379");
        assert_eq!(s, "redis://:[REDACTED:url_password]@cache:6379");
        // Not secrets: counts, placeholders, prose.
        for keep in [
            "max_tokens=2048 token_count: 17 password_length=12 api_key_id: 7",
            "password: null",
            "token=*** (masked)",
            "invalid password for user bob",
            "http://example.com/path?x=1",
        ] {
            assert_eq!(secrets_only(keep), keep);
        }
    }

    #[test]
    fn private_keys() {
        let s = secrets_only(
            "key loaded: -----BEGIN RSA PRIVATE KEY-----\nMIIEow\nIBAAKC\n-----END RSA PRIVATE KEY----- done",
        );
        assert_eq!(s, "key loaded: [REDACTED:private_key] done");
        let cut = secrets_only("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk");
        assert_eq!(cut, "[REDACTED:private_key]");
        let cert = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----";
        assert_eq!(secrets_only(cert), cert);
    }

    #[test]
    fn emails_and_ips_only_when_asked() {
        let line = "user alice.smith@example.co.uk from 10.0.12.7 and fe80::1ff:fe23:4567:890a at 09:25:39 via std::io";
        assert_eq!(secrets_only(line), line);
        let s = red(line);
        assert_eq!(
            s,
            "user [REDACTED:email] from [REDACTED:ip] and [REDACTED:ip] at 09:25:39 via std::io"
        );
        // Versions with more or fewer parts, and out-of-range octets, stay.
        for keep in ["v1.2.3", "1.2.3.4.5", "999.1.1.1", "a1.2.3.4"] {
            assert_eq!(red(keep), keep);
        }
    }

    #[test]
    fn idempotent_counted_and_json() {
        let mut counts = RedactionCounts::new();
        let r = Redactor::default();
        let once = r.redact("password=a token=b Bearer abcdefgh12345", &mut counts);
        assert_eq!(counts.get("secret_value"), Some(&2));
        assert_eq!(counts.get("bearer_token"), Some(&1));
        let mut again = RedactionCounts::new();
        assert_eq!(r.redact(&once, &mut again), once);
        assert!(again.is_empty(), "{again:?}");
        let v = serde_json::json!({"a": ["x password=p1"], "n": 3});
        let out = r.redact_json(&v, &mut counts);
        assert_eq!(out["a"][0], "x password=[REDACTED:secret_value]");
        assert_eq!(out["n"], 3);
    }

    #[test]
    fn unicode_survives() {
        let s = secrets_only("ошибка: пароль password=секрет; дальше ✓");
        assert_eq!(
            s,
            "ошибка: пароль password=[REDACTED:secret_value]; дальше ✓"
        );
    }

    /// The secrets an adversarial test found unmasked in stored configs, model payloads, chat
    /// answers and the timeline (#21, item 4): one engine hides them all.
    #[test]
    fn webhook_urls_aws_secret_keys_and_short_password_keys() {
        let r = Redactor::default();
        let mut counts = RedactionCounts::new();
        let text = "pw: hunter2 token ghp_0123456789abcdefghijABCDEFGHIJ key sk_live_4eC39HqLyjWDarjtT1zdp7dc \
                    post https://hooks.slack.com/services/T0001/B0002/XXXXXXXXXXXXXXXXXXXXXXXX done \
                    aws wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY end";
        let out = r.redact(text, &mut counts);
        for secret in [
            "hunter2",
            "ghp_0123456789abcdefghijABCDEFGHIJ",
            "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
            "T0001/B0002/XXXXXXXXXXXXXXXXXXXXXXXX",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        ] {
            assert!(!out.contains(secret), "{secret} in {out}");
        }
        assert!(
            out.contains("https://hooks.slack.com/[REDACTED:webhook_url]"),
            "{out}"
        );
        assert!(out.contains("[REDACTED:aws_secret_key]"), "{out}");
        // Not secrets: a git commit hash, a base64 digest with padding, a metric name.
        for fine in [
            "commit 3f786850e387550fdab836ed7e6dc881de23001b",
            "sha256 n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=",
            "pw_count=3",
        ] {
            assert_eq!(r.redact(fine, &mut counts), fine);
        }
        // A fingerprint mask is already redacted.
        assert_eq!(
            r.redact("password=***#0a1b2c3d", &mut counts),
            "password=***#0a1b2c3d"
        );
    }
}

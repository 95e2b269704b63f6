//! Secret masking: which key paths and which values are secrets, and what replaces them.
//!
//! A secret is replaced by `***#` plus the first 8 hex digits of a SHA-256 over a fixed domain
//! prefix and the secret, so that a changed secret still shows up as a changed value in a diff
//! while the value itself is never stored. Eight hex digits (32 bits) are far too few to confirm
//! a strong secret, but a guessable password can still be checked against a fingerprint: keep
//! secrets out of configs where that matters.

use sha2::{Digest, Sha256};

/// What every mask starts with.
pub use rootline_core::redact::MASK_PREFIX;

/// Hashed in front of every secret, so that fingerprints are not plain SHA-256 prefixes that a
/// generic lookup table could reverse.
const FINGERPRINT_DOMAIN: &[u8] = b"rootline-secret-fingerprint-v1\0";

/// The mask for a secret: `***#` + 8 hex digits.
pub fn mask(secret: &str) -> String {
    let mut h = Sha256::new();
    h.update(FINGERPRINT_DOMAIN);
    h.update(secret.as_bytes());
    let digest = h.finalize();
    format!("{MASK_PREFIX}{}", hex::encode(&digest[..4]))
}

/// True for a value that is already a mask (so that masking twice changes nothing).
pub fn is_mask(s: &str) -> bool {
    rootline_core::redact::is_fingerprint_mask(s)
}

/// Words that make a key a secret wherever they appear in it (`db_password`, `authToken`).
const SECRET_WORDS: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "pass",
    "passphrase",
    "secret",
    "secrets",
    "token",
    "tokens",
    "credential",
    "credentials",
    "creds",
    "auth",
    "authorization",
    "authentication",
    "apikey",
    "accesskey",
    "secretkey",
    "privatekey",
];

/// `<word>_key` is a secret for these words (`api_key`, `PRIVATE-KEY`, `signingKey`).
const KEY_QUALIFIERS: &[&str] = &[
    "api",
    "access",
    "private",
    "secret",
    "signing",
    "encryption",
    "master",
    "session",
    "shared",
    "license",
    "client",
];

/// A key ending in one of these words names or describes a secret rather than holding it
/// (`secretName`, `secretKeyRef`, `password_file`, `token_ttl`).
const NOT_SECRET_LAST_WORDS: &[&str] = &[
    "name",
    "names",
    "ref",
    "file",
    "path",
    "dir",
    "directory",
    "type",
    "kind",
    "enabled",
    "disabled",
    "required",
    "mode",
    "url",
    "uri",
    "endpoint",
    "ttl",
    "timeout",
    "expiry",
    "expiration",
    "length",
    "size",
    "count",
    "policy",
    "provider",
    "method",
    "header",
    "id",
];

/// Splits a key into lowercase words at non-alphanumerics and camelCase boundaries:
/// `secretKeyRef` → `secret key ref`, `DB_PASSWORD` → `db password`.
fn words(key: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut prev_lower = false;
    for c in key.chars() {
        if !c.is_alphanumeric() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            prev_lower = false;
            continue;
        }
        if c.is_uppercase() && prev_lower && !cur.is_empty() {
            out.push(std::mem::take(&mut cur));
        }
        prev_lower = c.is_lowercase() || c.is_ascii_digit();
        cur.extend(c.to_lowercase());
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Whether a key (one path segment, not a whole path) holds a secret. `env_style` is for
/// `.env` files, where any `*_KEY` is a secret.
pub fn is_secret_key(key: &str, env_style: bool) -> bool {
    let w = words(key);
    let Some(last) = w.last() else {
        return false;
    };
    if NOT_SECRET_LAST_WORDS.contains(&last.as_str()) {
        return false;
    }
    if w.iter().any(|x| SECRET_WORDS.contains(&x.as_str())) {
        return true;
    }
    if last == "key" {
        if env_style {
            return true;
        }
        if w.len() >= 2 && KEY_QUALIFIERS.contains(&w[w.len() - 2].as_str()) {
            return true;
        }
    }
    false
}

/// Whether a key names a value that must never be masked by its ancestors' secrecy: a key like
/// `secretName` under `secret:` describes the secret, it does not hold it.
pub(crate) fn is_descriptive_key(key: &str) -> bool {
    words(key)
        .last()
        .is_some_and(|l| NOT_SECRET_LAST_WORDS.contains(&l.as_str()))
}

/// Masks what looks like a secret inside any text, whatever its key: PEM private keys (the whole
/// value), passwords in URLs (`scheme://user:***#…@host`, only the password), `Bearer` tokens,
/// AWS access key ids, JWTs, and `password=…`-style pairs inside connection strings. Returns
/// `None` when nothing was masked.
pub fn mask_text(s: &str) -> Option<String> {
    if is_mask(s) {
        return None;
    }
    if s.contains("-----BEGIN") && s.contains("PRIVATE KEY-----") {
        return Some(mask(s));
    }
    let mut out = s.to_owned();
    let mut changed = false;
    for pass in [
        mask_url_passwords as fn(&str) -> Option<String>,
        mask_bearer,
        mask_aws_key_ids,
        mask_jwts,
        mask_inline_pairs,
    ] {
        if let Some(next) = pass(&out) {
            out = next;
            changed = true;
        }
    }
    // Then the one redaction engine (`rootline_core::redact`), which the model payloads, chat
    // answers and the timeline use too: whatever it calls a secret (API tokens, webhook URLs,
    // AWS secret keys, `pw: …`) is never stored either. The passes above keep a fingerprint for
    // the secrets they know, so that a rotated one still shows as a change.
    let mut counts = rootline_core::redact::RedactionCounts::new();
    let redacted = rootline_core::redact::Redactor::default().redact(&out, &mut counts);
    if !counts.is_empty() {
        out = redacted;
        changed = true;
    }
    changed.then_some(out)
}

/// Replaces the byte ranges `spans` (sorted, disjoint) of `s` by their masks.
fn replace_spans(s: &str, spans: &[(usize, usize)]) -> Option<String> {
    if spans.is_empty() {
        return None;
    }
    let mut out = String::with_capacity(s.len());
    let mut at = 0;
    for &(a, b) in spans {
        out.push_str(&s[at..a]);
        out.push_str(&mask(&s[a..b]));
        at = b;
    }
    out.push_str(&s[at..]);
    Some(out)
}

/// `scheme://user:password@host` → only the password is masked.
fn mask_url_passwords(s: &str) -> Option<String> {
    let mut spans = Vec::new();
    let mut from = 0;
    while let Some(i) = s[from..].find("://") {
        let start = from + i + 3;
        let end = s[start..]
            .find(|c: char| c == '/' || c == '?' || c == '#' || c.is_whitespace() || c == '"')
            .map_or(s.len(), |j| start + j);
        let authority = &s[start..end];
        if let Some(at) = authority.rfind('@')
            && let Some(colon) = authority[..at].find(':')
        {
            let (a, b) = (start + colon + 1, start + at);
            if b > a && !is_mask(&s[a..b]) {
                spans.push((a, b));
            }
        }
        from = end.max(start);
    }
    replace_spans(s, &spans)
}

fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'+' | b'/' | b'=')
}

/// `Bearer <token>` → the token is masked.
fn mask_bearer(s: &str) -> Option<String> {
    let lower = s.to_ascii_lowercase();
    let bytes = s.as_bytes();
    let mut spans = Vec::new();
    let mut from = 0;
    while let Some(i) = lower[from..].find("bearer ") {
        let kw = from + i;
        let boundary = kw == 0 || !bytes[kw - 1].is_ascii_alphanumeric();
        let mut a = kw + "bearer ".len();
        while a < bytes.len() && bytes[a] == b' ' {
            a += 1;
        }
        let mut b = a;
        while b < bytes.len() && is_token_byte(bytes[b]) {
            b += 1;
        }
        // Eight characters at least: "bearer token" in prose is not a credential.
        if boundary && b - a >= 8 && !s[a..b].starts_with(MASK_PREFIX) {
            spans.push((a, b));
        }
        from = b.max(kw + 1);
    }
    replace_spans(s, &spans)
}

/// AWS access key ids: `AKIA`/`ASIA` + 16 upper-case letters or digits, as a whole word.
fn mask_aws_key_ids(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut spans = Vec::new();
    let mut i = 0;
    while i + 20 <= bytes.len() {
        let word_start = i == 0 || !bytes[i - 1].is_ascii_alphanumeric();
        let word_end = i + 20 == bytes.len() || !bytes[i + 20].is_ascii_alphanumeric();
        if word_start
            && word_end
            && (bytes[i..].starts_with(b"AKIA") || bytes[i..].starts_with(b"ASIA"))
            && bytes[i + 4..i + 20]
                .iter()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        {
            spans.push((i, i + 20));
            i += 20;
        } else {
            i += 1;
        }
    }
    replace_spans(s, &spans)
}

fn is_b64url(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// JWTs: `eyJ…` header `.` payload `.` signature, base64url.
fn mask_jwts(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut spans = Vec::new();
    let mut from = 0;
    while let Some(i) = s[from..].find("eyJ") {
        let a = from + i;
        let boundary = a == 0 || !is_b64url(bytes[a - 1]);
        let mut b = a;
        let mut segments = [0usize; 3];
        let mut seg = 0;
        while b < bytes.len() {
            if is_b64url(bytes[b]) {
                segments[seg] += 1;
            } else if bytes[b] == b'.' && seg < 2 {
                seg += 1;
            } else {
                break;
            }
            b += 1;
        }
        if boundary && seg == 2 && segments[0] >= 10 && segments[1] >= 10 {
            spans.push((a, b));
            from = b;
        } else {
            from = a + 3;
        }
    }
    replace_spans(s, &spans)
}

/// `password=…`, `pwd=…`, `token=…` inside a longer string (ADO connection strings, query
/// strings, command lines): the value up to `;`, `&`, whitespace or a quote is masked.
fn mask_inline_pairs(s: &str) -> Option<String> {
    const KEYS: &[&str] = &[
        "password",
        "passwd",
        "pwd",
        "secret",
        "token",
        "apikey",
        "api_key",
        "access_token",
    ];
    let lower = s.to_ascii_lowercase();
    let bytes = s.as_bytes();
    let mut spans: Vec<(usize, usize)> = Vec::new();
    for key in KEYS {
        let pat = format!("{key}=");
        let mut from = 0;
        while let Some(i) = lower[from..].find(&pat) {
            let k = from + i;
            let a = k + pat.len();
            let boundary =
                k == 0 || !(bytes[k - 1].is_ascii_alphanumeric() || bytes[k - 1] == b'_');
            let mut b = a;
            while b < bytes.len()
                && !matches!(bytes[b], b';' | b'&' | b'"' | b'\'' | b',')
                && !bytes[b].is_ascii_whitespace()
            {
                b += 1;
            }
            if boundary && b > a && !is_mask(&s[a..b]) {
                spans.push((a, b));
            }
            from = a;
        }
    }
    spans.sort_unstable();
    spans.dedup();
    // Overlaps cannot happen for distinct keys ending in `=`, but keep the replacement safe.
    spans.dedup_by(|next, prev| next.0 < prev.1);
    replace_spans(s, &spans)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_keys() {
        for k in [
            "password",
            "DB_PASSWORD",
            "dbPass",
            "client_secret",
            "authToken",
            "api_key",
            "apiKey",
            "x-api-key",
            "AWS_SECRET_ACCESS_KEY",
            "private_key",
            "credentials",
            "auth",
            "Authorization",
        ] {
            assert!(is_secret_key(k, false), "{k}");
        }
        for k in [
            "secretName",
            "secretKeyRef",
            "password_file",
            "token_ttl",
            "tokenizer",
            "author",
            "key",
            "monkey",
            "image",
            "STRIPE_KEY",
            "passthrough",
        ] {
            assert!(!is_secret_key(k, false), "{k}");
        }
        assert!(is_secret_key("STRIPE_KEY", true));
        assert!(!is_secret_key("MONKEY", true));
    }

    #[test]
    fn masks_are_stable_short_and_idempotent() {
        let m = mask("hunter2");
        assert_eq!(m, mask("hunter2"));
        assert_ne!(m, mask("hunter3"));
        assert!(is_mask(&m), "{m}");
        assert_eq!(m.len(), 12);
        assert_eq!(mask_text(&m), None);
    }

    #[test]
    fn values_that_look_secret() {
        let url = mask_text("postgres://app:s3cr3t@db:5432/orders?sslmode=disable").unwrap();
        assert!(url.starts_with("postgres://app:***#"), "{url}");
        assert!(url.ends_with("@db:5432/orders?sslmode=disable"), "{url}");
        assert!(!url.contains("s3cr3t"));
        assert_eq!(mask_text("https://example.com/a@b"), None);
        assert_eq!(mask_text("redis://db:6379"), None);

        let bearer = mask_text("Authorization: Bearer abcdef0123456789").unwrap();
        assert!(bearer.starts_with("Authorization: Bearer ***#"), "{bearer}");

        let aws = mask_text("id AKIAIOSFODNN7EXAMPLE used").unwrap();
        assert!(
            aws.starts_with("id ***#") && aws.ends_with(" used"),
            "{aws}"
        );
        assert!(!aws.contains("AKIA"));

        let jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U";
        let masked = mask_text(&format!("token {jwt}")).unwrap();
        assert!(
            masked.starts_with("token ***#") && masked.len() == 6 + 12,
            "{masked}"
        );

        let pem = "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----";
        assert!(is_mask(&mask_text(pem).unwrap()));
        assert_eq!(
            mask_text("-----BEGIN CERTIFICATE-----\nMII\n-----END CERTIFICATE-----"),
            None
        );

        let ado = mask_text("Server=db;User Id=app;Password=p@ss;Encrypt=true").unwrap();
        assert!(
            ado.starts_with("Server=db;User Id=app;Password=***#"),
            "{ado}"
        );
        assert!(ado.ends_with(";Encrypt=true"), "{ado}");

        assert_eq!(mask_text("nginx:1.25"), None);
        assert_eq!(mask_text("200m"), None);
        assert_eq!(mask_text("a bearer of bad news"), None);
    }

    /// Free text in a config file holding the secrets an adversarial test found stored in the
    /// clear (#21, item 4).
    #[test]
    fn the_one_engine_masks_free_text_too() {
        let text = "notes: pw: hunter2, ci ghp_0123456789abcdefghijABCDEFGHIJ, billing \
                    sk_live_4eC39HqLyjWDarjtT1zdp7dc, alerts https://hooks.slack.com/services/T0001/B0002/XXXXXXXXXXXXXXXXXXXXXXXX, \
                    aws wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
        let masked = mask_text(text).unwrap();
        for secret in [
            "hunter2",
            "ghp_0123456789abcdefghijABCDEFGHIJ",
            "sk_live_4eC39HqLyjWDarjtT1zdp7dc",
            "XXXXXXXXXXXXXXXXXXXXXXXX",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        ] {
            assert!(!masked.contains(secret), "{secret} in {masked}");
        }
        // Masking twice changes nothing.
        assert_eq!(mask_text(&masked), None);
    }
}

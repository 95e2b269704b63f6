//! Tokenizer and variable classifier.
//!
//! A line is cut into *words* (maximal runs of non-delimiter characters) and the *separators*
//! between them. Separators are kept (whitespace runs normalised to one space) because template
//! text has to reproduce the punctuation around variables (`uid=<*>`, `[<*>]`, `<*>:<*>`).

/// Characters that end a word besides whitespace. `.`, `-`, `_`, `/`, `@` stay inside words so
/// that IPs, hostnames, paths, identifiers and versions are one variable each.
#[inline]
fn is_delim(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            ',' | ';' | ':' | '=' | '|' | '"' | '\'' | '[' | ']' | '(' | ')' | '{' | '}' | '!'
        )
}

/// One word of a line with the (normalised) separator text that precedes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Token<'a> {
    pub sep: SepBuf,
    pub text: &'a str,
    /// Looks like a variable on its own (number, hex id, IP, path, ...): never a constant.
    pub var: bool,
}

/// Normalised separator: whitespace runs collapsed to a single space.
pub(crate) type SepBuf = String;

/// Result of tokenizing one line.
#[derive(Debug, Default)]
pub(crate) struct Tokens<'a> {
    pub toks: Vec<Token<'a>>,
    /// Separator after the last word (trailing whitespace trimmed).
    pub tail: SepBuf,
}

/// Appends `raw` to `out`, collapsing whitespace runs to one space.
fn push_sep(out: &mut String, raw: &str) {
    let mut prev_space = out.ends_with(' ');
    for c in raw.chars() {
        if c.is_whitespace() {
            if !prev_space {
                out.push(' ');
            }
            prev_space = true;
        } else {
            out.push(c);
            prev_space = false;
        }
    }
}

/// Largest prefix of `s` no longer than `max` bytes that ends on a char boundary.
pub(crate) fn truncate_bytes(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// Cuts `line` into words and separators. At most `max_tokens` words are kept; when more exist,
/// the rest of the line becomes one final variable word so that the template still says "more
/// follows" without letting a huge line create a huge template.
pub(crate) fn tokenize(line: &str, max_tokens: usize) -> Tokens<'_> {
    let line = line.trim();
    let mut toks: Vec<Token<'_>> = Vec::with_capacity(16);
    let mut sep = String::new();
    let bytes = line.as_bytes();
    let mut i = 0;
    while i < line.len() {
        // Separator run.
        let start = i;
        let mut chars = line[i..].char_indices();
        let mut word_start = line.len();
        for (off, c) in chars.by_ref() {
            if !is_delim(c) {
                word_start = i + off;
                break;
            }
        }
        // An empty bracket pair, `()` or `[]`, is an empty value: keep a variable slot in it so
        // that it lines up with the non-empty form (`(<*>)`).
        let raw = &line[start..word_start];
        // After a word (`init()`) it is a call, not a value, and stays literal.
        // (A pair needs two bytes: most runs are one space, and searching costs.)
        if toks.len() + 2 < max_tokens
            && raw.len() >= 2
            && let Some(o) = raw
                .as_bytes()
                .windows(2)
                .position(|w| matches!(w, b"()" | b"[]" | b"{}"))
            && (o > 0 && raw[..o].ends_with(char::is_whitespace))
        {
            push_sep(&mut sep, &raw[..=o]);
            toks.push(Token {
                sep: std::mem::take(&mut sep),
                text: "",
                var: true,
            });
            i = start + o + 1;
            continue;
        }
        push_sep(&mut sep, raw);
        if word_start >= line.len() {
            break;
        }
        if toks.len() + 1 >= max_tokens {
            // Rest of the line is one variable.
            toks.push(Token {
                sep: std::mem::take(&mut sep),
                text: &line[word_start..],
                var: true,
            });
            return Tokens {
                toks,
                tail: String::new(),
            };
        }
        // URL: `scheme://rest` keeps the scheme and makes everything up to whitespace one word.
        if sep.ends_with(':') && line[word_start..].starts_with("//") && !toks.is_empty() {
            let end = line[word_start..]
                .find(char::is_whitespace)
                .map_or(line.len(), |o| word_start + o);
            sep.push_str("//");
            toks.push(Token {
                sep: std::mem::take(&mut sep),
                text: &line[word_start + 2..end],
                var: true,
            });
            i = end;
            continue;
        }
        // Word run; a MAC address (aa:bb:cc:dd:ee:ff) is one word despite its colons.
        let mut end = line.len();
        for (off, c) in line[word_start..].char_indices() {
            if is_delim(c) {
                end = word_start + off;
                break;
            }
        }
        if let Some(mac_end) = mac_at(bytes, word_start) {
            end = mac_end;
        }
        // Only paths and IPs need it: searching every word for it is quadratic on long runs
        // without whitespace (JSON bodies).
        let ws_end = || {
            line[word_start..]
                .find(char::is_whitespace)
                .map_or(line.len(), |o| word_start + o)
        };
        // A path with a query string is one value, `=` and `:` inside it included.
        if bytes[word_start] == b'/' {
            let ws_end = ws_end();
            if line[word_start..ws_end].contains('?') {
                end = ws_end;
            }
        }
        // A comma-joined list of IPv4 addresses is one value.
        if is_ipv4(&line[word_start..end]) {
            let ws_end = ws_end();
            while end < ws_end && bytes[end] == b',' {
                let next = line[end + 1..ws_end]
                    .find(|c: char| is_delim(c))
                    .map_or(ws_end, |o| end + 1 + o);
                if !is_ipv4(&line[end + 1..next]) {
                    break;
                }
                end = next;
            }
        }
        let text = &line[word_start..end];
        toks.push(Token {
            sep: std::mem::take(&mut sep),
            text,
            var: is_variable(text),
        });
        i = end;
    }
    mark_dates(&mut toks);
    Tokens { toks, tail: sep }
}

const MONTHS: &[&str] = &[
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];
const WEEKDAYS: &[&str] = &["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// Month and weekday names inside a date (`Fri Jul 1 07:57:30`) are part of the value.
fn mark_dates(toks: &mut [Token<'_>]) {
    for i in (0..toks.len()).rev() {
        let next_var = toks.get(i + 1).is_some_and(|t| t.var);
        let t = &toks[i];
        if next_var && (MONTHS.contains(&t.text) || WEEKDAYS.contains(&t.text)) {
            toks[i].var = true;
        }
    }
}

/// Constant head of a variable word: letter runs joined by `.`, `-` or `#`, followed by a part
/// with digits (`core.1234` -> `core.`, `node-69` -> `node-`). Empty if there is none.
pub(crate) fn var_prefix(w: &str) -> &str {
    let b = w.as_bytes();
    let mut end = 0;
    let mut i = 0;
    loop {
        let start = i;
        while i < b.len() && b[i].is_ascii_alphabetic() {
            i += 1;
        }
        if i == start || i >= b.len() || !matches!(b[i], b'.' | b'-' | b'#') {
            break;
        }
        i += 1;
        end = i;
    }
    if end > 0 && b[end..].iter().any(u8::is_ascii_digit) {
        &w[..end]
    } else {
        ""
    }
}

/// Dotted quad.
fn is_ipv4(w: &str) -> bool {
    let mut parts = 0;
    for p in w.split('.') {
        if p.is_empty() || p.len() > 3 || !p.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
        parts += 1;
    }
    parts == 4
}

/// `Some(end)` if a MAC-like `xx:xx:xx:xx:xx:xx` (hex pairs) starts at `i`.
fn mac_at(b: &[u8], i: usize) -> Option<usize> {
    let mut p = i;
    for g in 0..6 {
        if p + 2 > b.len() || !b[p].is_ascii_hexdigit() || !b[p + 1].is_ascii_hexdigit() {
            return None;
        }
        p += 2;
        if g < 5 {
            if p >= b.len() || b[p] != b':' {
                return None;
            }
            p += 1;
        }
    }
    if p < b.len() && (b[p].is_ascii_alphanumeric()) {
        return None;
    }
    Some(p)
}

/// A logger name with a line number, `t.s.TravelServiceImpl#451` (logback's `%logger#%line`):
/// the place of one log statement. Two statements that log the same text are two events (the
/// path between them can be cut short), so the line number is a constant, not a value.
fn is_code_location(w: &str) -> bool {
    let Some((logger, line)) = w.rsplit_once('#') else {
        return false;
    };
    !line.is_empty()
        && line.bytes().all(|b| b.is_ascii_digit())
        && logger.contains('.')
        && logger.split('.').all(|part| {
            part.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_' || c == '$')
                && part
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
        })
}

/// Whether a word is a variable by its shape alone.
///
/// Digits are the strongest signal (counts, ids, addresses, sizes, times), but short names with
/// a single trailing digit (`ssh2`, `eth1`, `en0`, `SOCKS5`, `L3`) are usually constants, so those
/// are left for the clusterer to generalise if they vary. Absolute paths are variables too.
pub(crate) fn is_variable(w: &str) -> bool {
    // Boolean/null literals and the ubiquitous account names are values (Loghub-2.0 convention).
    if ["true", "false", "null", "root", "admin"]
        .iter()
        .any(|k| w.eq_ignore_ascii_case(k))
    {
        return true;
    }
    let b = w.as_bytes();
    if b.len() > 1 && b[0] == b'/' {
        return true;
    }
    if is_code_location(w) {
        return false;
    }
    let digits = b.iter().filter(|c| c.is_ascii_digit()).count();
    if digits == 0 {
        // Long hex-only words without digits are rare; leave them as words.
        return false;
    }
    if digits == 1 && b.len() >= 2 && b[b.len() - 1].is_ascii_digit() {
        let head = &b[..b.len() - 1];
        if head.iter().all(|c| c.is_ascii_alphabetic()) {
            return false;
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(line: &str) -> Vec<(String, String, bool)> {
        tokenize(line, 256)
            .toks
            .into_iter()
            .map(|t| (t.sep, t.text.to_string(), t.var))
            .collect()
    }

    #[test]
    fn splits_on_punctuation_and_keeps_separators() {
        let t = render("uid=0 euid=0 tty=NODEVssh ruser= rhost=218.188.2.4");
        let words: Vec<_> = t.iter().map(|x| x.1.as_str()).collect();
        assert_eq!(
            words,
            [
                "uid",
                "0",
                "euid",
                "0",
                "tty",
                "NODEVssh",
                "ruser",
                "rhost",
                "218.188.2.4"
            ]
        );
        assert_eq!(t[7].0, "= ");
        assert_eq!(t[8].0, "=");
        assert!(t[1].2 && !t[5].2 && t[8].2);
    }

    #[test]
    fn mac_and_url_are_single_words() {
        let t = render("DHCPDISCOVER from 00:11:43:e3:ba:c3 via eth1");
        assert_eq!(t[2].1, "00:11:43:e3:ba:c3");
        assert!(t[2].2);
        assert!(!t[4].2, "eth1 is a constant-looking word");
        let t = render("Connecting to driver: spark://Coarse@10.10.34.11:48069");
        assert_eq!(t.last().unwrap().0, "://");
        assert_eq!(t.last().unwrap().1, "Coarse@10.10.34.11:48069");
    }

    #[test]
    fn caps_tokens() {
        let line = "a ".repeat(1000);
        let t = tokenize(&line, 256);
        assert_eq!(t.toks.len(), 256);
        assert!(t.toks.last().unwrap().var);
    }

    #[test]
    fn variable_shapes() {
        for v in [
            "123",
            "0x1f",
            "10.0.0.1",
            "blk_-123",
            "/var/log",
            "storage234",
            "41C",
        ] {
            assert!(is_variable(v), "{v}");
        }
        for c in ["ssh2", "eth1", "SOCKS5", "HTTPS", "user", "/"] {
            assert!(!is_variable(c), "{c}");
        }
    }

    #[test]
    fn a_logger_with_its_line_number_is_a_constant() {
        assert!(!is_variable("t.s.TravelServiceImpl#451"));
        assert!(!is_variable("com.example.Foo$Inner#7"));
        // Not a code location: no dotted logger, a non-numeric tail, or a number in a segment head.
        for v in ["CPU#0", "t.s.Impl#45a", "10.0.0.1#3", "a.1b#2"] {
            assert!(is_variable(v), "{v}");
        }
    }
}

//! Untrusted text on its way into a chat message, an HTML page or a URL. Log lines, alert
//! payloads and command words all pass through here before they are shown, and so through the
//! one redaction engine (`rootline_core::redact`, the rules the model payloads and stored configs
//! follow too): a password or token in a log line is never shown in chat or on the timeline.

/// Escapes what chat markup gives meaning to, for Slack and Mattermost alike:
/// - `<!channel>`, `<@U123>` and `<url|text>` (Slack) all start with `<`, escaped as entities;
/// - `@channel`, `@all`, `@here` and `@user` (Mattermost) ping as plain text: a zero-width space
///   after the `@` keeps the word and drops the mention;
/// - a Markdown link `[text](url)` (Mattermost) is broken the same way between `]` and `(`.
///
/// So a log line that carries them shows them instead of acting on them.
pub fn escape_chat(text: &str) -> String {
    const ZWSP: char = '\u{200B}';
    let escaped = escape(text, false);
    let mut out = String::with_capacity(escaped.len());
    let mut chars = escaped.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        let next = chars.peek().copied();
        let mention = c == '@' && next.is_some_and(|n| n.is_alphanumeric() || n == '_');
        let link = c == ']' && next == Some('(');
        if mention || link {
            out.push(ZWSP);
        }
    }
    out
}

/// Escapes text for HTML content and quoted attribute values.
pub fn escape_html(text: &str) -> String {
    escape(text, true)
}

fn escape(text: &str, quotes: bool) -> String {
    let mut counts = rootline_core::redact::RedactionCounts::new();
    let text = rootline_core::redact::Redactor::default().redact(text, &mut counts);
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' if quotes => out.push_str("&quot;"),
            '\'' if quotes => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The path (`note`, `target.entity`, `alerts[0].labels.job`) of the first string in a JSON
/// body that holds a NUL character: PostgreSQL text cannot store one (SQLite can), so such a
/// body is refused the same way on both backends.
pub fn nul_field(value: &serde_json::Value) -> Option<String> {
    fn walk(v: &serde_json::Value, path: &str) -> Option<String> {
        match v {
            serde_json::Value::String(s) if s.contains('\0') => Some(path.to_string()),
            serde_json::Value::Object(m) => m.iter().find_map(|(k, v)| {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                if k.contains('\0') {
                    Some(p)
                } else {
                    walk(v, &p)
                }
            }),
            serde_json::Value::Array(a) => a
                .iter()
                .enumerate()
                .find_map(|(i, v)| walk(v, &format!("{path}[{i}]"))),
            _ => None,
        }
    }
    walk(value, "")
}

/// Refuses a JSON body with a NUL character in a string, naming the field.
pub fn refuse_nul(value: &serde_json::Value) -> Result<(), crate::error::ApiError> {
    match nul_field(value) {
        Some(field) => Err(crate::error::ApiError::BadRequest(format!(
            "invalid field `{field}`: contains a NUL character"
        ))),
        None => Ok(()),
    }
}

/// Percent-encodes a path or query component (ids are free text to the store).
pub fn url_component(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// At most `max` characters, with an ellipsis when cut.
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_markup_in_untrusted_text_is_escaped() {
        assert_eq!(
            escape_chat("<!channel> <@U1> <http://x|y> & \"more\""),
            "&lt;!channel&gt; &lt;@\u{200B}U1&gt; &lt;http://x|y&gt; &amp; \"more\""
        );
    }

    #[test]
    fn mattermost_mentions_and_markdown_links_do_not_act() {
        let out = escape_chat("@channel @all @here ping @alice: [click](http://evil.example) a@b");
        assert!(!out.contains("@channel") && !out.contains("@all") && !out.contains("@here"));
        assert!(!out.contains("@alice") && !out.contains("]("), "{out}");
        // The words stay readable: only an invisible space was added.
        assert_eq!(
            out.replace('\u{200B}', ""),
            "@channel @all @here ping @alice: [click](http://evil.example) a@b"
        );
    }

    #[test]
    fn html_escapes_markup_and_attribute_quotes() {
        assert_eq!(
            escape_html("<script>alert('x')</script> & \"q\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;q&quot;"
        );
        assert_eq!(url_component("a b/c?d"), "a%20b%2Fc%3Fd");
    }

    #[test]
    fn a_nul_character_is_found_by_its_path() {
        let v = serde_json::json!({"a": [1, {"b": "x\u{0}y"}], "c": "ok"});
        assert_eq!(nul_field(&v).as_deref(), Some("a[1].b"));
        assert_eq!(nul_field(&serde_json::json!({"c": "ok"})), None);
    }

    #[test]
    fn truncates_by_characters() {
        assert_eq!(truncate("héllo", 3), "hél…");
        assert_eq!(truncate("abc", 3), "abc");
    }

    /// #21, item 4: the chat answer and the timeline showed `password=hunter2` from a log line.
    #[test]
    fn secrets_are_redacted_before_they_are_shown() {
        let line = "login failed password=hunter2 via https://hooks.slack.com/services/T1/B2/abcdefghijklmnop";
        for shown in [escape_chat(line), escape_html(line)] {
            assert!(!shown.contains("hunter2"), "{shown}");
            assert!(!shown.contains("abcdefghijklmnop"), "{shown}");
            assert!(shown.contains("login failed password="), "{shown}");
        }
    }
}

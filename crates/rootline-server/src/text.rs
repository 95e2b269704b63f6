//! Untrusted text on its way into a chat message, an HTML page or a URL. Log lines, alert
//! payloads and command words all pass through here before they are shown.

/// Escapes the characters chat markup gives meaning to. `<!channel>`, `<@U123>` and `<url|text>`
/// all start with `<`, so a log line that carries them shows them instead of acting on them.
/// Slack and Mattermost show any other character as it is, so nothing else is escaped.
pub fn escape_chat(text: &str) -> String {
    escape(text, false)
}

/// Escapes text for HTML content and quoted attribute values.
pub fn escape_html(text: &str) -> String {
    escape(text, true)
}

fn escape(text: &str, quotes: bool) -> String {
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
            "&lt;!channel&gt; &lt;@U1&gt; &lt;http://x|y&gt; &amp; \"more\""
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
    fn truncates_by_characters() {
        assert_eq!(truncate("héllo", 3), "hél…");
        assert_eq!(truncate("abc", 3), "abc");
    }
}

//! A cheap message key used when a record has no template id from the miner yet.

/// Replaces every token that carries a digit (numbers, ids, hashes, times, IPs) with `<*>` and
/// keeps the first line only, capped, so that stack traces and payloads do not make every record
/// unique.
pub fn mask_message(message: &str) -> String {
    let first_line = message.lines().next().unwrap_or("");
    let mut out = String::with_capacity(first_line.len().min(200));
    for (i, token) in first_line.split_whitespace().take(40).enumerate() {
        if i > 0 {
            out.push(' ');
        }
        if token.bytes().any(|b| b.is_ascii_digit()) {
            // Keep surrounding punctuation so `[id=42]` and `(42)` stay distinct shapes.
            let lead: String = token
                .chars()
                .take_while(|c| "[(<{\"'".contains(*c))
                .collect();
            let trail: String = token
                .chars()
                .rev()
                .take_while(|c| "])>}\"',;:.".contains(*c))
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            out.push_str(&lead);
            out.push_str("<*>");
            out.push_str(&trail);
        } else {
            out.push_str(token);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_variable_tokens() {
        let a = mask_message(
            "16:42:22.418 ERROR f.s.FoodServiceImpl#302 TraceID: ffc8ca7e4c8f06c7 SpanID: 37b1a1514d403000 [getAllFood][Failed!]",
        );
        let b = mask_message(
            "16:43:08.270 ERROR f.s.FoodServiceImpl#302 TraceID: d3c3b9529c479f27 SpanID: 303bc0d85fe5e88b [getAllFood][Failed!]",
        );
        assert_eq!(a, b);
        assert!(a.contains("ERROR") && a.contains("[getAllFood][Failed!]"));
        assert_ne!(a, mask_message("16:43:08.270 INFO other message"));
        assert_eq!(mask_message("took (42ms)."), "took (<*>).");
        assert_eq!(mask_message("first\nsecond 1"), "first");
    }
}

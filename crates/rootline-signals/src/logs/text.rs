//! Reading untrusted log text: whole words and names, sibling messages (most words shared), a
//! template's label and the level a text claims.

use super::*;

/// Whether `text`, in any case, holds one of the lowercase `words` as a whole word.
pub(super) fn mentions_any_word(text: &str, words: &[&str]) -> bool {
    let text = text.to_ascii_lowercase();
    words.iter().any(|w| mentions_word(&text, w))
}

/// Up to `radius` characters either side of the first occurrence of `needle`, with ellipses.
pub(super) fn excerpt_around(text: &str, needle: &str, radius: usize) -> String {
    let line = text.lines().next().unwrap_or("");
    let Some(at) = line.find(needle) else {
        return first_line(line, 2 * radius);
    };
    let before: Vec<char> = line[..at].chars().collect();
    let after: Vec<char> = line[at + needle.len()..].chars().collect();
    let start = before.len().saturating_sub(radius);
    let end = after.len().min(radius);
    format!(
        "{}{}{needle}{}{}",
        if start > 0 { "…" } else { "" },
        before[start..].iter().collect::<String>(),
        after[..end].iter().collect::<String>(),
        if end < after.len() { "…" } else { "" }
    )
}

/// `name` occurs in `text` as a whole word (not as part of a longer identifier), as written or
/// capitalised the way prose names a service ("the Cinder API" names `cinder`); other casings
/// ("API" for a service called `api`) do not count.
pub(super) fn mentions_name(text: &str, name: &str) -> bool {
    let mut chars = name.chars();
    let capitalised: String = chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default();
    mentions_word(text, name) || (capitalised != name && mentions_word(text, &capitalised))
}

/// `word` occurs in `text` and is not part of a longer identifier.
pub(super) fn mentions_word(text: &str, word: &str) -> bool {
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    let mut start = 0;
    while let Some(i) = text[start..].find(word) {
        let at = start + i;
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        if !before.is_some_and(is_ident) && !after.is_some_and(is_ident) {
            return true;
        }
        start = at + word.len();
    }
    false
}

/// Two message shapes from the same place in the code: most of their words (placeholders and
/// level words aside) are shared, as in `[getRoutes][Get Route By Ids][Success]` and
/// `[getRoutes][Get Route By Ids Failed]`.
pub(super) fn siblings(a: &str, b: &str) -> bool {
    let words = |s: &str| -> std::collections::BTreeSet<String> {
        s.split(|c: char| c.is_whitespace() || matches!(c, '[' | ']' | ',' | ':' | '(' | ')'))
            .filter(|w| !w.is_empty() && !w.contains("<*>") && text_level(w).is_none())
            .map(str::to_ascii_lowercase)
            .collect()
    };
    let (a, b) = (words(a), words(b));
    let shared = a.intersection(&b).count();
    let all = a.union(&b).count();
    all > 0 && shared as f64 >= SIBLING_SHARE * all as f64
}

/// Share of words two sibling messages have in common (Jaccard).
pub(super) const SIBLING_SHARE: f64 = 0.6;

/// The level a word names, if it is one of the usual level words.
pub(super) fn text_level(w: &str) -> Option<Level> {
    Level::parse(w).filter(|_| w.chars().all(|c| c.is_ascii_alphabetic()) && w.len() >= 4)
}

/// The key that identifies a message shape within a service.
pub(super) fn template_label(s: &TemplateStat) -> String {
    match s.template_id {
        Some(id) => format!("t{id}"),
        None => mask_message(&s.sample),
    }
}

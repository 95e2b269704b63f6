//! Context packing: choosing and compressing the evidence a model gets to see, within a token
//! budget.
//!
//! Pure and deterministic: the same evidence, candidates, example lines and budget always give the
//! same items with the same local ids (`E1`, `E2`, …) in the same order. Evidence cited by the
//! ranked candidates goes first, interleaved by rank (every candidate's strongest item before any
//! candidate's second), then the rest by strength. Each item carries a one-line summary and, when
//! the budget allows, a few raw example lines. Lines are NOT redacted here: the model client
//! redacts everything before it leaves the process.

use std::collections::{HashMap, HashSet};

use rootline_core::{Candidate, Evidence, EvidenceKind};
use serde::{Deserialize, Serialize};

/// Longest summary kept, in characters.
pub const MAX_SUMMARY_CHARS: usize = 300;
/// Longest example line kept, in characters.
pub const MAX_LINE_CHARS: usize = 400;
/// Most example lines shown per item.
pub const MAX_LINES_PER_ITEM: usize = 3;
/// Tokens charged per item for its id, entity, kind and the JSON around them.
const ITEM_OVERHEAD_TOKENS: usize = 24;
/// Tokens charged per example line besides its text.
const LINE_OVERHEAD_TOKENS: usize = 6;

/// One raw log line shown as an example of an item.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PackedLine {
    /// Evidence id of the log record (`log-…`).
    pub record_id: String,
    pub text: String,
}

/// One evidence item as the model sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PackedItem {
    /// Local id shown to the model: `E1`, `E2`, …
    pub id: String,
    /// The report's evidence id this item stands for.
    pub evidence_id: String,
    pub entity: String,
    pub kind: EvidenceKind,
    pub first_seen_ns: i64,
    /// 0..1, from the evidence: how unusual this is against the baseline.
    pub strength: f64,
    pub summary: String,
    pub lines: Vec<PackedLine>,
}

/// The evidence selected for one model request.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PackedContext {
    pub items: Vec<PackedItem>,
    /// Estimated tokens of the items (see [`estimate_tokens`]); never above `budget_tokens`.
    pub tokens_estimate: usize,
    pub budget_tokens: usize,
    /// Evidence items that did not fit the budget.
    pub dropped: usize,
    /// Example lines that did not fit the budget (of the items that did).
    pub dropped_lines: usize,
}

impl PackedContext {
    pub fn get(&self, local_id: &str) -> Option<&PackedItem> {
        self.items.iter().find(|i| i.id == local_id)
    }

    /// The local id of a report evidence id, when it was packed.
    pub fn local_id(&self, evidence_id: &str) -> Option<&str> {
        self.items
            .iter()
            .find(|i| i.evidence_id == evidence_id)
            .map(|i| i.id.as_str())
    }
}

/// A conservative token estimate: one token per three bytes, rounded up. Log lines are dense in
/// digits, hex and punctuation, which tokenise worse than prose (about four bytes a token).
pub fn estimate_tokens(text: &str) -> usize {
    text.len().div_ceil(3)
}

/// Cuts `text` to at most `max` characters on a character boundary, marking the cut with `…`.
pub fn truncate_chars(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

fn item_tokens(summary: &str, entity: &str) -> usize {
    ITEM_OVERHEAD_TOKENS + estimate_tokens(summary) + estimate_tokens(entity)
}

fn line_tokens(text: &str) -> usize {
    LINE_OVERHEAD_TOKENS + estimate_tokens(text)
}

/// Selects and compresses evidence for a budget of `budget_tokens`.
///
/// `examples` maps log-record evidence ids (the `examples` of an [`Evidence`]) to their raw
/// lines; records missing from it are simply not shown.
pub fn pack(
    report_evidence: &[Evidence],
    candidates: &[Candidate],
    examples: &HashMap<String, String>,
    budget_tokens: usize,
) -> PackedContext {
    let by_id: HashMap<&str, &Evidence> =
        report_evidence.iter().map(|e| (e.id.as_str(), e)).collect();
    let order = selection_order(report_evidence, candidates, &by_id);

    // Pass 1: every item with its summary and its first example line, in order, while they fit.
    let mut items: Vec<PackedItem> = Vec::new();
    let mut used = 0usize;
    let mut dropped = 0usize;
    for e in &order {
        let summary = truncate_chars(&e.summary, MAX_SUMMARY_CHARS);
        let cost = item_tokens(&summary, &e.entity);
        if used + cost > budget_tokens {
            dropped += 1;
            continue;
        }
        used += cost;
        let mut item = PackedItem {
            id: format!("E{}", items.len() + 1),
            evidence_id: e.id.clone(),
            entity: e.entity.clone(),
            kind: e.kind,
            first_seen_ns: e.first_seen_ns,
            strength: e.strength.clamp(0.0, 1.0),
            summary,
            lines: vec![],
        };
        if let Some(line) = example_lines(e, examples).next() {
            let cost = line_tokens(&line.text);
            if used + cost <= budget_tokens {
                used += cost;
                item.lines.push(line);
            }
        }
        items.push(item);
    }

    // Pass 2: more example lines, round by round, so every item gets its second line before any
    // gets its third.
    for round in 1..MAX_LINES_PER_ITEM {
        for item in &mut items {
            if item.lines.len() != round {
                continue;
            }
            let Some(e) = by_id.get(item.evidence_id.as_str()) else {
                continue;
            };
            let Some(line) = example_lines(e, examples).nth(round) else {
                continue;
            };
            let cost = line_tokens(&line.text);
            if used + cost <= budget_tokens {
                used += cost;
                item.lines.push(line);
            }
        }
    }
    let dropped_lines = items
        .iter()
        .filter_map(|i| by_id.get(i.evidence_id.as_str()).map(|e| (i, e)))
        .map(|(i, e)| {
            example_lines(e, examples)
                .count()
                .saturating_sub(i.lines.len())
        })
        .sum();

    PackedContext {
        items,
        tokens_estimate: used,
        budget_tokens,
        dropped,
        dropped_lines,
    }
}

/// The example lines of `e` that the caller fetched, truncated, at most [`MAX_LINES_PER_ITEM`].
fn example_lines<'a>(
    e: &'a Evidence,
    examples: &'a HashMap<String, String>,
) -> impl Iterator<Item = PackedLine> + 'a {
    e.examples
        .iter()
        .filter_map(move |id| {
            examples.get(id).map(|text| PackedLine {
                record_id: id.clone(),
                text: truncate_chars(text.trim_end(), MAX_LINE_CHARS),
            })
        })
        .take(MAX_LINES_PER_ITEM)
}

/// Candidates' evidence interleaved by rank, then everything else by strength (then id).
fn selection_order<'a>(
    report_evidence: &'a [Evidence],
    candidates: &[Candidate],
    by_id: &HashMap<&str, &'a Evidence>,
) -> Vec<&'a Evidence> {
    let mut seen: HashSet<&str> = HashSet::new();
    let mut order: Vec<&Evidence> = Vec::new();
    let depth = candidates
        .iter()
        .map(|c| c.evidence.len())
        .max()
        .unwrap_or(0);
    for d in 0..depth {
        for c in candidates {
            if let Some(id) = c.evidence.get(d)
                && let Some(e) = by_id.get(id.as_str())
                && seen.insert(e.id.as_str())
            {
                order.push(e);
            }
        }
    }
    let mut rest: Vec<&Evidence> = report_evidence
        .iter()
        .filter(|e| !seen.contains(e.id.as_str()))
        .collect();
    rest.sort_by(|a, b| {
        b.strength
            .total_cmp(&a.strength)
            .then_with(|| a.id.cmp(&b.id))
    });
    let mut rest_seen: HashSet<&str> = HashSet::new();
    order.extend(rest.into_iter().filter(|e| rest_seen.insert(e.id.as_str())));
    order
}

#[cfg(test)]
mod tests {
    use super::*;
    use rootline_core::FaultType;

    /// A report-shaped input: `n_services` services, each with a new-message item, an error-rate
    /// item and a rate change, each with three example records of realistic Java-service lines.
    fn fixture(n_services: usize) -> (Vec<Evidence>, Vec<Candidate>, HashMap<String, String>) {
        let mut evidence = Vec::new();
        let mut candidates = Vec::new();
        let mut examples = HashMap::new();
        for s in 0..n_services {
            let entity = format!("ts-service-{s}");
            let mut ids = Vec::new();
            for (k, (kind, strength)) in [
                (EvidenceKind::NewMessage, 0.99),
                (EvidenceKind::ErrorRate, 0.9),
                (EvidenceKind::RateChange, 0.6),
            ]
            .into_iter()
            .enumerate()
            {
                let id = format!("sig-{s:02}-{k}");
                let mut ex = Vec::new();
                for r in 0..3 {
                    let rid = format!("log-{s:02}{k}{r:016}");
                    examples.insert(
                        rid.clone(),
                        format!(
                            "2023-01-29 09:25:{r:02}.123 ERROR [{entity},trace-{s}{k}{r}] o.a.c.c.C.[.[.[/].[dispatcherServlet] : Servlet.service() for servlet [dispatcherServlet] threw exception java.lang.NullPointerException: order {r} not found at com.trainticket.service.OrderServiceImpl.getOrder(OrderServiceImpl.java:{k}{r})"
                        ),
                    );
                    ex.push(rid);
                }
                evidence.push(Evidence {
                    id: id.clone(),
                    kind,
                    entity: entity.clone(),
                    first_seen_ns: 1_674_984_339_000_000_000 + s as i64,
                    strength: strength - s as f64 * 0.01,
                    summary: format!(
                        "{entity}: new ERROR message 'Servlet.service() for servlet [dispatcherServlet] threw exception <*>' ×{} in the window, 0 in the baseline",
                        10 + s
                    ),
                    examples: ex,
                    instances: vec![],
                    modules: vec![],
                });
                ids.push(id);
            }
            candidates.push(Candidate {
                entity,
                fault_type: FaultType::Exception,
                score: 100.0 - s as f64,
                evidence: ids,
                why: "new messages".into(),
                score_by_signal: Default::default(),
                instances: vec![],
                modules: vec![],
                first_change: None,
            });
        }
        (evidence, candidates, examples)
    }

    #[test]
    fn budget_is_respected_and_every_item_has_its_id() {
        let (evidence, candidates, examples) = fixture(40);
        for budget in [500, 2_000, 8_000, 32_000] {
            let p = pack(&evidence, &candidates, &examples, budget);
            assert!(
                p.tokens_estimate <= budget,
                "{budget}: {}",
                p.tokens_estimate
            );
            assert_eq!(p.items.len() + p.dropped, evidence.len());
            for (i, item) in p.items.iter().enumerate() {
                assert_eq!(item.id, format!("E{}", i + 1));
                assert!(evidence.iter().any(|e| e.id == item.evidence_id));
                assert!(item.lines.len() <= MAX_LINES_PER_ITEM);
            }
            // The estimate is the sum of what was charged.
            let recomputed: usize = p
                .items
                .iter()
                .map(|i| {
                    item_tokens(&i.summary, &i.entity)
                        + i.lines.iter().map(|l| line_tokens(&l.text)).sum::<usize>()
                })
                .sum();
            assert_eq!(recomputed, p.tokens_estimate);
        }
    }

    #[test]
    fn larger_budget_shows_more_and_top_candidates_first() {
        let (evidence, candidates, examples) = fixture(40);
        let small = pack(&evidence, &candidates, &examples, 8_000);
        let large = pack(&evidence, &candidates, &examples, 32_000);
        assert!(small.dropped > 0, "8k should not fit 120 items with lines");
        assert!(large.items.len() > small.items.len());
        let lines = |p: &PackedContext| p.items.iter().map(|i| i.lines.len()).sum::<usize>();
        assert!(lines(&large) > lines(&small));
        // Interleaving: the first items are each candidate's strongest, in rank order.
        assert_eq!(small.items[0].evidence_id, "sig-00-0");
        assert_eq!(small.items[1].evidence_id, "sig-01-0");
        assert_eq!(small.items[1].entity, "ts-service-1");
        // The smaller pack is a prefix of the larger one: same ids for the same evidence.
        for (a, b) in small.items.iter().zip(&large.items) {
            assert_eq!((&a.id, &a.evidence_id), (&b.id, &b.evidence_id));
        }
        // Deterministic.
        assert_eq!(small, pack(&evidence, &candidates, &examples, 8_000));
    }

    #[test]
    fn lines_are_truncated_and_missing_examples_skipped() {
        let long = "x".repeat(5_000);
        let evidence = vec![Evidence {
            id: "sig-a".into(),
            kind: EvidenceKind::NewMessage,
            entity: "api".into(),
            first_seen_ns: 0,
            strength: 0.8,
            summary: "s".repeat(1_000),
            examples: vec!["log-missing".into(), "log-long".into()],
            instances: vec![],
            modules: vec![],
        }];
        let examples = HashMap::from([("log-long".to_string(), long)]);
        let p = pack(&evidence, &[], &examples, 8_000);
        assert_eq!(p.items.len(), 1);
        assert_eq!(p.items[0].summary.chars().count(), MAX_SUMMARY_CHARS);
        assert_eq!(p.items[0].lines.len(), 1);
        assert_eq!(p.items[0].lines[0].record_id, "log-long");
        assert_eq!(p.items[0].lines[0].text.chars().count(), MAX_LINE_CHARS);
        // A budget smaller than one item packs nothing.
        let none = pack(&evidence, &[], &examples, 10);
        assert!(none.items.is_empty() && none.dropped == 1 && none.tokens_estimate == 0);
    }
}

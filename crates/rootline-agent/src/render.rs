//! Human-readable renderings of a report: terminal text and Markdown for postmortems.

use std::fmt::Write;

use rootline_core::{Evidence, Outcome, Report};

const TOP: usize = 5;

fn evidence<'a>(report: &'a Report, id: &str) -> Option<&'a Evidence> {
    report.evidence.iter().find(|e| e.id == id)
}

fn headline(report: &Report) -> String {
    match (report.outcome, report.candidates.first()) {
        (Outcome::ProbableCause, Some(c)) => format!(
            "Probable root cause: {} ({})",
            c.entity,
            c.fault_type.as_str()
        ),
        (Outcome::InsufficientEvidence, _) => {
            "Insufficient evidence: no candidate is decisive".to_string()
        }
        (Outcome::NoIncidentDetected, _) => {
            "No incident detected: the window looks like its baseline".to_string()
        }
        (Outcome::NoData, _) => "No data: the index holds no records in the incident window".into(),
        (Outcome::ProbableCause, None) => "Probable cause without candidates".into(),
    }
}

/// A compact report for a terminal.
pub fn render_text(report: &Report) -> String {
    let mut out = String::new();
    let i = &report.incident;
    let _ = writeln!(out, "Incident: {}", i.title);
    let _ = writeln!(
        out,
        "Window:   {} .. {} ({} records; baseline {} records)",
        report.stats.window_start,
        report.stats.window_end,
        report.stats.window_records,
        report.stats.baseline_records
    );
    let mode_note = if report.mode == "offline" {
        match report
            .llm
            .as_ref()
            .and_then(|l| l.get("error"))
            .and_then(|e| e.as_str())
        {
            Some(e) => format!("the model exchange failed ({e}); ranking by the evidence engine"),
            None => "ranking by the evidence engine; no model consulted".to_string(),
        }
    } else {
        "evidence-engine ranking plus grounded model hypotheses".to_string()
    };
    let _ = writeln!(out, "Mode:     {} ({mode_note})", report.mode);
    let _ = writeln!(out);
    let _ = writeln!(out, "{}", headline(report));
    let _ = writeln!(out, "  {}", report.outcome_reason);
    for m in &report.missing {
        let _ = writeln!(out, "  not read: {m}");
    }
    if report.candidates.is_empty() {
        return out;
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "Candidates:");
    for (rank, c) in report.candidates.iter().take(TOP).enumerate() {
        let _ = writeln!(
            out,
            "{:>2}. {:<32} {:<20} score {:>7.2}",
            rank + 1,
            c.entity,
            c.fault_type.as_str(),
            c.score
        );
        let _ = writeln!(out, "    why: {}", c.why);
        if !c.score_by_signal.is_empty() {
            let parts: Vec<String> = c
                .score_by_signal
                .iter()
                .map(|(signal, v)| format!("{signal} {v:.2}"))
                .collect();
            let _ = writeln!(out, "    score from: {}", parts.join(", "));
        }
        if !c.instances.is_empty() {
            let _ = writeln!(out, "    seen on: {}", c.instances.join(", "));
        }
        if !c.modules.is_empty() {
            let shown: Vec<&str> = c.modules.iter().take(3).map(String::as_str).collect();
            let _ = writeln!(out, "    in code: {}", shown.join(", "));
        }
        for id in c.evidence.iter().take(3) {
            if let Some(e) = evidence(report, id) {
                let _ = writeln!(out, "    [{}] {}", e.id, e.summary);
                if !e.examples.is_empty() {
                    let _ = writeln!(out, "        e.g. {}", e.examples.join(", "));
                }
            }
        }
    }
    if report.candidates.len() > TOP {
        let _ = writeln!(
            out,
            "    … {} more candidates in --format json",
            report.candidates.len() - TOP
        );
    }
    write_hypotheses_text(&mut out, report);
    let _ = writeln!(out);
    let _ = writeln!(out, "Investigation {}", report.investigation_id);
    out
}

fn write_hypotheses_text(out: &mut String, report: &Report) {
    let Some(llm) = &report.llm else {
        return;
    };
    let _ = writeln!(out);
    if let Some(summary) = llm.get("summary").and_then(|s| s.as_str()) {
        let _ = writeln!(out, "Model: {summary}");
    }
    for (i, h) in report.hypotheses.iter().enumerate() {
        let get = |k: &str| h.get(k).and_then(|v| v.as_str()).unwrap_or("");
        let _ = writeln!(
            out,
            "{:>2}. {} — {} ({}), confidence {:.2}, cites {}",
            i + 1,
            get("entity"),
            get("cause"),
            get("fault_type"),
            h.get("confidence").and_then(|c| c.as_f64()).unwrap_or(0.0),
            h.get("evidence_ids")
                .and_then(|v| v.as_array())
                .map(|a| a
                    .iter()
                    .filter_map(|x| x.as_str())
                    .collect::<Vec<_>>()
                    .join(", "))
                .unwrap_or_default()
        );
        if let Some(fixes) = h.get("fixes").and_then(|f| f.as_array()) {
            for f in fixes {
                let _ = writeln!(
                    out,
                    "    proposed fix (needs approval, never run automatically): {} [risk {}]",
                    f.get("action").and_then(|v| v.as_str()).unwrap_or(""),
                    f.get("risk").and_then(|v| v.as_str()).unwrap_or("?")
                );
            }
        }
    }
    for r in &report.rejected_hypotheses {
        let _ = writeln!(
            out,
            "    dropped: {}",
            r.get("reason").and_then(|v| v.as_str()).unwrap_or("")
        );
    }
}

/// Markdown for a postmortem document.
pub fn render_markdown(report: &Report) -> String {
    let mut out = String::new();
    let i = &report.incident;
    let _ = writeln!(out, "# {}\n", i.title);
    if !i.description.is_empty() {
        let _ = writeln!(out, "{}\n", i.description);
    }
    let _ = writeln!(out, "| | |\n|---|---|");
    let _ = writeln!(out, "| investigation | `{}` |", report.investigation_id);
    let _ = writeln!(
        out,
        "| window | {} .. {} |",
        report.stats.window_start, report.stats.window_end
    );
    let _ = writeln!(
        out,
        "| baseline | {} .. {} |",
        report.stats.baseline_start, report.stats.baseline_end
    );
    let _ = writeln!(
        out,
        "| records | {} in the window, {} in the baseline, {} services |",
        report.stats.window_records, report.stats.baseline_records, report.stats.services_seen
    );
    let _ = writeln!(out, "| mode | {} |", report.mode);
    let _ = writeln!(
        out,
        "\n## {}\n\n{}\n",
        headline(report),
        report.outcome_reason
    );
    if let Some(summary) = report
        .llm
        .as_ref()
        .and_then(|l| l.get("summary"))
        .and_then(|s| s.as_str())
    {
        let _ = writeln!(out, "## Model hypotheses\n\n{summary}\n");
        for h in &report.hypotheses {
            let get = |k: &str| h.get(k).and_then(|v| v.as_str()).unwrap_or("");
            let _ = writeln!(
                out,
                "- **{}**: {} ({}, confidence {:.2}); evidence {}",
                get("entity"),
                get("cause"),
                get("fault_type"),
                h.get("confidence").and_then(|c| c.as_f64()).unwrap_or(0.0),
                h.get("evidence_ids")
                    .map(|v| v.to_string())
                    .unwrap_or_default()
            );
        }
        for r in &report.rejected_hypotheses {
            let _ = writeln!(
                out,
                "- dropped: {}",
                r.get("reason").and_then(|v| v.as_str()).unwrap_or("")
            );
        }
        let _ = writeln!(out);
    }
    if !report.candidates.is_empty() {
        let _ = writeln!(
            out,
            "## Candidates\n\n| # | entity | fault type | score | why |\n|---|---|---|---|---|"
        );
        for (rank, c) in report.candidates.iter().take(10).enumerate() {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {:.2} | {} |",
                rank + 1,
                c.entity,
                c.fault_type.as_str(),
                c.score,
                c.why.replace('|', "\\|")
            );
        }
        let _ = writeln!(out, "\n## Evidence\n");
        for c in report.candidates.iter().take(3) {
            let _ = writeln!(out, "### {}\n", c.entity);
            for id in &c.evidence {
                if let Some(e) = evidence(report, id) {
                    let _ = writeln!(
                        out,
                        "- `{}` (strength {:.2}): {}{}",
                        e.id,
                        e.strength,
                        e.summary.replace('|', "\\|"),
                        if e.examples.is_empty() {
                            String::new()
                        } else {
                            format!(" — records {}", e.examples.join(", "))
                        }
                    );
                }
            }
            let _ = writeln!(out);
        }
    }
    out
}

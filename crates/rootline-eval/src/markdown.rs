//! Markdown rendering of an [`EvalReport`]: per-dataset tables, then one row per case.

use std::fmt::Write;

use crate::EvalReport;
use crate::score::{CaseResult, LevelMetrics, Rate};
use crate::truth::Level;

fn pct(v: f64) -> String {
    format!("{:.2}", v)
}

fn rate(r: &Rate) -> String {
    match r.value() {
        Some(v) => format!("{} ({}/{})", pct(v), r.hits, r.n),
        None => "n/a".into(),
    }
}

/// `8000` → `8k`; other sizes as written.
fn budget(tokens: usize) -> String {
    if tokens >= 1000 && tokens.is_multiple_of(1000) {
        format!("{}k", tokens / 1000)
    } else {
        tokens.to_string()
    }
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// Renders the summary tables and the per-case table.
pub fn render_markdown(report: &EvalReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "## Summary\n");
    let _ = writeln!(
        out,
        "| dataset | cases | faults | controls | errors | fault type (top-1) | fault type (at truth) | probable cause right | controls correct | s/case mean | s/case max |"
    );
    let _ = writeln!(out, "|---|---:|---:|---:|---:|---|---|---|---|---:|---:|");
    for s in &report.summaries {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.2} | {:.2} |",
            cell(&s.source),
            s.cases,
            s.fault_cases,
            s.controls,
            s.errors,
            rate(&s.fault_type_top1),
            rate(&s.fault_type_at_truth),
            rate(&s.committed_correct),
            rate(&s.controls_correct),
            s.seconds_mean,
            s.seconds_max
        );
    }
    render_jitter(&mut out, report);
    render_models(&mut out, report);
    let _ = writeln!(out, "\n### Ranking (root cause among the candidates)\n");
    let _ = writeln!(
        out,
        "| dataset | level | n | AC@1 | AC@3 | Avg@5 | naive AC@1 | naive AC@3 | naive Avg@5 |"
    );
    let _ = writeln!(out, "|---|---|---:|---:|---:|---:|---:|---:|---:|");
    for s in &report.summaries {
        for (level, m) in &s.levels {
            let naive = s.naive_levels.get(level);
            let n = |f: fn(&LevelMetrics) -> f64| naive.map(|m| pct(f(m))).unwrap_or("n/a".into());
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                cell(&s.source),
                level.as_str(),
                m.n,
                pct(m.ac1()),
                pct(m.ac3()),
                pct(m.avg5),
                n(LevelMetrics::ac1),
                n(LevelMetrics::ac3),
                n(|m| m.avg5),
            );
        }
    }
    if report
        .summaries
        .iter()
        .any(|s| !s.evidence_recall.is_empty())
    {
        let _ = writeln!(out, "\n### Evidence recall of the packed LLM context\n");
        let _ = writeln!(
            out,
            "Fault cases; a case whose engine produced no evidence about the root cause counts as a miss.\n"
        );
        let _ = writeln!(
            out,
            "| dataset | budget | n | no truth evidence | any in pack | strongest in pack | share in pack | any, given evidence | share, given evidence |"
        );
        let _ = writeln!(out, "|---|---:|---:|---:|---|---|---:|---|---:|");
        for s in &report.summaries {
            for r in &s.evidence_recall {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                    cell(&s.source),
                    budget(r.budget_tokens),
                    r.n,
                    r.no_truth_evidence,
                    rate(&r.any),
                    rate(&r.strongest),
                    pct(r.share),
                    rate(&r.any_given_evidence),
                    pct(r.share_given_evidence),
                );
            }
        }
    }
    let _ = writeln!(out, "\n### Outcomes\n");
    let _ = writeln!(out, "| dataset | outcomes |");
    let _ = writeln!(out, "|---|---|");
    for s in &report.summaries {
        let o: Vec<String> = s.outcomes.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let _ = writeln!(out, "| {} | {} |", cell(&s.source), o.join(", "));
    }
    let _ = writeln!(out, "\n## Cases\n");
    let _ = writeln!(
        out,
        "| case | dataset | truth | outcome | top 5 (score) | rank: engine (naive) | fault type | truth evidence in pack | s |"
    );
    let _ = writeln!(out, "|---|---|---|---|---|---|---|---|---:|");
    for c in &report.cases {
        let _ = writeln!(out, "{}", case_row(c));
    }
    out
}

fn truth_cell(c: &CaseResult) -> String {
    let Some(t) = &c.truth else {
        return "–".into();
    };
    if t.no_fault {
        return "control (no failure)".into();
    }
    let parts: Vec<String> = Level::ALL
        .into_iter()
        .filter_map(|l| t.target(l).map(|v| format!("{}: {v}", l.as_str())))
        .collect();
    let mut s = parts.join(", ");
    if let Some(f) = &t.fault_type {
        let _ = write!(s, " [{f}]");
    }
    s
}

fn case_row(c: &CaseResult) -> String {
    let outcome = match (&c.error, c.outcome) {
        (Some(e), None) => format!("error: {e}"),
        (_, Some(o)) => o.as_str().to_string(),
        (None, None) => "–".into(),
    };
    let top: Vec<String> = c
        .top
        .iter()
        .map(|r| format!("{} ({:.1})", r.entity, r.score))
        .collect();
    let show = |r: Option<&Option<usize>>| match r {
        Some(Some(r)) => r.to_string(),
        Some(None) => "–".into(),
        None => "n/a".into(),
    };
    let ranks: Vec<String> = c
        .ranks
        .iter()
        .map(|(l, r)| {
            format!(
                "{} {} ({})",
                l.as_str(),
                show(Some(r)),
                show(c.naive_ranks.get(l))
            )
        })
        .collect();
    let ranks = match c.control_correct {
        Some(true) => "control ok".to_string(),
        Some(false) => "control: false alarm".to_string(),
        None => ranks.join("; "),
    };
    let fault = match (c.top.first(), c.fault_type_top1) {
        (Some(r), Some(ok)) => format!("{}{}", r.fault_type, if ok { " ✓" } else { " ✗" }),
        (Some(r), None) => r.fault_type.clone(),
        (None, _) => "–".into(),
    };
    let recall = match &c.evidence_recall {
        None => "–".to_string(),
        Some(r) if r.truth_evidence.is_empty() => "no truth evidence".to_string(),
        Some(r) => r
            .budgets
            .iter()
            .map(|b| {
                format!(
                    "{}: {}/{}",
                    budget(b.budget_tokens),
                    b.truth_packed,
                    r.truth_evidence.len()
                )
            })
            .collect::<Vec<_>>()
            .join(", "),
    };
    format!(
        "| {} | {} | {} | {} | {} | {} | {} | {} | {:.2} |",
        cell(&c.case),
        cell(&c.source),
        cell(&truth_cell(c)),
        cell(&outcome),
        cell(&top.join(", ")),
        ranks,
        fault,
        recall,
        c.seconds
    )
}

/// AC@1 and AC@3 per window-start offset and their mean, per dataset and level (`--jitter`).
fn render_jitter(out: &mut String, report: &EvalReport) {
    if report.summaries.iter().all(|s| s.jitter.is_empty()) {
        return;
    }
    let _ = writeln!(
        out,
        "\n### Window jitter (start moved, end kept)\n\n| dataset | offset (s) | cases | skipped | level | AC@1 | AC@3 | Avg@5 | controls correct |\n|---|---:|---:|---:|---|---:|---:|---:|---|"
    );
    for s in &report.summaries {
        for j in &s.jitter {
            let offset = j.offset_s.map_or("mean".to_string(), |o| format!("{o:+}"));
            for (level, m) in &j.levels {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                    cell(&s.source),
                    offset,
                    j.cases,
                    j.skipped,
                    level.as_str(),
                    pct(m.ac1()),
                    pct(m.ac3()),
                    pct(m.avg5),
                    rate(&j.controls_correct)
                );
            }
        }
    }
}

/// One row per scored model (`--llm`), the engine on the same cases next to it.
fn render_models(out: &mut String, report: &EvalReport) {
    if report.models.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n### Models (hypotheses on the engine's evidence)\n");
    let _ = writeln!(
        out,
        "| model | cases | AC@1 | AC@3 | engine AC@1 | engine AC@3 | kept / rejected (grounded) | invented citations | misquotes | Brier | tokens in / out per case | cost per case | latency p50 / p95 ms | errors |"
    );
    let _ = writeln!(
        out,
        "|---|---:|---:|---:|---:|---:|---|---:|---:|---:|---|---:|---|---:|"
    );
    for m in &report.models {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} / {} ({}) | {} | {} | {:.3} | {:.0} / {:.0} | ${:.4} | {} / {} | {} |",
            cell(&m.model),
            m.cases,
            pct(m.hypotheses.ac1()),
            pct(m.hypotheses.ac3()),
            pct(m.engine.ac1()),
            pct(m.engine.ac3()),
            m.kept,
            m.rejected,
            pct(m.grounded_share),
            m.invented_citations,
            m.misquotes,
            m.calibration.brier,
            m.input_tokens_per_case,
            m.output_tokens_per_case,
            m.cost_usd_per_case,
            m.latency_ms_p50,
            m.latency_ms_p95,
            m.errors
        );
    }
}

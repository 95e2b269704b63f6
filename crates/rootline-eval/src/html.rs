//! The evaluation as one self-contained page to read (`rootline eval DIR --html OUT.html`):
//! AC@k per dataset and level as bars (engine against the naive error counter), the jitter curve
//! when `--jitter` ran, a reliability diagram of the engine's confidence, the per-case table with
//! a link to each case's candidates, and the time per case. No script and no remote resource:
//! inline SVG and styles, and a Content-Security-Policy that forbids script, like the timeline.
//! Every text from a bundle (case names, entities, reasons) is escaped.

use std::fmt::Write;

use crate::EvalReport;
use crate::calibration::{Calibration, calibrate, confidence, primary_level};
use crate::score::{CaseResult, DatasetSummary, LevelMetrics};
use crate::truth::Level;

const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'";
const STYLE: &str = "body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222;max-width:70em}\
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ccc}\
table{border-collapse:collapse;margin:1em 0}td,th{padding:.2em .6em;border-bottom:1px solid #eee;text-align:left}\
td.n{text-align:right}.charts{display:flex;flex-wrap:wrap;gap:2em}figure{margin:0}\
figcaption{font-size:.9em;color:#555}.hit{color:#176f2c}.miss{color:#a11}\
svg text{font:11px system-ui,sans-serif;fill:#333}";

/// `&`, `<`, `>`, `"`, `'` as entities.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn pct(v: f64) -> String {
    format!("{v:.2}")
}

/// Renders the whole page.
pub fn render_html(report: &EvalReport) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">\
         <title>rootline evaluation: {}</title><style>{STYLE}</style></head><body>\
         <h1>rootline evaluation</h1><p>Bundles under <code>{}</code>: {} cases, {} datasets. \
         Engine = the deterministic ranking; naive = most WARN/ERROR records wins. {}</p>",
        esc(&report.dir),
        esc(&report.dir),
        report.cases.len(),
        report.summaries.len(),
        if report.models.is_empty() {
            "No model was scored in this run."
        } else {
            "Models answer on the engine's evidence; their claims are checked against it."
        }
    );
    for (i, s) in report.summaries.iter().enumerate() {
        let cases: Vec<&CaseResult> = report
            .cases
            .iter()
            .filter(|c| c.source == s.source)
            .collect();
        render_dataset(&mut out, i, s, &cases);
    }
    render_models(&mut out, &report.models);
    render_cases(&mut out, &report.cases);
    out.push_str("</body></html>\n");
    out
}

fn render_dataset(out: &mut String, i: usize, s: &DatasetSummary, cases: &[&CaseResult]) {
    let _ = write!(
        out,
        "<section class=\"dataset\" id=\"dataset-{i}\"><h2>{}</h2>\
         <p>{} cases ({} faults, {} controls, {} errors); fault type right at the top {}; \
         probable-cause claims right {}; controls right {}; {:.2} s per case (max {:.2}).</p>\
         <div class=\"charts\">",
        esc(&s.source),
        s.cases,
        s.fault_cases,
        s.controls,
        s.errors,
        rate(s.fault_type_top1.hits, s.fault_type_top1.n),
        rate(s.committed_correct.hits, s.committed_correct.n),
        rate(s.controls_correct.hits, s.controls_correct.n),
        s.seconds_mean,
        s.seconds_max,
    );
    bars(out, s);
    if !s.jitter.is_empty() {
        jitter_curve(out, s);
    }
    let calibration = s
        .calibration
        .clone()
        .unwrap_or_else(|| calibrate(cases.iter().copied()));
    reliability(
        out,
        &calibration,
        "Engine",
        "Confidence = the top candidate's share of the candidates' scores.",
    );
    out.push_str("</div></section>");
}

fn rate(hits: usize, n: usize) -> String {
    if n == 0 {
        "n/a".into()
    } else {
        format!("{} ({hits}/{n})", pct(hits as f64 / n as f64))
    }
}

/// Horizontal bars: AC@1 and AC@3 per level, engine and naive.
fn bars(out: &mut String, s: &DatasetSummary) {
    let rows: Vec<(Level, &LevelMetrics, Option<&LevelMetrics>)> = s
        .levels
        .iter()
        .map(|(l, m)| (*l, m, s.naive_levels.get(l)))
        .collect();
    let row_h = 16.0;
    let label_w = 150.0;
    let bar_w = 260.0;
    let height = 20.0 + rows.len() as f64 * 4.0 * row_h;
    let _ = write!(
        out,
        "<figure><svg class=\"bars\" width=\"{}\" height=\"{height}\" role=\"img\" \
         aria-label=\"AC@k by level\">",
        label_w + bar_w + 50.0
    );
    let mut y = 10.0;
    for (level, engine, naive) in rows {
        for (who, m) in [("engine", Some(engine)), ("naive", naive)] {
            let Some(m) = m else { continue };
            for (k, v) in [(1, m.ac1()), (3, m.ac3())] {
                let w = v.clamp(0.0, 1.0) * bar_w;
                let _ = write!(
                    out,
                    "<text x=\"0\" y=\"{}\">{} {who} AC@{k}</text>\
                     <rect class=\"bar {who}\" data-level=\"{}\" data-k=\"{k}\" x=\"{label_w}\" y=\"{y}\" \
                     width=\"{w:.1}\" height=\"{}\" fill=\"{}\"><title>{} {who} AC@{k} = {} (n = {})</title></rect>\
                     <text x=\"{}\" y=\"{}\">{}</text>",
                    y + row_h - 4.0,
                    level.as_str(),
                    level.as_str(),
                    row_h - 3.0,
                    if who == "engine" {
                        "#2b6cb0"
                    } else {
                        "#a0aec0"
                    },
                    level.as_str(),
                    pct(v),
                    m.n,
                    label_w + w + 4.0,
                    y + row_h - 4.0,
                    pct(v),
                );
                y += row_h;
            }
        }
    }
    out.push_str("</svg><figcaption>AC@1 and AC@3 per level: engine (blue) and the naive error counter (grey).</figcaption></figure>");
}

/// AC@1 of the first level against the window-start offset.
fn jitter_curve(out: &mut String, s: &DatasetSummary) {
    let points: Vec<(i64, f64)> = s
        .jitter
        .iter()
        .filter_map(|j| {
            let offset = j.offset_s?;
            let m = j.levels.values().next()?;
            (j.cases > 0).then_some((offset, m.ac1()))
        })
        .collect();
    let level = s
        .jitter
        .iter()
        .find_map(|j| j.levels.keys().next())
        .map_or("", |l| l.as_str());
    let (w, h, pad) = (300.0, 160.0, 30.0);
    let _ = write!(
        out,
        "<figure><svg class=\"jitter\" width=\"{w}\" height=\"{h}\" role=\"img\" aria-label=\"AC@1 by window offset\">\
         <line x1=\"{pad}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#999\"/>\
         <line x1=\"{pad}\" y1=\"10\" x2=\"{pad}\" y2=\"{}\" stroke=\"#999\"/>\
         <text x=\"2\" y=\"14\">1.0</text><text x=\"2\" y=\"{}\">0</text>",
        h - pad,
        w - 10.0,
        h - pad,
        h - pad,
        h - pad
    );
    if !points.is_empty() {
        let lo = points.iter().map(|p| p.0).min().unwrap_or(0) as f64;
        let hi = points.iter().map(|p| p.0).max().unwrap_or(0) as f64;
        let x = |o: i64| {
            if hi > lo {
                pad + (o as f64 - lo) / (hi - lo) * (w - pad - 20.0)
            } else {
                pad + (w - pad - 20.0) / 2.0
            }
        };
        let y = |v: f64| (h - pad) - v.clamp(0.0, 1.0) * (h - pad - 10.0);
        let line: Vec<String> = points
            .iter()
            .map(|(o, v)| format!("{:.1},{:.1}", x(*o), y(*v)))
            .collect();
        let _ = write!(
            out,
            "<polyline class=\"jitter-line\" fill=\"none\" stroke=\"#2b6cb0\" stroke-width=\"2\" points=\"{}\"/>",
            line.join(" ")
        );
        for (o, v) in &points {
            let _ = write!(
                out,
                "<circle class=\"jitter-point\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"#2b6cb0\">\
                 <title>{o:+} s: AC@1 {}</title></circle><text x=\"{:.1}\" y=\"{}\">{o:+}</text>",
                x(*o),
                y(*v),
                pct(*v),
                x(*o) - 8.0,
                h - pad + 14.0
            );
        }
    }
    let _ = write!(
        out,
        "</svg><figcaption>{} AC@1 with the window start moved by the offset (seconds; end kept).</figcaption></figure>",
        esc(level)
    );
}

/// Confidence bins against their hit rate, with the diagonal of perfect calibration.
fn reliability(out: &mut String, c: &Calibration, who: &str, what: &str) {
    let (size, pad) = (160.0, 24.0);
    let span = size - 2.0 * pad;
    let x = |v: f64| pad + v * span;
    let y = |v: f64| size - pad - v * span;
    let _ = write!(
        out,
        "<figure><svg class=\"reliability\" width=\"{size}\" height=\"{size}\" role=\"img\" aria-label=\"reliability diagram\">\
         <rect x=\"{pad}\" y=\"{pad}\" width=\"{span}\" height=\"{span}\" fill=\"none\" stroke=\"#ccc\"/>\
         <line class=\"diagonal\" x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#999\" stroke-dasharray=\"3 3\"/>",
        x(0.0),
        y(0.0),
        x(1.0),
        y(1.0)
    );
    for b in c.bins.iter().filter(|b| b.n > 0) {
        let _ = write!(
            out,
            "<rect class=\"bin\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"#2b6cb0\" fill-opacity=\"0.6\">\
             <title>confidence {:.1}–{:.1}: {} cases, right {}</title></rect>",
            x(b.lo) + 1.0,
            y(b.accuracy),
            (b.hi - b.lo) * span - 2.0,
            b.accuracy * span,
            b.lo,
            b.hi,
            b.n,
            pct(b.accuracy)
        );
    }
    let _ = write!(
        out,
        "<text x=\"{pad}\" y=\"{}\">confidence</text><text x=\"2\" y=\"{}\">right</text></svg>\
         <figcaption>{}: {} cases, Brier {:.3}. {}</figcaption></figure>",
        size - 6.0,
        pad - 6.0,
        esc(who),
        c.n,
        c.brier,
        what
    );
}

fn rank_cell(rank: Option<Option<usize>>) -> String {
    match rank {
        None => "<td>–</td>".into(),
        Some(None) => "<td class=\"miss\">missed</td>".into(),
        Some(Some(1)) => "<td class=\"hit\">1</td>".into(),
        Some(Some(r)) => format!("<td class=\"miss\">{r}</td>"),
    }
}

/// Each model's scorecard: AC@1/AC@3 bars against the engine on the same cases, the
/// reliability of its stated confidence, and the numbers.
fn render_models(out: &mut String, models: &[crate::models::ModelSummary]) {
    if models.is_empty() {
        return;
    }
    out.push_str("<h2>Models</h2>");
    for (i, m) in models.iter().enumerate() {
        let _ = write!(
            out,
            "<section class=\"model\" id=\"model-{i}\"><h3>{}</h3><p>{} cases; kept {} of {} \
             hypotheses ({}), {} invented citations, {} misquotes; {:.0} tokens in and {:.0} out \
             per case, ${:.4} per case; latency p50 {} ms, p95 {} ms; {} errors.</p>\
             <div class=\"charts\"><figure><svg class=\"model-bars\" width=\"460\" height=\"80\" role=\"img\" aria-label=\"model against engine\">",
            esc(&m.model),
            m.cases,
            m.kept,
            m.kept + m.rejected,
            pct(m.grounded_share),
            m.invented_citations,
            m.misquotes,
            m.input_tokens_per_case,
            m.output_tokens_per_case,
            m.cost_usd_per_case,
            m.latency_ms_p50,
            m.latency_ms_p95,
            m.errors
        );
        let mut y = 4.0;
        for (who, k, v) in [
            ("model", 1, m.hypotheses.ac1()),
            ("model", 3, m.hypotheses.ac3()),
            ("engine", 1, m.engine.ac1()),
            ("engine", 3, m.engine.ac3()),
        ] {
            let w = v.clamp(0.0, 1.0) * 260.0;
            let _ = write!(
                out,
                "<text x=\"0\" y=\"{}\">{who} AC@{k}</text><rect class=\"bar {who}\" data-k=\"{k}\" x=\"110\" y=\"{y}\" width=\"{w:.1}\" height=\"14\" fill=\"{}\"><title>{who} AC@{k} = {}</title></rect><text x=\"{:.1}\" y=\"{}\">{}</text>",
                y + 11.0,
                if who == "engine" {
                    "#2b6cb0"
                } else {
                    "#805ad5"
                },
                pct(v),
                114.0 + w,
                y + 11.0,
                pct(v)
            );
            y += 18.0;
        }
        out.push_str("</svg><figcaption>The model's hypotheses against the engine's ranking on the same cases.</figcaption></figure>");
        reliability(
            out,
            &m.calibration,
            &m.model,
            "Confidence = the first hypothesis's stated confidence (after grounding's cap).",
        );
        out.push_str("</div></section>");
    }
}

/// One row per case, linking to the case's candidates below.
fn render_cases(out: &mut String, cases: &[CaseResult]) {
    out.push_str(
        "<h2>Cases</h2><table class=\"cases\"><thead><tr><th>case</th><th>dataset</th><th>truth</th>\
         <th>outcome</th><th>engine top</th><th>rank</th><th>naive rank</th><th>confidence</th>\
         <th>s</th></tr></thead><tbody>",
    );
    for (i, c) in cases.iter().enumerate() {
        let level = primary_level(c);
        let truth = c
            .truth
            .as_ref()
            .map(|t| {
                if t.no_fault {
                    "no fault (control)".to_owned()
                } else {
                    t.root_cause_service
                        .clone()
                        .or_else(|| t.root_cause_entity.clone())
                        .unwrap_or_default()
                }
            })
            .unwrap_or_default();
        let outcome = c
            .outcome
            .map_or_else(|| "error".to_owned(), |o| o.as_str().to_owned());
        let _ = write!(
            out,
            "<tr><td><a href=\"#case-{i}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>{}{}<td class=\"n\">{}</td><td class=\"n\">{:.2}</td></tr>",
            esc(&c.case),
            esc(&c.source),
            esc(&truth),
            esc(&outcome),
            esc(c.top.first().map_or("", |r| r.entity.as_str())),
            rank_cell(level.map(|l| c.ranks.get(&l).copied().flatten())),
            rank_cell(level.and_then(|l| c.naive_ranks.get(&l).copied())),
            confidence(c).map_or_else(|| "–".to_owned(), pct),
            c.seconds
        );
    }
    out.push_str("</tbody></table><h2>Candidates per case</h2>");
    for (i, c) in cases.iter().enumerate() {
        let _ = write!(
            out,
            "<section class=\"case\" id=\"case-{i}\"><h3>{}</h3><p>{}</p><ol>",
            esc(&c.case),
            esc(c.error.as_deref().unwrap_or(&c.outcome_reason))
        );
        for r in &c.top {
            let _ = write!(
                out,
                "<li>{} <small>{} · score {:.2}{}</small></li>",
                esc(&r.entity),
                esc(if r.fault_type.is_empty() {
                    "unknown"
                } else {
                    &r.fault_type
                }),
                r.score,
                r.instance
                    .as_deref()
                    .map_or_else(String::new, |p| format!(" · {}", esc(p)))
            );
        }
        out.push_str("</ol></section>");
    }
}

//! The web incident timeline: server-rendered HTML pages over the stored investigations, for a
//! browser on the on-call laptop. No JavaScript, no external assets: the pages work air-gapped.
//!
//! | method and path | page |
//! |---|---|
//! | `GET /ui` | the incidents, newest first, each with its latest outcome |
//! | `GET /ui/incidents/{id}[?investigation=ID]` | one incident: outcome, a swimlane of the evidence over time (one lane per entity, the leading candidates first, the onset marked), the ranked candidates, the evidence in time order with the raw log lines frozen with the investigation, the verdicts, the other investigations |
//!
//! Log text is untrusted: every text is HTML-escaped, and each page is served with a
//! `Content-Security-Policy` that allows no script at all, so a log line that slipped through
//! would still not run.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use rootline_core::time::format_ns;
use rootline_core::{Evidence, Incident, Outcome, Report};
use rootline_store::Verdict;
use serde::Deserialize;

use crate::AppState;
use crate::error::ApiError;
use crate::routes::{Id, InvestigationSummary};
use crate::text::{escape_html as escape, truncate, url_component};

/// No script, no remote resource: styles are inline, the swimlane is inline SVG.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";
/// Incidents listed on `/ui`.
const LISTED_INCIDENTS: usize = 100;
/// Candidates shown in the table.
const SHOWN_CANDIDATES: usize = 10;
/// Lanes in the swimlane; the other entities' evidence is still listed below it.
const MAX_LANES: usize = 16;

pub(crate) fn html_page(title: &str, body: String) -> Response {
    let page = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style></head><body>{body}</body></html>\n",
        escape(title)
    );
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        page,
    )
        .into_response()
}

/// `GET /ui`.
pub(crate) async fn incidents_page(State(state): State<AppState>) -> Result<Response, ApiError> {
    let incidents = state.store.list_incidents().await?;
    let mut rows = Vec::new();
    for incident in incidents.iter().take(LISTED_INCIDENTS) {
        let latest = state.store.list_investigations(&incident.id).await?;
        rows.push((incident, latest.into_iter().next()));
    }
    Ok(html_page("rootline incidents", render_incidents(&rows)))
}

#[derive(Debug, Deserialize)]
pub(crate) struct PageQuery {
    investigation: Option<String>,
}

/// `GET /ui/incidents/{id}`.
pub(crate) async fn incident_page(
    State(state): State<AppState>,
    Id(id): Id,
    Query(query): Query<PageQuery>,
) -> Result<Response, ApiError> {
    let incident = state
        .store
        .get_incident(&id)
        .await?
        .ok_or_else(|| ApiError::NotFound(format!("no incident with id {id}")))?;
    let investigations: Vec<InvestigationSummary> = state
        .store
        .list_investigations(&id)
        .await?
        .into_iter()
        .map(Into::into)
        .collect();
    let chosen = match &query.investigation {
        Some(wanted) => Some(
            investigations
                .iter()
                .find(|s| &s.id == wanted)
                .ok_or_else(|| {
                    ApiError::NotFound(format!("incident {id} has no investigation {wanted}"))
                })?
                .id
                .clone(),
        ),
        None => investigations.first().map(|s| s.id.clone()),
    };
    let report = match &chosen {
        Some(inv) => state.store.get_investigation(inv).await?,
        None => None,
    };
    let verdicts = match (&report, state.store.governance()) {
        (Some(r), Some(g)) => g
            .list_verdicts(&r.investigation_id)
            .await
            .map_err(crate::verdicts::api_error)?,
        _ => Vec::new(),
    };
    let lines = match &report {
        Some(r) => state.store.evidence_lines(&r.investigation_id).await?,
        None => BTreeMap::new(),
    };
    let body = render_incident(
        &incident,
        &investigations,
        report.as_ref(),
        &verdicts,
        &lines,
    );
    Ok(html_page(&format!("{} · rootline", incident.title), body))
}

fn render_incidents(rows: &[(&Incident, Option<rootline_store::InvestigationSummary>)]) -> String {
    let mut out = String::from(
        "<header><h1>rootline incidents</h1><p><a href=\"/ui/eval\">how right were we</a></p>\
         <form method=\"post\" action=\"/ui/logout\">\
         <button type=\"submit\">Log out</button></form></header><main>",
    );
    if rows.is_empty() {
        out.push_str(
            "<p>No incidents yet. Run <code>rootline investigate</code> or \
             <code>/rootline investigate</code> in chat.</p>",
        );
    } else {
        out.push_str(
            "<table class=\"list\"><thead><tr><th>start (UTC)</th><th>incident</th>\
             <th>outcome</th><th>top candidate</th></tr></thead><tbody>",
        );
        for (incident, latest) in rows {
            let (outcome, top) = match latest {
                Some(s) => (s.outcome.replace('_', " "), s.top_entity.clone()),
                None => ("not investigated".to_owned(), None),
            };
            let _ = write!(
                out,
                "<tr><td>{}</td><td><a href=\"/ui/incidents/{}\">{}</a></td><td>{}</td><td>{}</td></tr>",
                incident.start.format("%Y-%m-%d %H:%M:%S"),
                url_component(&incident.id),
                escape(&incident.title),
                escape(&outcome),
                escape(top.as_deref().unwrap_or("")),
            );
        }
        out.push_str("</tbody></table>");
    }
    out.push_str("</main>");
    out
}

/// A stored RFC 3339 time as `2023-01-29 09:10:00 UTC`; anything else as it is.
fn display_time(stored: &str) -> String {
    DateTime::parse_from_rfc3339(stored).map_or_else(
        |_| stored.to_owned(),
        |t| {
            t.with_timezone(&Utc)
                .format("%Y-%m-%d %H:%M:%S UTC")
                .to_string()
        },
    )
}

/// `+1m05s` / `-2h03m` from the onset.
fn offset(ns: i64, onset_ns: i64) -> String {
    let d = ns - onset_ns;
    let sign = if d < 0 { '-' } else { '+' };
    let s = d.unsigned_abs() / 1_000_000_000;
    match s {
        s if s < 60 => format!("{sign}{s}s"),
        s if s < 3600 => format!("{sign}{}m{:02}s", s / 60, s % 60),
        s => format!("{sign}{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

fn render_incident(
    incident: &Incident,
    investigations: &[InvestigationSummary],
    report: Option<&Report>,
    verdicts: &[Verdict],
    lines: &BTreeMap<String, Vec<String>>,
) -> String {
    let mut out = String::new();
    let window_end = incident
        .end
        .map(|e| e.format("%Y-%m-%d %H:%M:%S").to_string())
        .unwrap_or_else(|| "open".into());
    let _ = write!(
        out,
        "<header><p class=\"crumb\"><a href=\"/ui\">incidents</a></p><h1>{}</h1>\
         <p class=\"meta\">{} to {} UTC",
        escape(&incident.title),
        incident.start.format("%Y-%m-%d %H:%M:%S"),
        window_end,
    );
    if !incident.services.is_empty() {
        let _ = write!(
            out,
            " · services: {}",
            escape(&incident.services.join(", "))
        );
    }
    out.push_str("</p>");
    if !incident.description.is_empty() {
        let _ = write!(out, "<p>{}</p>", escape(&incident.description));
    }
    out.push_str("</header><main>");
    let Some(report) = report else {
        out.push_str("<p>Not investigated yet.</p></main>");
        return out;
    };
    let onset_ns = incident.start.timestamp_nanos_opt().unwrap_or(0);
    let mut by_time: Vec<&Evidence> = report.evidence.iter().collect();
    by_time.sort_by(|a, b| (a.first_seen_ns, &a.id).cmp(&(b.first_seen_ns, &b.id)));
    render_outcome(&mut out, report);
    render_swimlane(&mut out, report, &by_time, onset_ns);
    render_candidates(&mut out, report);
    render_evidence(&mut out, &by_time, lines, onset_ns);
    render_verdicts(&mut out, verdicts);
    render_investigations(&mut out, incident, investigations, &report.investigation_id);
    out.push_str("</main>");
    out
}

fn render_outcome(out: &mut String, report: &Report) {
    let class = match report.outcome {
        Outcome::ProbableCause => "probable",
        Outcome::InsufficientEvidence => "insufficient",
        Outcome::NoIncidentDetected | Outcome::NoData => "quiet",
    };
    let headline = match (report.outcome, report.candidates.first()) {
        (Outcome::ProbableCause, Some(top)) => format!(
            "Probable root cause: {} ({})",
            escape(&top.entity),
            top.fault_type.as_str()
        ),
        (outcome, _) => escape(outcome.as_str()),
    };
    let _ = write!(
        out,
        "<section class=\"outcome {class}\" id=\"outcome\"><h2>{headline}</h2><p>{}</p>\
         <p class=\"meta\">investigation <code>{}</code> · {} · window {} records, baseline {} \
         records ({})</p></section>",
        escape(&report.outcome_reason),
        escape(&report.investigation_id),
        escape(&report.mode),
        report.stats.window_records,
        report.stats.baseline_records,
        escape(&baseline_windows(
            &report.stats.baseline_start,
            &report.stats.baseline_end
        )),
    );
}

/// The report lists several baseline windows as two comma-separated lists (starts, ends):
/// shown as `start to end` pairs.
fn baseline_windows(starts: &str, ends: &str) -> String {
    let starts: Vec<&str> = starts.split(", ").collect();
    let ends: Vec<&str> = ends.split(", ").collect();
    if starts.len() != ends.len() {
        return format!("{} to {}", starts.join(", "), ends.join(", "));
    }
    starts
        .iter()
        .zip(&ends)
        .map(|(s, e)| format!("{s} to {e}"))
        .collect::<Vec<_>>()
        .join("; ")
}

fn signal_class(e: &Evidence) -> &'static str {
    e.kind.signal()
}

/// One lane per entity (the candidates in rank order, then the rest by their first evidence),
/// each piece of evidence a dot at its first occurrence, its size its strength.
/// `by_time`: the report's evidence, earliest first.
fn render_swimlane(out: &mut String, report: &Report, by_time: &[&Evidence], onset_ns: i64) {
    if by_time.is_empty() {
        return;
    }
    let mut lanes: Vec<&str> = Vec::new();
    for c in &report.candidates {
        if !lanes.contains(&c.entity.as_str()) {
            lanes.push(&c.entity);
        }
    }
    for e in by_time {
        if !lanes.contains(&e.entity.as_str()) {
            lanes.push(&e.entity);
        }
    }
    lanes.truncate(MAX_LANES);
    let lo = by_time
        .first()
        .map_or(onset_ns, |e| e.first_seen_ns)
        .min(onset_ns);
    let hi = by_time
        .last()
        .map_or(onset_ns, |e| e.first_seen_ns)
        .max(onset_ns + 1);
    let (label_w, plot_w, lane_h) = (220.0, 760.0, 28.0);
    let height = lane_h * lanes.len() as f64 + 30.0;
    let x = |ns: i64| label_w + 10.0 + plot_w * (ns - lo) as f64 / (hi - lo) as f64;
    let _ = write!(
        out,
        "<section><h2>Timeline</h2><svg class=\"lanes\" role=\"img\" viewBox=\"0 0 {w} {height}\" \
         width=\"100%\" aria-label=\"evidence per entity over time\">",
        w = label_w + plot_w + 20.0
    );
    for (i, lane) in lanes.iter().enumerate() {
        let y = lane_h * i as f64 + lane_h / 2.0;
        let _ = write!(
            out,
            "<text class=\"lane\" x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\
             <line class=\"lane\" x1=\"{}\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\"/>",
            label_w,
            y + 4.0,
            escape(&truncate(lane, 30)),
            label_w + 10.0,
            label_w + 10.0 + plot_w,
        );
    }
    let onset_x = x(onset_ns);
    let bottom = lane_h * lanes.len() as f64;
    let _ = write!(
        out,
        "<line class=\"onset\" x1=\"{onset_x}\" y1=\"0\" x2=\"{onset_x}\" y2=\"{bottom}\"/>\
         <text class=\"axis\" x=\"{onset_x}\" y=\"{}\" text-anchor=\"middle\">onset {}</text>\
         <text class=\"axis\" x=\"{}\" y=\"{}\">{}</text><text class=\"axis\" x=\"{}\" y=\"{}\" \
         text-anchor=\"end\">{}</text>",
        bottom + 14.0,
        escape(&format_ns(onset_ns)[11..19]),
        label_w + 10.0,
        bottom + 28.0,
        offset(lo, onset_ns),
        label_w + 10.0 + plot_w,
        bottom + 28.0,
        offset(hi, onset_ns),
    );
    for e in by_time {
        let Some(lane) = lanes.iter().position(|l| *l == e.entity) else {
            continue;
        };
        let r = 3.0 + 6.0 * e.strength.clamp(0.0, 1.0);
        let _ = write!(
            out,
            "<a href=\"#{anchor}\"><circle class=\"ev {signal}\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"{r:.1}\">\
             <title>{} {}: {}</title></circle></a>",
            x(e.first_seen_ns),
            lane_h * lane as f64 + lane_h / 2.0,
            offset(e.first_seen_ns, onset_ns),
            escape(&e.entity),
            escape(&e.summary),
            anchor = evidence_anchor(&e.id),
            signal = signal_class(e),
        );
    }
    out.push_str(
        "</svg><p class=\"legend\"><span class=\"dot logs\"></span>logs \
         <span class=\"dot traces\"></span>traces <span class=\"dot metrics\"></span>metrics \
         <span class=\"dot changes\"></span>changes · a dot's size is its strength; the line is \
         the onset</p></section>",
    );
}

fn evidence_anchor(id: &str) -> String {
    format!("ev-{}", url_component(id))
}

fn render_candidates(out: &mut String, report: &Report) {
    if report.candidates.is_empty() {
        return;
    }
    out.push_str(
        "<section><h2>Candidates</h2><table class=\"candidates\"><thead><tr><th>#</th>\
         <th>entity</th><th>fault type</th><th>score</th><th>by signal</th><th>why</th>\
         <th>evidence</th></tr></thead><tbody>",
    );
    for (i, c) in report.candidates.iter().take(SHOWN_CANDIDATES).enumerate() {
        let by_signal: Vec<String> = c
            .score_by_signal
            .iter()
            .map(|(k, v)| format!("{} {v:.2}", escape(k)))
            .collect();
        let links: Vec<String> = c
            .evidence
            .iter()
            .map(|id| format!("<a href=\"#{}\">{}</a>", evidence_anchor(id), escape(id)))
            .collect();
        let mut entity = escape(&c.entity);
        if !c.instances.is_empty() {
            let _ = write!(
                entity,
                "<br><small>{}</small>",
                escape(&c.instances.join(", "))
            );
        }
        if !c.modules.is_empty() {
            let _ = write!(
                entity,
                "<br><small>{}</small>",
                escape(&c.modules.join(", "))
            );
        }
        let _ = write!(
            out,
            "<tr><td>{}</td><td class=\"entity\">{entity}</td><td>{}</td><td>{:.2}</td>\
             <td>{}</td><td>{}</td><td>{}</td></tr>",
            i + 1,
            c.fault_type.as_str(),
            c.score,
            by_signal.join("<br>"),
            escape(&c.why),
            links.join("<br>"),
        );
    }
    out.push_str("</tbody></table>");
    if report.candidates.len() > SHOWN_CANDIDATES {
        let _ = write!(
            out,
            "<p class=\"meta\">{} more candidate(s) in the JSON report.</p>",
            report.candidates.len() - SHOWN_CANDIDATES
        );
    }
    out.push_str("</section>");
}

fn render_evidence(
    out: &mut String,
    by_time: &[&Evidence],
    lines: &BTreeMap<String, Vec<String>>,
    onset_ns: i64,
) {
    if by_time.is_empty() {
        return;
    }
    out.push_str("<section><h2>Evidence, in time order</h2><ol class=\"evidence\">");
    for e in by_time {
        let _ = write!(
            out,
            "<li id=\"{}\" class=\"{}\"><span class=\"when\" title=\"{}\">{}</span> \
             <b>{}</b> <span class=\"kind\">{} · strength {:.2}</span><br>{}<br>\
             <code>{}</code>",
            evidence_anchor(&e.id),
            signal_class(e),
            format_ns(e.first_seen_ns),
            offset(e.first_seen_ns, onset_ns),
            escape(&e.entity),
            signal_class(e),
            e.strength,
            escape(&e.summary),
            escape(&e.id),
        );
        if !e.examples.is_empty() {
            let _ = write!(
                out,
                " <small>examples: {}</small>",
                escape(&e.examples.join(", "))
            );
        }
        if let Some(lines) = lines.get(&e.id) {
            let _ = write!(
                out,
                "<pre class=\"lines\">{}</pre>",
                escape(&lines.join("\n"))
            );
        }
        out.push_str("</li>");
    }
    out.push_str("</ol></section>");
}

fn render_verdicts(out: &mut String, verdicts: &[Verdict]) {
    out.push_str("<section><h2>Verdicts</h2>");
    if verdicts.is_empty() {
        out.push_str(
            "<p class=\"meta\">None yet: <code>rootline verdict add</code> or \
             <code>POST /api/v1/investigations/{id}/verdicts</code>.</p></section>",
        );
        return;
    }
    out.push_str("<ul class=\"verdicts\">");
    for v in &crate::verdicts::latest_per_target(verdicts) {
        let target = serde_json::to_value(&v.target)
            .map(|t| t.to_string())
            .unwrap_or_default();
        let _ = write!(
            out,
            "<li><b>{}</b> {} by {} at {} (version {})",
            escape(v.judgement.as_str()),
            escape(&target),
            escape(&v.author_name),
            escape(&display_time(&v.created_at)),
            v.version
        );
        for (label, value) in [
            ("real cause", &v.root_cause_service),
            ("entity", &v.root_cause_entity),
            ("fault type", &v.fault_type),
            ("fix", &v.fix),
            ("note", &v.note),
        ] {
            if let Some(value) = value {
                let _ = write!(out, "<br>{label}: {}", escape(value));
            }
        }
        out.push_str("</li>");
    }
    out.push_str("</ul></section>");
}

fn render_investigations(
    out: &mut String,
    incident: &Incident,
    investigations: &[InvestigationSummary],
    shown: &str,
) {
    if investigations.len() < 2 {
        return;
    }
    out.push_str("<section><h2>Investigations of this incident</h2><ul>");
    for s in investigations {
        let label = format!(
            "{} · {} · {}",
            display_time(&s.created_at),
            s.mode,
            s.outcome.replace('_', " ")
        );
        if s.id == shown {
            let _ = write!(out, "<li><b>{}</b> (shown)</li>", escape(&label));
        } else {
            let _ = write!(
                out,
                "<li><a href=\"/ui/incidents/{}?investigation={}\">{}</a></li>",
                url_component(&incident.id),
                url_component(&s.id),
                escape(&label)
            );
        }
    }
    out.push_str("</ul></section>");
}

const STYLE: &str = "body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1d2330;background:#fafbfc}\
header,main{max-width:1100px;margin:0 auto;padding:12px 20px}h1{font-size:22px;margin:4px 0}\
h2{font-size:17px;margin:18px 0 8px}.meta,.crumb{color:#5b6475;font-size:13px}\
table{border-collapse:collapse;width:100%;background:#fff}th,td{border:1px solid #e1e4ea;padding:5px 8px;vertical-align:top;text-align:left}\
.outcome{border-left:6px solid #8892a6;background:#fff;padding:6px 14px}.outcome.probable{border-color:#c0392b}\
.outcome.insufficient{border-color:#d68910}.outcome.quiet{border-color:#1e8449}\
svg.lanes{background:#fff;border:1px solid #e1e4ea}text.lane{font-size:12px;fill:#1d2330}\
text.axis{font-size:11px;fill:#5b6475}line.lane{stroke:#eceef2}line.onset{stroke:#c0392b;stroke-dasharray:4 3}\
circle.ev{fill-opacity:.75;stroke:#fff}.logs{fill:#2e86c1}.traces{fill:#8e44ad}.metrics{fill:#d68910}.changes{fill:#c0392b}\
.dot{display:inline-block;width:10px;height:10px;border-radius:5px;margin:0 3px 0 10px}\
span.dot.logs{background:#2e86c1}span.dot.traces{background:#8e44ad}span.dot.metrics{background:#d68910}span.dot.changes{background:#c0392b}\
ol.evidence li{background:#fff;margin:4px 0;padding:6px 8px;border:1px solid #e1e4ea}\
ol.evidence li:target{outline:2px solid #2e86c1}.when{font-family:monospace;color:#5b6475}.kind{color:#5b6475}\
code{font-size:12px}pre.lines{background:#f4f5f7;padding:6px;margin:6px 0 0;white-space:pre-wrap;word-break:break-all;font-size:12px}";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn baseline_windows_pair_up() {
        assert_eq!(
            baseline_windows("09:24:11Z, 08:48:16Z", "09:25:39Z, 08:51:04Z"),
            "09:24:11Z to 09:25:39Z; 08:48:16Z to 08:51:04Z"
        );
        assert_eq!(baseline_windows("a", "b"), "a to b");
    }

    #[test]
    fn offsets_read_like_a_pager() {
        let s = 1_000_000_000;
        assert_eq!(offset(42 * s, 0), "+42s");
        assert_eq!(offset(65 * s, 0), "+1m05s");
        assert_eq!(offset(0, 7260 * s), "-2h01m");
    }
}

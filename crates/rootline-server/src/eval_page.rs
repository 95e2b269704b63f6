//! `GET /ui/eval`: how right were we? The stored investigations scored against their latest
//! verdicts (the same numbers as `rootline eval --verdicts`): AC@1 and AC@3 per month of
//! judgement as bars, and every judged investigation linked to its timeline page. HTML with
//! inline SVG and no script, like the timeline; every text is escaped.

use std::fmt::Write as _;

use axum::extract::State;
use axum::response::Response;
use rootline_store::VerdictScores;

use crate::AppState;
use crate::error::ApiError;
use crate::text::{escape_html as escape, url_component};
use crate::timeline::html_page;
use crate::verdicts::{api_error, service};

/// `GET /ui/eval`.
pub(crate) async fn page(State(state): State<AppState>) -> Result<Response, ApiError> {
    let scores = service(&state)?.verdict_scores().await.map_err(api_error)?;
    Ok(html_page("rootline: how right were we", render(&scores)))
}

fn render(scores: &VerdictScores) -> String {
    let mut out = String::from(
        "<header><h1>How right were we</h1><p><a href=\"/ui\">incidents</a></p></header><main>",
    );
    if scores.all.n == 0 {
        out.push_str(
            "<p>No judged investigation yet. Verdicts come from the chat buttons, \
             <code>/rootline verdict</code>, <code>rootline verdict add</code> or the API.</p></main>",
        );
        return out;
    }
    let _ = write!(
        out,
        "<p>{} judged investigations: the root cause the verdicts name was the top candidate in \
         <strong>{:.2}</strong> (AC@1) and among the first three in <strong>{:.2}</strong> \
         (AC@3). A verdict that only rejects counts as a miss.</p>",
        scores.all.n,
        scores.all.ac1(),
        scores.all.ac3()
    );
    // One pair of bars per month.
    let (row, label, width) = (18.0, 70.0, 300.0);
    let height = 10.0 + scores.months.len() as f64 * 2.0 * row;
    let _ = write!(
        out,
        "<svg class=\"months\" width=\"{}\" height=\"{height}\" role=\"img\" aria-label=\"AC@1 and AC@3 per month\">",
        label + width + 60.0
    );
    let mut y = 5.0;
    for (month, r) in &scores.months {
        for (k, v, colour) in [(1, r.ac1(), "#2b6cb0"), (3, r.ac3(), "#90cdf4")] {
            let _ = write!(
                out,
                "<text x=\"0\" y=\"{}\" font-size=\"11\">{} AC@{k}</text>\
                 <rect class=\"month-bar\" x=\"{label}\" y=\"{y}\" width=\"{:.1}\" height=\"{}\" fill=\"{colour}\">\
                 <title>{}: AC@{k} {:.2} over {}</title></rect>\
                 <text x=\"{:.1}\" y=\"{}\" font-size=\"11\">{:.2} (n={})</text>",
                y + row - 5.0,
                escape(month),
                v * width,
                row - 4.0,
                escape(month),
                v,
                r.n,
                label + v * width + 4.0,
                y + row - 5.0,
                v,
                r.n
            );
            y += row;
        }
    }
    out.push_str(
        "</svg><table class=\"list\"><thead><tr><th>judged at</th><th>investigation</th>\
         <th>top candidate</th><th>root cause (verdict)</th><th>rank</th><th>by</th></tr></thead><tbody>",
    );
    for c in &scores.cases {
        let _ = write!(
            out,
            "<tr><td>{}</td><td><a href=\"/ui/incidents/{}?investigation={}\">{}</a></td>\
             <td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            escape(&c.judged_at),
            url_component(&c.incident_id),
            url_component(&c.investigation_id),
            escape(&c.investigation_id),
            escape(c.top.as_deref().unwrap_or("–")),
            escape(c.root_cause.as_deref().unwrap_or("rejected, none given")),
            c.rank.map_or("–".to_owned(), |r| r.to_string()),
            escape(&c.judged_by),
        );
    }
    out.push_str("</tbody></table></main>");
    out
}

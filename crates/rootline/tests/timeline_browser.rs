//! The web incident timeline in a real browser: the bundled Nezha incident, with one hostile log
//! line added to its window, is investigated by the engine and stored with its frozen evidence
//! (`src/live_investigate.rs`, included below); headless Chromium loads
//! the incident's page from the server on a real port, and the DOM it built is checked. Skips
//! with a message when no Chromium is installed (`scripts/test.sh` installs Debian's).

#[path = "support/browser.rs"]
mod browser;
#[path = "../src/live_ingest.rs"]
#[allow(dead_code)]
mod live_ingest;
#[path = "../src/live_investigate.rs"]
#[allow(dead_code)]
mod live_investigate;
#[path = "../src/prom_pull.rs"]
mod prom_pull;

use std::path::Path;

use browser::{chromium_or_skip, copy_dir, dump_dom};
use std::sync::Arc;

use rootline_agent::EngineConfig;
use rootline_agent::bundle::Bundle;
use rootline_server::{AppState, Application};
use rootline_store::Store;

/// A script that would retitle the page if it ran.
const HOSTILE: &str =
    "<script>document.title='pwned'</script><img src=x onerror=\"document.title='pwned'\">";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn incident_page_renders_the_real_investigation_and_runs_no_log_text() {
    let Some(browser) = chromium_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let demo =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../eval/demo/nezha-tt-2023-01-29-0925");
    let bundle_dir = dir.path().join("bundle");
    copy_dir(&demo, &bundle_dir);
    // A warning inside the incident window whose text is markup.
    let hostile = serde_json::json!({
        "log": format!("17:26:40.000 WARN  u.d.Gateway#12 rejected request {HOSTILE}"),
        "pod": "ts-ui-dashboard-6d5b7f9c8-abcde",
        "node": "33.33.33.115",
        "time_unix_nano": 1_674_984_400_000_000_000i64,
    });
    std::fs::write(
        bundle_dir.join("logs/zz_hostile.jsonl"),
        format!("{hostile}\n"),
    )
    .unwrap();

    let bundle = Bundle::load(&bundle_dir).unwrap();
    let scratch = dir.path().join("scratch");
    std::fs::create_dir_all(&scratch).unwrap();
    let (mut report, _) =
        rootline_agent::investigate_bundle(&bundle, &scratch, EngineConfig::default())
            .await
            .unwrap();
    assert!(
        report
            .evidence
            .iter()
            .any(|e| e.summary.contains("<script>")),
        "the hostile line should be evidence: {:#?}",
        report
            .evidence
            .iter()
            .map(|e| &e.summary)
            .collect::<Vec<_>>()
    );
    let url = format!("sqlite://{}", dir.path().join("rootline.db").display());
    let store = Store::connect(&url).await.unwrap();
    // Stored as `rootline investigate` stores it: with the frozen evidence and its raw lines.
    let logs = Arc::new(rootline_index::LogIndex::open(&scratch.join("index")).unwrap());
    let context = rootline_agent::packed_context(&report, &logs, 8_000);
    live_investigate::persist_investigation(&store, &mut report, &context)
        .await
        .unwrap();

    // The browser signs in as `rootline serve` tells a fresh data dir's admin to: a one-time
    // link, here straight to the incident's page.
    store
        .add_user("oncall", rootline_actions::Role::Viewer, "test")
        .await
        .unwrap();
    let state = AppState::new(store);
    let code = state.login_code("oncall");
    let app = Application::build("127.0.0.1:0", state).await.unwrap();
    let addr = app.local_addr().unwrap();
    tokio::spawn(app.run_until(std::future::pending()));

    let page = format!(
        "http://{addr}/ui/login?code={code}&next=%2Fui%2Fincidents%2F{}",
        report.incident.id
    );
    let profile = dir.path().join("chromium-profile");
    let dom = tokio::task::spawn_blocking(move || dump_dom(&browser, &page, &profile))
        .await
        .unwrap();
    assert!(dom.contains("<svg"), "no page rendered: {dom}");

    // The title is the incident's: neither the script nor the image handler ran.
    let title = dom
        .split("<title>")
        .nth(1)
        .and_then(|t| t.split("</title>").next())
        .unwrap();
    assert_eq!(title, format!("{} · rootline", report.incident.title));
    assert!(!dom.contains("<script") && !dom.contains("<img"), "{dom}");
    assert!(dom.contains("&lt;script&gt;document.title="), "{dom}");

    // The known root cause heads the candidates table, as it heads the report.
    let truth: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(demo.join("truth.json")).unwrap()).unwrap();
    let first_row = dom
        .split("<table class=\"candidates\">")
        .nth(1)
        .and_then(|t| t.split("<td class=\"entity\">").nth(1))
        .unwrap();
    assert!(
        first_row.starts_with(truth["root_cause_service"].as_str().unwrap()),
        "{first_row}"
    );
    // Every piece of evidence is in the list, and each on a lane has its dot.
    assert_eq!(
        dom.matches("<li id=\"ev-").count(),
        report.evidence.len(),
        "{dom}"
    );
    // The raw lines of the evidence show under it; the hostile one as text.
    assert!(dom.matches("<pre class=\"lines\">").count() >= 2, "{dom}");
    let hostile_item = dom
        .split("<li id=\"ev-")
        .skip(1)
        .find(|item| item.contains("rejected request"))
        .unwrap_or_else(|| panic!("no hostile evidence item: {dom}"));
    assert!(
        hostile_item.contains(
            "<pre class=\"lines\">17:26:40.000 WARN  u.d.Gateway#12 rejected request &lt;script&gt;"
        ),
        "{hostile_item}"
    );
    let dots = dom.matches("<circle").count();
    assert!(dots > 0 && dots <= report.evidence.len(), "{dots} dots");
}

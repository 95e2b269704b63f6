//! The evaluation report in a real browser: `rootline eval --jitter 0,30 --html` over the bundled
//! Nezha incident, copied under a case name that is an HTML tag with a script handler, is loaded
//! in headless Chromium; the DOM must hold every chart (the AC@k bars for engine and naive, the
//! jitter curve, the reliability diagram), the per-case table linking to the case's candidates,
//! and the hostile name as text, with the page title untouched (no script ran). Skips with a
//! message when no Chromium is installed (`scripts/test.sh` installs Debian's).

#[path = "support/browser.rs"]
mod browser;

use std::path::Path;
use std::process::Command;

use browser::{chromium_or_skip, copy_dir, dump_dom};

/// A case name that would retitle the page if it were markup.
const HOSTILE: &str = "demo <img src=x onerror=document.title=1>";

#[test]
fn the_html_report_renders_every_chart_and_runs_no_case_text() {
    let Some(browser) = chromium_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let demo =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../eval/demo/nezha-tt-2023-01-29-0925");
    let bundles = dir.path().join("bundles");
    copy_dir(&demo, &bundles.join(HOSTILE));
    let page = dir.path().join("report.html");
    let out = Command::new(env!("CARGO_BIN_EXE_rootline"))
        .args(["eval"])
        .arg(&bundles)
        .args(["--jitter", "0,30", "--json", "--html"])
        .arg(&page)
        .env("ROOTLINE_DATA_DIR", dir.path())
        .env_remove("ROOTLINE_DATABASE_URL")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let top_right = report["cases"][0]["ranks"]["service"] == 1;

    let dom = dump_dom(
        &browser,
        &format!("file://{}", page.display()),
        &dir.path().join("profile"),
    );
    let title = dom
        .split("<title>")
        .nth(1)
        .and_then(|t| t.split("</title>").next())
        .unwrap_or_else(|| panic!("no page rendered: {dom}"));
    assert!(title.starts_with("rootline evaluation"), "{title}");
    // Charts.
    for needle in [
        "<svg class=\"bars\"",
        "class=\"bar engine\" data-level=\"service\" data-k=\"1\"",
        "class=\"bar naive\" data-level=\"service\" data-k=\"1\"",
        "<svg class=\"jitter\"",
        "class=\"jitter-line\"",
        "<svg class=\"reliability\"",
        "class=\"diagonal\"",
    ] {
        assert!(dom.contains(needle), "{needle} missing from\n{dom}");
    }
    // Two jitter points (0 and +30), one reliability bin for the one case.
    assert_eq!(dom.matches("class=\"jitter-point\"").count(), 2, "{dom}");
    assert_eq!(dom.matches("class=\"bin\"").count(), 1, "{dom}");
    // The case row links to its candidates, and says whether the top was right.
    assert!(dom.contains("<a href=\"#case-0\">"), "{dom}");
    assert!(dom.contains("id=\"case-0\""), "{dom}");
    assert_eq!(dom.contains("<td class=\"hit\">1</td>"), top_right, "{dom}");
    // The hostile case name is text, never an element.
    assert!(
        dom.contains("demo &lt;img src=x onerror=document.title=1&gt;"),
        "{dom}"
    );
    assert!(!dom.contains("<img"), "{dom}");
}

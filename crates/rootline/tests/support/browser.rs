//! Shared by the tests that load rootline's pages in a real browser (the timeline, the
//! evaluation report): Debian's Chromium when installed, a directory copy, and the DOM headless
//! Chromium built from a URL (after any script would have run).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// Chromium: `ROOTLINE_CHROMIUM`, else Debian's; `None` when not installed.
fn chromium() -> Option<PathBuf> {
    let candidates = [
        std::env::var("ROOTLINE_CHROMIUM").ok(),
        Some("/usr/bin/chromium".into()),
        Some("/usr/bin/chromium-browser".into()),
    ];
    candidates
        .into_iter()
        .flatten()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

/// [`chromium`], or `None` after saying why the browser test is skipped.
pub fn chromium_or_skip() -> Option<PathBuf> {
    let found = chromium();
    if found.is_none() {
        eprintln!(
            "skipping the browser test: no Chromium (install Debian's `chromium`, or set \
             ROOTLINE_CHROMIUM)"
        );
    }
    found
}

/// Copies a directory tree.
#[allow(dead_code)]
pub fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Loads `url` in headless Chromium and returns the DOM after parsing (and any script).
pub fn dump_dom(browser: &Path, url: &str, profile: &Path) -> String {
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--no-first-run",
            "--virtual-time-budget=2000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(["--dump-dom", url])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start chromium");
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "chromium did not finish in 90 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

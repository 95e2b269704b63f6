//! Architecture invariant: nothing on the model path can reach an executor. `rootline-llm` must
//! not depend on this crate, directly or through any internal crate it depends on.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn crates_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Internal (`rootline*`) crates named in a manifest's `[dependencies]` (not dev-dependencies).
fn internal_deps(krate: &str) -> Vec<String> {
    let manifest = crates_dir().join(krate).join("Cargo.toml");
    let text = std::fs::read_to_string(&manifest)
        .unwrap_or_else(|e| panic!("read {}: {e}", manifest.display()));
    let mut in_deps = false;
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_deps = line == "[dependencies]";
            continue;
        }
        if in_deps
            && line.starts_with("rootline")
            && let Some(name) = line.split(['=', ' ', '.']).next()
        {
            out.push(name.trim().to_owned());
        }
    }
    out
}

fn reachable(from: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut todo = vec![from.to_owned()];
    while let Some(k) = todo.pop() {
        for d in internal_deps(&k) {
            if seen.insert(d.clone()) {
                todo.push(d);
            }
        }
    }
    seen
}

#[test]
fn the_llm_crate_cannot_reach_executors() {
    let deps = reachable("rootline-llm");
    assert!(
        !deps.contains("rootline-actions"),
        "rootline-llm reaches rootline-actions through {deps:?}"
    );
}

#[test]
fn the_dependency_walk_sees_real_edges() {
    // Guards the check above against a parser that finds nothing.
    assert!(reachable("rootline-server").contains("rootline-core"));
}

//! The codemap's invariants (ARCHITECTURE.md), checked on the manifests rather than only
//! stated: which crate may use which IO technology, and which internal crate may reach which.
//! Reads every `crates/*/Cargo.toml` `[dependencies]` table (dev-dependencies may differ: tests
//! start real databases and servers).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn crates_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Crate name → the names in its `[dependencies]` table.
fn manifests() -> BTreeMap<String, BTreeSet<String>> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(crates_dir()).unwrap() {
        let dir = entry.unwrap().path();
        let manifest = dir.join("Cargo.toml");
        let Ok(text) = std::fs::read_to_string(&manifest) else {
            continue;
        };
        let mut deps = BTreeSet::new();
        let mut in_deps = false;
        for line in text.lines() {
            let line = line.trim();
            if line.starts_with('[') {
                in_deps = line == "[dependencies]";
                continue;
            }
            if in_deps
                && !line.is_empty()
                && !line.starts_with('#')
                && let Some(name) = line.split(['=', ' ', '.']).next()
            {
                deps.insert(name.trim().to_string());
            }
        }
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        out.insert(name, deps);
    }
    out
}

fn reachable(all: &BTreeMap<String, BTreeSet<String>>, from: &str) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let mut todo = vec![from.to_string()];
    while let Some(k) = todo.pop() {
        for d in all.get(&k).into_iter().flatten() {
            if d.starts_with("rootline") && seen.insert(d.clone()) {
                todo.push(d.clone());
            }
        }
    }
    seen
}

const IO: [&str; 7] = [
    "tokio",
    "tantivy",
    "sqlx",
    "axum",
    "async-openai",
    "reqwest",
    "kube",
];

#[test]
fn the_pure_crates_do_no_io() {
    let all = manifests();
    for pure in [
        "rootline-core",
        "rootline-signals",
        "rootline-templates",
        "rootline-config",
        "rootline-ingest",
    ] {
        let deps = &all[pure];
        for io in IO {
            assert!(!deps.contains(io), "{pure} depends on {io}");
        }
    }
    let core_internal: Vec<_> = all["rootline-core"]
        .iter()
        .filter(|d| d.starts_with("rootline"))
        .collect();
    assert!(
        core_internal.is_empty(),
        "core depends on {core_internal:?}"
    );
}

#[test]
fn each_io_technology_has_one_crate() {
    let all = manifests();
    for (tech, owner) in [
        ("tantivy", "rootline-index"),
        ("sqlx", "rootline-store"),
        ("async-openai", "rootline-llm"),
        ("axum", "rootline-server"),
        ("kube", "rootline-kube"),
        ("k8s-openapi", "rootline-kube"),
    ] {
        let users: Vec<&String> = all
            .iter()
            .filter(|(_, deps)| deps.contains(tech))
            .map(|(k, _)| k)
            .collect();
        assert_eq!(users, [owner], "{tech} is a dependency of {users:?}");
    }
}

#[test]
fn dependencies_point_one_way() {
    let all = manifests();
    assert!(
        !reachable(&all, "rootline-server").contains("rootline-agent"),
        "the server must not depend on the agent (it gets it behind service traits)"
    );
    let signals = reachable(&all, "rootline-signals");
    for io_crate in ["rootline-index", "rootline-store", "rootline-llm"] {
        assert!(!signals.contains(io_crate), "signals reaches {io_crate}");
    }
    assert!(
        !reachable(&all, "rootline-llm").contains("rootline-actions"),
        "the model path must not reach executors"
    );
    // The Kubernetes client only reads the cluster and hands out objects: it reaches none of
    // the analysis, the indexes or the store, and only the binary uses it.
    assert!(
        reachable(&all, "rootline-kube").is_empty(),
        "rootline-kube depends on {:?}",
        reachable(&all, "rootline-kube")
    );
    let kube_users: Vec<&String> = all
        .iter()
        .filter(|(_, deps)| deps.contains("rootline-kube"))
        .map(|(k, _)| k)
        .collect();
    assert_eq!(
        kube_users,
        ["rootline"],
        "rootline-kube is used by {kube_users:?}"
    );
    // The Prometheus query client reads a remote API into core types: it reaches core and the
    // pure parsers (for the one label-to-entity rule), never the indexes, the store or the
    // analysis, and only the binary uses it.
    let prom = reachable(&all, "rootline-prom");
    for forbidden in [
        "rootline-index",
        "rootline-store",
        "rootline-signals",
        "rootline-agent",
        "rootline-server",
        "rootline-llm",
    ] {
        assert!(
            !prom.contains(forbidden),
            "rootline-prom reaches {forbidden}"
        );
    }
    assert!(prom.contains("rootline-core"), "{prom:?}");
    let prom_users: Vec<&String> = all
        .iter()
        .filter(|(_, deps)| deps.contains("rootline-prom"))
        .map(|(k, _)| k)
        .collect();
    assert_eq!(
        prom_users,
        ["rootline"],
        "rootline-prom is used by {prom_users:?}"
    );
    // Guards the checks against a parser that finds nothing.
    assert!(reachable(&all, "rootline").contains("rootline-core"));
    assert!(all["rootline-index"].contains("tantivy"));
}

/// Authentication lives in one place: no server module but `auth.rs` reads a request's
/// `Authorization` header or cookies, or decides a credential (the slash command's own
/// signature check is the one other gate, and it reads neither).
#[test]
fn only_the_auth_module_reads_credentials() {
    let src = crates_dir().join("rootline-server/src");
    let mut readers = Vec::new();
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name == "auth.rs" || path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        for needle in [
            "header::AUTHORIZATION",
            "header::COOKIE",
            "\"authorization\"",
            "\"cookie\"",
            ".credential(",
        ] {
            if text.contains(needle) {
                readers.push(format!("{name}: {needle}"));
            }
        }
    }
    assert!(
        readers.is_empty(),
        "credentials read outside auth.rs: {readers:?}"
    );
}

//! What every investigation leaves in the store, driven through the real binary on the bundled
//! demo incident with a real SQLite store:
//!
//! - a verdict on it exports as a bundle that `rootline eval` scores with the verdict as truth;
//! - `investigate --replay` re-asks another model (a scripted local OpenAI-compatible server) on
//!   the frozen evidence only, stores the new run linked to the original and prints the diff;
//! - replaying an unknown investigation, or one without a snapshot, fails clearly.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{ScriptedModel, repo_root};
use rootline_store::Store;
use serde_json::{Value, json};

fn demo_bundle() -> PathBuf {
    repo_root().join("eval/demo/nezha-tt-2023-01-29-0925")
}

async fn run(data_dir: &Path, args: &[&str]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_rootline"))
        .args(args)
        .env("ROOTLINE_DATA_DIR", data_dir)
        .env_remove("ROOTLINE_DATABASE_URL")
        .env_remove("ROOTLINE_CONFIG")
        .env_remove("ROOTLINE_TOKEN")
        .current_dir(data_dir)
        .output()
        .await
        .expect("run rootline")
}

async fn ok(data_dir: &Path, args: &[&str]) -> String {
    let out = run(data_dir, args).await;
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

async fn ok_json(data_dir: &Path, args: &[&str]) -> Value {
    let text = ok(data_dir, args).await;
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{args:?}: {e}: {text}"))
}

async fn store(data_dir: &Path) -> Store {
    Store::connect(&format!(
        "sqlite://{}",
        data_dir.join("rootline.db").display()
    ))
    .await
    .unwrap()
}

/// A responder's API token, made through the CLI.
async fn responder_token(data_dir: &Path) -> String {
    ok(data_dir, &["user", "add", "alice", "--role", "responder"]).await;
    ok(data_dir, &["token", "create", "alice"])
        .await
        .trim()
        .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_exported_verdict_bundle_is_evaluated_by_rootline_eval() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let bundle = demo_bundle();
    let report = ok_json(
        data,
        &["investigate", bundle.to_str().unwrap(), "--format", "json"],
    )
    .await;
    let id = report["investigation_id"].as_str().unwrap();
    let top = report["candidates"][0]["entity"].as_str().unwrap();

    // Everything a replay needs was frozen with it.
    let s = store(data).await;
    let incident_id = report["incident"]["id"].as_str().unwrap();
    assert!(s.get_incident(incident_id).await.unwrap().is_some());
    let snapshot = s.get_evidence_snapshot(id).await.unwrap().unwrap();
    assert_eq!(snapshot.body["candidates"], report["candidates"]);
    assert_eq!(snapshot.body["evidence"], report["evidence"]);
    let items = snapshot.body["context"]["items"].as_array().unwrap();
    assert!(!items.is_empty());
    assert!(
        items
            .iter()
            .any(|i| !i["lines"].as_array().unwrap().is_empty()),
        "raw example lines are frozen with the context: {items:?}"
    );
    s.close().await;

    // Without a model a replay re-runs nothing and shows the stored report.
    let out = run(data, &["investigate", "--replay", id, "--format", "json"]).await;
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("nothing was re-run"));
    let shown: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(shown["investigation_id"], id);

    let token = responder_token(data).await;
    let target = format!("candidate:{top}");
    ok(
        data,
        &[
            "verdict",
            "add",
            id,
            "--target",
            &target,
            "--judgement",
            "accepted",
            "--fix",
            "rolled back",
            "--token",
            &token,
        ],
    )
    .await;

    let export = dir.path().join("export");
    let data_root = bundle.parent().unwrap();
    let summary = ok_json(
        data,
        &[
            "eval",
            "export",
            "--out",
            export.to_str().unwrap(),
            "--data-root",
            data_root.to_str().unwrap(),
            "--json",
        ],
    )
    .await;
    let exported = summary["exported"].as_array().unwrap();
    assert_eq!(exported.len(), 1, "{summary}");
    assert_eq!(exported[0]["truth"]["root_cause_service"], top);
    let case_dir = PathBuf::from(exported[0]["dir"].as_str().unwrap());
    for sub in ["logs", "traces", "metrics"] {
        assert!(case_dir.join(sub).is_dir(), "{sub} copied from the bundle");
    }
    let evidence: Value =
        serde_json::from_str(&std::fs::read_to_string(case_dir.join("evidence.json")).unwrap())
            .unwrap();
    assert_eq!(evidence["frozen"], true);

    let eval = ok_json(data, &["eval", export.to_str().unwrap(), "--json"]).await;
    let cases = eval["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 1, "{eval}");
    assert_eq!(cases[0]["source"], "verdict");
    assert_eq!(cases[0]["error"], Value::Null);
    assert_eq!(cases[0]["truth"]["root_cause_service"], top);
    assert_eq!(cases[0]["ranks"]["service"], 1, "{}", cases[0]);
    let summary = eval["summaries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["source"] == "verdict")
        .unwrap_or_else(|| panic!("a verdict summary: {eval}"));
    assert_eq!(summary["levels"]["service"]["n"], 1);
    assert_eq!(summary["levels"]["service"]["ac"][0], 1.0, "AC@1 {summary}");
}

/// Answers by the requested model: `model-a` blames ts-basic-service (E1), anything else blames
/// ts-preserve-service (E2). Both are grounded in the demo's packed evidence.
fn by_model(request: &Value) -> String {
    let hypothesis = if request["model"] == "model-a" {
        json!({
            "cause": "ts-basic-service throws while querying prices",
            "entity": "ts-basic-service",
            "fault_type": "exception",
            "confidence": 0.7,
            "evidence_ids": ["E1"],
            "reasoning": "E1 is a new error message",
            "fixes": [],
            "would_confirm": "the exception stops"
        })
    } else {
        json!({
            "cause": "ts-preserve-service became slow",
            "entity": "ts-preserve-service",
            "fault_type": "latency",
            "confidence": 0.6,
            "evidence_ids": ["E2"],
            "reasoning": "E2 shows its client latency rising",
            "fixes": [],
            "would_confirm": "latency returns to the baseline"
        })
    };
    json!({"hypotheses": [hypothesis], "searches": []}).to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn replay_with_another_model_reruns_only_the_model_on_frozen_evidence() {
    let model = ScriptedModel::start(by_model).await;
    let base = model.base_url.clone();

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let bundle = demo_bundle();
    let first = ok_json(
        data,
        &[
            "investigate",
            bundle.to_str().unwrap(),
            "--llm",
            "--llm-base-url",
            &base,
            "--llm-model",
            "model-a",
            "--format",
            "json",
        ],
    )
    .await;
    assert_eq!(first["mode"], "llm", "{}", first["llm"]);
    let id = first["investigation_id"].as_str().unwrap().to_string();
    let hyp = &first["hypotheses"][0];
    assert_eq!(hyp["entity"], "ts-basic-service");
    let hyp_id = hyp["id"].as_str().unwrap().to_string();

    // The stored hypothesis is a verdict target, and the snapshot records model and prompt.
    let s = store(data).await;
    let rows = s.list_hypotheses(&id).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].id, hyp_id);
    assert_eq!(rows[0].entity, "ts-basic-service");
    assert_eq!(rows[0].source, "model");
    let snapshot = s.get_evidence_snapshot(&id).await.unwrap().unwrap();
    assert_eq!(snapshot.body["llm"]["model"], "model-a");
    assert_eq!(snapshot.body["llm"]["prompt"]["name"], "hypotheses");
    let token = responder_token(data).await;
    let target = format!("hypothesis:{hyp_id}");
    ok(
        data,
        &[
            "verdict",
            "add",
            &id,
            "--target",
            &target,
            "--judgement",
            "rejected",
            "--token",
            &token,
        ],
    )
    .await;

    // The replay names no bundle: it reads the frozen snapshot only.
    let out = ok_json(
        data,
        &[
            "investigate",
            "--replay",
            &id,
            "--llm",
            "--llm-base-url",
            &base,
            "--llm-model",
            "model-b",
            "--format",
            "json",
        ],
    )
    .await;
    let diff = &out["diff"];
    assert_eq!(diff["original"], id.as_str());
    assert_eq!(diff["model_before"], "model-a");
    assert_eq!(diff["model_after"], "model-b");
    assert_eq!(diff["prompt_before"], diff["prompt_after"]);
    assert_eq!(diff["candidates_unchanged"], true);
    let entities = |key: &str| -> Vec<String> {
        diff[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| h["entity"].as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(entities("dropped"), ["ts-basic-service"], "{diff}");
    assert_eq!(entities("added"), ["ts-preserve-service"], "{diff}");
    let replay = &out["replay"];
    let replay_id = replay["investigation_id"].as_str().unwrap().to_string();
    assert_ne!(replay_id, id);
    assert_eq!(replay["llm"]["replay_of"], id.as_str());
    assert_eq!(replay["llm"]["snapshot_sha256"], snapshot.content_hash);
    assert_eq!(replay["candidates"], first["candidates"]);
    assert_eq!(replay["evidence"], first["evidence"]);

    // What model-b was shown is the frozen context: the same evidence text as model-a's request.
    let received = model.received();
    assert_eq!(received.len(), 2);
    assert_eq!(received[1]["model"], "model-b");
    assert_eq!(received[0]["messages"], received[1]["messages"]);

    // Both are stored, linked, and the replay's hypothesis is a verdict target too.
    assert!(s.get_investigation(&id).await.unwrap().is_some());
    let stored = s.get_investigation(&replay_id).await.unwrap().unwrap();
    assert_eq!(stored.hypotheses[0]["entity"], "ts-preserve-service");
    let link = s.replay_link(&replay_id).await.unwrap().unwrap();
    assert_eq!(link.replay_of, id);
    assert_eq!(link.snapshot_hash, snapshot.content_hash);
    assert_eq!(s.list_replays(&id).await.unwrap().len(), 1);
    assert!(s.replay_link(&id).await.unwrap().is_none());
    let rows = s.list_hypotheses(&replay_id).await.unwrap();
    assert_eq!(rows[0].entity, "ts-preserve-service");
    assert!(s.get_evidence_snapshot(&replay_id).await.unwrap().is_some());
    s.close().await;

    // The text diff, for a person, with another prompt version from --prompts-dir.
    let prompts = dir.path().join("prompts");
    std::fs::create_dir_all(&prompts).unwrap();
    std::fs::copy(
        repo_root().join("prompts/hypotheses.v2.md.j2"),
        prompts.join("hypotheses.v3.md.j2"),
    )
    .unwrap();
    let text = ok(
        data,
        &[
            "investigate",
            "--replay",
            &id,
            "--llm",
            "--llm-base-url",
            &base,
            "--llm-model",
            "model-b",
            "--prompts-dir",
            prompts.to_str().unwrap(),
        ],
    )
    .await;
    assert!(text.contains("model: model-a -> model-b"), "{text}");
    assert!(text.contains("prompt: hypotheses v2 ("), "{text}");
    assert!(text.contains("-> hypotheses v3 ("), "{text}");
    assert!(
        text.contains("dropped: ts-basic-service (exception)"),
        "{text}"
    );
    assert!(
        text.contains("added: ts-preserve-service (latency)"),
        "{text}"
    );
    assert!(text.contains("candidates: unchanged"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn replay_of_an_unknown_or_unfrozen_investigation_fails_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let out = run(
        data,
        &["investigate", "--replay", "no-such-investigation", "--llm"],
    )
    .await;
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no investigation with id no-such-investigation"),
        "{err}"
    );

    // An investigation stored without a snapshot (as the HTTP API or an older rootline did).
    let s = store(data).await;
    let report: rootline_core::Report = serde_json::from_value(json!({
        "investigation_id": "inv-old",
        "created_at": "2023-01-29T09:00:00Z",
        "incident": {"id": "inc-1", "title": "checkout errors", "start": "2023-01-29T08:43:00Z"},
        "mode": "offline",
        "outcome": "no_data",
        "stats": {
            "window_start": "a", "window_end": "b", "baseline_start": "c", "baseline_end": "d",
            "window_records": 0, "baseline_records": 0, "services_seen": 0,
        },
        "candidates": [],
        "evidence": [],
    }))
    .unwrap();
    s.save_investigation(&report).await.unwrap();
    s.close().await;
    let out = run(data, &["investigate", "--replay", "inv-old"]).await;
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("investigation inv-old has no frozen evidence snapshot"),
        "{err}"
    );

    // A replay takes no bundle or window: clap refuses the mix.
    let out = run(data, &["investigate", "some/bundle", "--replay", "inv-old"]).await;
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot be used with"));
}

//! The demo incident investigated end to end through a scripted local OpenAI-compatible server:
//! the real binary, the real HTTP client, grounding checked in code.

mod common;
#[path = "support/process.rs"]
mod process;

use std::path::Path;
use std::process::Output;

use common::{ScriptedModel, repo_root};

/// Answers every chat completion with two hypotheses: one grounded in E1, one citing an id that
/// was never shown.
fn two_hypotheses(_request: &serde_json::Value) -> String {
    serde_json::json!({
        "hypotheses": [
            {
                "cause": "ts-basic-service throws while querying prices",
                "entity": "ts-basic-service",
                "fault_type": "exception",
                "confidence": 0.99,
                "evidence_ids": ["E1"],
                "reasoning": "E1 shows \"[queryForTravel][catch price exception]\" appearing only in the window",
                "fixes": [{"action": "roll back ts-basic-service", "risk": "medium", "verify": "E1 stops"}],
                "would_confirm": "the exception stops after the rollback"
            },
            {
                "cause": "the database is down",
                "entity": "ts-db",
                "fault_type": "unknown",
                "confidence": 0.9,
                "evidence_ids": ["E99"],
                "reasoning": "invented",
                "fixes": [],
                "would_confirm": ""
            }
        ],
        "searches": []
    })
    .to_string()
}

async fn run(data_dir: &Path, args: Vec<String>) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_rootline"))
        .args(args)
        .env("ROOTLINE_DATA_DIR", data_dir)
        .env("ROOTLINE_TEST_LLM_KEY", "sk-test-0123456789abcdef")
        .env_remove("ROOTLINE_DATABASE_URL")
        .env_remove("ROOTLINE_CONFIG")
        .current_dir(data_dir)
        .output()
        .await
        .expect("run rootline")
}

#[tokio::test(flavor = "multi_thread")]
async fn demo_incident_through_a_scripted_model_keeps_only_grounded_hypotheses() {
    let model = ScriptedModel::start(two_hypotheses).await;

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("rootline.toml"),
        "[llm]\napi_key_env = \"ROOTLINE_TEST_LLM_KEY\"\n",
    )
    .unwrap();
    let bundle = repo_root().join("eval/demo/nezha-tt-2023-01-29-0925");
    let base = model.base_url.clone();
    let args: Vec<String> = [
        "investigate",
        bundle.to_str().unwrap(),
        "--llm",
        "--llm-base-url",
        &base,
        "--llm-model",
        "scripted",
        "--format",
        "json",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let out = run(dir.path(), args).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["mode"], "llm");
    // The offline ranking is kept next to the hypotheses.
    assert_eq!(report["candidates"][0]["entity"], "ts-basic-service");
    let kept = report["hypotheses"].as_array().unwrap();
    assert_eq!(kept.len(), 1, "{kept:?}");
    assert_eq!(kept[0]["entity"], "ts-basic-service");
    assert_eq!(kept[0]["grounded"], true);
    // Confidence is capped by the strength of the cited evidence.
    assert!(kept[0]["confidence"].as_f64().unwrap() < 0.99);
    let dropped = report["rejected_hypotheses"].as_array().unwrap();
    assert_eq!(dropped.len(), 1);
    assert!(
        dropped[0]["reason"].as_str().unwrap().contains("E99"),
        "{dropped:?}"
    );
    assert_eq!(report["llm"]["usage"]["prompt_tokens"], 1000);

    // What left the process: the evidence with its ids, and never the API key.
    let received = model.received();
    assert_eq!(received.len(), 1);
    let sent = received[0].to_string();
    assert!(
        sent.contains("\"id\":\"E1\"") || sent.contains("\\\"id\\\":\\\"E1\\\""),
        "{sent}"
    );
    assert!(!sent.contains("sk-test-0123456789abcdef"));

    // The stored investigation has the hypotheses too.
    let id = report["investigation_id"].as_str().unwrap().to_string();
    let again = run(
        dir.path(),
        vec!["report".into(), id, "--format".into(), "text".into()],
    )
    .await;
    let text = String::from_utf8_lossy(&again.stdout);
    assert!(text.contains("proposed fix (needs approval"), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn dry_run_prints_the_payload_and_sends_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = repo_root().join("eval/demo/nezha-tt-2023-01-29-0925");
    // Port 9 (discard) is never listened on here: a dry run must not try to connect.
    let args: Vec<String> = [
        "investigate",
        bundle.to_str().unwrap(),
        "--dry-run",
        "--llm-base-url",
        "http://127.0.0.1:9/v1",
        "--llm-model",
        "m",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let out = run(dir.path(), args).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let payload: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(payload["model"], "m");
    let messages = payload["messages"].as_array().unwrap();
    assert!(
        messages
            .iter()
            .any(|m| m["content"].as_str().unwrap().contains("<<<EVIDENCE"))
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("would be POSTed to http://127.0.0.1:9/v1")
    );
}

#[test]
fn llm_without_a_model_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = repo_root().join("eval/demo/nezha-tt-2023-01-29-0925");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rootline"))
        .args(["investigate", bundle.to_str().unwrap(), "--llm"])
        .env("ROOTLINE_DATA_DIR", dir.path())
        .env_remove("ROOTLINE_CONFIG")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no model configured"));
}

/// The payload preview shows what leaves the building: secrets in log lines are redacted before
/// anything is sent, and the preview is exactly that payload.
#[test]
fn dry_run_preview_redacts_secrets_from_the_logs() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("bundle");
    std::fs::create_dir_all(bundle.join("logs")).unwrap();
    std::fs::write(
        bundle.join("incident.json"),
        r#"{"id":"secret-leak","title":"payments failing","start":"2024-03-01T10:00:00Z","end":"2024-03-01T10:10:00Z"}"#,
    )
    .unwrap();
    let mut lines = String::new();
    for i in 0..60 {
        lines.push_str(&format!(
            "{{\"time\":\"2024-03-01T09:{:02}:{:02}Z\",\"service\":\"payments\",\"level\":\"info\",\"msg\":\"charge ok id={i}\"}}\n",
            50 + i / 6,
            (i % 6) * 10
        ));
    }
    for i in 0..20 {
        lines.push_str(&format!(
            "{{\"time\":\"2024-03-01T10:0{}:{:02}Z\",\"service\":\"payments\",\"level\":\"error\",\"msg\":\"db connect failed: postgres://app:hunter2@db:5432/pay Authorization: Bearer sk-live-0123456789abcdefXYZ\"}}\n",
            i / 6,
            (i % 6) * 10
        ));
    }
    std::fs::write(bundle.join("logs/payments.jsonl"), lines).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rootline"))
        .args([
            "investigate",
            bundle.to_str().unwrap(),
            "--dry-run",
            "--llm-base-url",
            "http://127.0.0.1:9/v1",
            "--llm-model",
            "m",
        ])
        .env("ROOTLINE_DATA_DIR", dir.path())
        .env_remove("ROOTLINE_CONFIG")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let preview = String::from_utf8_lossy(&out.stdout);
    assert!(
        preview.contains("db connect failed"),
        "the evidence is in the payload: {preview}"
    );
    assert!(!preview.contains("hunter2"), "{preview}");
    assert!(
        !preview.contains("sk-live-0123456789abcdefXYZ"),
        "{preview}"
    );
    assert!(preview.contains("[REDACTED:"), "{preview}");
}

/// `rootline serve` with `[llm]` asks the model on every investigation it runs, and its
/// `/metrics` counts the requests, the tokens by type and the cost from the configured prices.
#[tokio::test(flavor = "multi_thread")]
async fn serve_asks_the_configured_model_and_counts_requests_tokens_and_cost() {
    let model = ScriptedModel::start(two_hypotheses).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("rootline.toml"),
        format!(
            "[llm]\nbase_url = \"{}\"\nmodel = \"scripted\"\nprice_prompt_per_mtok = 3.0\nprice_completion_per_mtok = 15.0\n",
            model.base_url
        ),
    )
    .unwrap();
    let (_serve, addr, token) = process::serve(dir.path());
    let client = process::client_with(&token);
    let report = process::payments_errors_investigated(&client, &addr).await;
    assert_eq!(report["llm"]["model"], "scripted", "{report:#}");
    assert_eq!(model.received().len(), 1);

    let page = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    // The scripted server reports 1000 prompt and 200 completion tokens per answer:
    // 1000 × $3 + 200 × $15 per million = $0.006.
    for line in [
        "rootline_model_requests_total{model=\"scripted\"} 1",
        "rootline_model_tokens_total{model=\"scripted\",type=\"input\"} 1000",
        "rootline_model_tokens_total{model=\"scripted\",type=\"output\"} 200",
        "rootline_model_cost_usd_total{model=\"scripted\"} 0.006",
    ] {
        assert!(page.contains(line), "{line} not in\n{page}");
    }
    assert!(!page.contains("rootline_model_failures_total{"), "{page}");
}

/// Two scripted models that answer differently: `careful` names the culprit citing E1 as the
/// other tests' first hypothesis does; `inventor` names the database citing E99, which it was
/// never shown.
fn by_model(request: &serde_json::Value) -> String {
    let all: serde_json::Value = serde_json::from_str(&two_hypotheses(request)).unwrap();
    let keep = if request["model"] == "careful" { 0 } else { 1 };
    serde_json::json!({
        "hypotheses": [all["hypotheses"][keep].clone()],
        "searches": []
    })
    .to_string()
}

/// `rootline eval --llm` with two models over the demo bundle: each model's scorecard next to
/// the engine's, checked against what the scripted models answered; then the same run from the
/// recorded cassettes, with the model server unreachable, gives the same scorecards.
#[tokio::test(flavor = "multi_thread")]
async fn eval_llm_scores_two_models_and_replays_them_from_the_cassettes() {
    let model = ScriptedModel::start(by_model).await;
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("rootline.toml"),
        "[llm]\nprice_prompt_per_mtok = 3.0\nprice_completion_per_mtok = 15.0\n",
    )
    .unwrap();
    let bundles = repo_root().join("eval/demo");
    let cassettes = dir.path().join("cassettes");
    let eval = |base: String| {
        let (bundles, cassettes, data) =
            (bundles.clone(), cassettes.clone(), dir.path().to_owned());
        async move {
            let args: Vec<String> = [
                "eval",
                bundles.to_str().unwrap(),
                "--json",
                "--llm",
                "--llm-base-url",
                &base,
                "--llm-model",
                "careful",
                "--llm-model",
                "inventor",
                "--cassette",
                cassettes.to_str().unwrap(),
            ]
            .iter()
            .map(|s| s.to_string())
            .collect();
            let out = run(&data, args).await;
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
        }
    };
    let recorded = eval(model.base_url.clone()).await;
    let models = recorded["models"].as_array().expect("model scorecards");
    assert_eq!(models.len(), 2, "{recorded:#}");
    let careful = &models[0];
    assert_eq!(careful["model"], "careful");
    assert_eq!(careful["cases"], 1);
    assert_eq!(careful["hypotheses"]["ac"][0], 1.0, "{careful:#}");
    assert_eq!(careful["engine"]["ac"][0], 1.0, "{careful:#}");
    assert_eq!(
        (careful["kept"].as_u64(), careful["rejected"].as_u64()),
        (Some(1), Some(0))
    );
    assert_eq!(careful["invented_citations"], 0);
    // 1000 prompt and 200 completion tokens per answer: $0.006 a case.
    assert_eq!(careful["input_tokens_per_case"], 1000.0);
    assert_eq!(careful["output_tokens_per_case"], 200.0);
    assert!((careful["cost_usd_per_case"].as_f64().unwrap() - 0.006).abs() < 1e-9);
    assert_eq!(careful["calibration"]["n"], 1);
    let inventor = &models[1];
    assert_eq!(inventor["model"], "inventor");
    assert_eq!(inventor["hypotheses"]["ac"][0], 0.0, "{inventor:#}");
    assert_eq!(inventor["engine"]["ac"][0], 1.0);
    assert_eq!(
        (inventor["kept"].as_u64(), inventor["rejected"].as_u64()),
        (Some(0), Some(1))
    );
    assert_eq!(inventor["invented_citations"], 1, "{inventor:#}");
    assert_eq!(inventor["grounded_share"], 0.0);
    assert_eq!(model.received().len(), 2, "one request per model and case");
    for name in ["careful.json", "inventor.json"] {
        assert!(cassettes.join(name).is_file(), "{name} not recorded");
    }

    // Replayed: port 9 (discard) is never listened on here, so any request would fail.
    let replayed = eval("http://127.0.0.1:9/v1".to_owned()).await;
    assert_eq!(model.received().len(), 2, "the replay sent nothing");
    let strip = |v: &serde_json::Value| {
        let mut models = v["models"].clone();
        for m in models.as_array_mut().unwrap() {
            // The replay's own timing; everything the model said is the same.
            m["latency_ms_p50"] = serde_json::Value::Null;
            m["latency_ms_p95"] = serde_json::Value::Null;
        }
        models
    };
    assert_eq!(strip(&recorded), strip(&replayed));
}

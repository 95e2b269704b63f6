//! A judged incident becomes a regression case: the demo incident (a real TrainTicket incident
//! from the Nezha dataset, in the repo) is investigated and stored, an SRE records the actual
//! root cause as a verdict, `export_judged_bundles` writes it as a bundle, and rootline eval
//! scores the engine against the verdict's truth.

use std::path::Path;

use chrono::Utc;
use rootline_actions::Role;
use rootline_agent::Bundle;
use rootline_eval::{EvalOptions, Level, evaluate_dir};
use rootline_store::{
    ExportOptions, Judgement, LOCAL_ADMIN, NewVerdict, Store, VerdictTarget, export_judged_bundles,
};

const DEMO: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../eval/demo");

#[tokio::test(flavor = "multi_thread")]
async fn exported_verdict_bundle_is_evaluated() {
    let demo_root = Path::new(DEMO);
    let bundle_dir = demo_root.join("nezha-tt-2023-01-29-0925");
    let bundle = Bundle::load(&bundle_dir).expect("the demo bundle is in the repo");
    let options = EvalOptions::default();

    // Investigate and store, as `rootline investigate <bundle>` does.
    let scratch = tempfile::tempdir().unwrap();
    let (report, _) =
        rootline_agent::investigate_bundle(&bundle, scratch.path(), options.config.clone())
            .await
            .unwrap();
    assert!(!report.candidates.is_empty(), "{report:?}");
    let data = tempfile::tempdir().unwrap();
    let store = Store::connect(&format!("sqlite://{}", data.path().join("r.db").display()))
        .await
        .unwrap();
    store.save_investigation(&report).await.unwrap();

    // The SRE records what actually broke (here: what the dataset says).
    let sre = store
        .add_user("sre", Role::Responder, LOCAL_ADMIN)
        .await
        .unwrap();
    let verdict = NewVerdict {
        investigation_id: report.investigation_id.clone(),
        target: VerdictTarget::Investigation,
        judgement: Judgement::PartlyRight,
        root_cause_service: Some("ts-basic-service".into()),
        root_cause_entity: None,
        fault_type: Some("exception".into()),
        fix: Some("restarted ts-basic-service".into()),
        note: None,
    };
    store
        .record_verdict(&sre.actor(), &verdict, Utc::now())
        .await
        .unwrap();

    // Export, with the demo directory as where the incident's logs live.
    let out = tempfile::tempdir().unwrap();
    let summary = export_judged_bundles(
        &store,
        out.path(),
        &ExportOptions {
            data_roots: vec![demo_root.to_path_buf()],
        },
    )
    .await
    .unwrap();
    assert_eq!(summary.exported.len(), 1, "{summary:?}");
    let exported = &summary.exported[0];
    assert_eq!(exported.data_from.as_deref(), Some(bundle_dir.as_path()));
    assert!(exported.dir.join("logs/09_25_log.jsonl.gz").is_file());
    assert!(exported.dir.join("evidence.json").is_file());

    // rootline eval scores it against the verdict.
    let eval = evaluate_dir(out.path(), &options).await.unwrap();
    assert_eq!(eval.cases.len(), 1);
    let case = &eval.cases[0];
    assert_eq!(case.error, None, "{case:?}");
    assert_eq!(case.source, "verdict");
    assert_eq!(case.incident_id, report.incident.id);
    let truth = case.truth.as_ref().unwrap();
    assert_eq!(
        truth.root_cause_service.as_deref(),
        Some("ts-basic-service")
    );
    assert_eq!(truth.fault_type_rootline, ["exception"]);
    // The rank eval computes is the rank of the service in the stored report's ranking.
    let expected_rank = report
        .candidates
        .iter()
        .position(|c| truth.matches(Level::Service, &c.entity))
        .map(|i| i + 1);
    assert_eq!(
        case.ranks.get(&Level::Service).copied().flatten(),
        expected_rank
    );
    eprintln!(
        "exported verdict bundle: service rank {:?} of {} candidates, outcome {:?}",
        expected_rank, case.candidates, case.outcome
    );
    store.close().await;
}

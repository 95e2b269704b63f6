//! Evidence recall on the bundled demo incident (Nezha TrainTicket, ts-basic-service exception):
//! the evaluator measures recall at 8k and 32k tokens, and the root cause's evidence is in the
//! 8k pack that the model step would send.

use std::collections::BTreeSet;
use std::path::PathBuf;

use rootline_agent::{Bundle, hypotheses::packed_context, investigate_bundle};
use rootline_eval::{EvalOptions, evaluate_dir, recall::Basis, render_markdown};
use rootline_signals::LogSignalConfig;

fn demo() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../eval/demo/nezha-tt-2023-01-29-0925"
    ))
}

#[tokio::test(flavor = "multi_thread")]
async fn demo_truth_evidence_is_in_the_8k_pack() {
    let options = EvalOptions {
        naive: false,
        ..EvalOptions::default()
    };
    let report = evaluate_dir(&demo(), &options).await.unwrap();
    assert_eq!(report.cases.len(), 1);
    let case = &report.cases[0];
    assert!(case.error.is_none(), "{:?}", case.error);
    let recall = case
        .evidence_recall
        .as_ref()
        .expect("a fault case is measured");
    assert_eq!(recall.basis, Basis::RootCauseEntity);
    let budgets: Vec<usize> = recall.budgets.iter().map(|b| b.budget_tokens).collect();
    assert_eq!(budgets, [8_000, 32_000]);
    assert!(!recall.truth_evidence.is_empty());
    let at8k = &recall.budgets[0];
    assert!(at8k.any && at8k.strongest, "{at8k:?}");
    // A bigger budget never loses what a smaller one kept.
    assert!(recall.budgets[1].truth_packed >= at8k.truth_packed);

    // Recompute independently from a fresh investigation of the same bundle: the ground truth is
    // every item about ts-basic-service (service or one of its pods), and the 8k pack holds the
    // strongest of them.
    let bundle = Bundle::load(&demo()).unwrap();
    let scratch = tempfile::tempdir().unwrap();
    let (r, _) = investigate_bundle(&bundle, scratch.path(), LogSignalConfig::default())
        .await
        .unwrap();
    let expected: BTreeSet<&str> = r
        .evidence
        .iter()
        .filter(|e| {
            e.entity == "ts-basic-service" || e.entity.starts_with("ts-basic-service-5dc8d4f9fd")
        })
        .map(|e| e.id.as_str())
        .collect();
    let got: BTreeSet<&str> = recall.truth_evidence.iter().map(String::as_str).collect();
    assert_eq!(got, expected);
    assert_eq!(recall.evidence_items, r.evidence.len());
    let index = rootline_index::LogIndex::open(&scratch.path().join("index")).unwrap();
    let pack = packed_context(&r, &index, 8_000);
    assert!(pack.tokens_estimate <= 8_000);
    assert_eq!(pack.items.len(), at8k.packed_items);
    let packed: BTreeSet<&str> = pack.items.iter().map(|i| i.evidence_id.as_str()).collect();
    assert!(packed.contains(recall.truth_evidence[0].as_str()));
    assert_eq!(
        expected.iter().filter(|id| packed.contains(*id)).count(),
        at8k.truth_packed
    );

    // The summary and the Markdown carry it.
    let s = &report.summaries[0];
    assert_eq!(s.evidence_recall.len(), 2);
    assert_eq!(
        (s.evidence_recall[0].n, s.evidence_recall[0].any.hits),
        (1, 1)
    );
    let md = render_markdown(&report);
    assert!(
        md.contains("### Evidence recall of the packed LLM context"),
        "{md}"
    );
    assert!(
        md.contains("| nezha_trainticket | 8k | 1 | 0 | 1.00 (1/1) |"),
        "{md}"
    );
}

//! Window jitter on the bundled demo incident (Nezha TrainTicket, ts-basic-service exception):
//! the same case is investigated again with its start moved, offsets outside the data are
//! skipped and say why, and offset 0 is the case itself.

use std::path::PathBuf;

use rootline_eval::{EvalOptions, Level, evaluate_dir, render_markdown};

fn demo() -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../eval/demo/nezha-tt-2023-01-29-0925"
    ))
}

#[tokio::test(flavor = "multi_thread")]
async fn offsets_rerun_the_case_and_those_outside_the_data_are_skipped() {
    let options = EvalOptions {
        naive: false,
        recall_budgets: vec![],
        // The demo's data starts on the day's fault-free minute at 08:50 and ends about 90 s
        // after the injection at 09:25:39.
        jitter: vec![-30, 0, 30, 10_000, -100_000],
        ..EvalOptions::default()
    };
    let report = evaluate_dir(&demo(), &options).await.unwrap();
    let case = &report.cases[0];
    assert!(case.error.is_none(), "{:?}", case.error);
    let offsets: Vec<i64> = case.jitter.iter().map(|r| r.offset_s).collect();
    assert_eq!(offsets, [-30, 0, 30, 10_000, -100_000]);
    let zero = &case.jitter[1];
    assert_eq!(zero.skipped, None);
    assert_eq!(zero.ranks, case.ranks, "offset 0 is the case itself");
    assert_eq!(case.ranks[&Level::Service], Some(1));
    for r in &case.jitter[..3] {
        assert_eq!(r.skipped, None, "{r:?}");
        assert!(r.ranks.contains_key(&Level::Service));
    }
    assert!(
        case.jitter[3]
            .skipped
            .as_deref()
            .unwrap()
            .contains("pass the end")
    );
    assert!(
        case.jitter[4]
            .skipped
            .as_deref()
            .unwrap()
            .contains("first record")
    );
    // Per offset, then the mean over the offsets that ran (offset null).
    let summary = &report.summaries[0].jitter;
    assert_eq!(summary.len(), 6);
    assert_eq!(summary[3].cases, 0);
    assert_eq!(summary[3].skipped, 1);
    let mean = summary.last().unwrap();
    assert_eq!(mean.offset_s, None);
    let ran: Vec<f64> = summary[..3]
        .iter()
        .map(|s| s.levels[&Level::Service].ac1())
        .collect();
    let expected = ran.iter().sum::<f64>() / 3.0;
    assert!((mean.levels[&Level::Service].ac1() - expected).abs() < 1e-9);
    assert_eq!(report.jitter.len(), 6, "and over every case of the run");
    let md = render_markdown(&report);
    assert!(md.contains("Window jitter"), "{md}");
    assert!(md.contains("| mean |"), "{md}");
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["jitter"][0]["offset_s"], -30);
    assert!(json["jitter"][0]["levels"]["service"]["ac"].is_array());
}

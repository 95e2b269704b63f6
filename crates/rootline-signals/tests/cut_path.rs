//! The "code path cut short" log signal: two messages one logger writes in the same requests,
//! the later of which falls behind in the window.

use rootline_core::{Level, LogRecord, Provenance};
use rootline_signals::{LogSignalConfig, aggregate, log_findings};

/// One request's log line: template `template` written by `logger` in trace `trace`.
fn line(template: u64, logger: &str, trace: Option<String>, n: u64) -> LogRecord {
    LogRecord {
        evidence_id: format!("log-{template}-{n}"),
        ts_ns: n as i64,
        service: "travel".into(),
        host: None,
        level: Level::Info,
        message: format!("{logger}#{template} step {template}"),
        template_id: Some(template),
        trace_id: trace,
        module: Some(logger.into()),
        provenance: Provenance {
            source: "travel.log".into(),
            line: n,
        },
    }
}

/// `requests` requests of one path writing message 1, then message 2 in all but `cut` of them;
/// with `traced`, each request has a trace id.
fn path(requests: u64, cut: u64, traced: bool, salt: &str) -> Vec<LogRecord> {
    let mut out = Vec::new();
    for r in 0..requests {
        let trace = traced.then(|| format!("{salt}-{r}"));
        out.push(line(1, "t.s.TravelServiceImpl", trace.clone(), 2 * r));
        if r >= cut {
            out.push(line(2, "t.s.TravelServiceImpl", trace, 2 * r + 1));
        }
    }
    out
}

fn cut_findings(window: &[LogRecord], baseline: &[LogRecord]) -> Vec<String> {
    let config = LogSignalConfig::default();
    log_findings(&aggregate(window, 3), &aggregate(baseline, 3), &config)
        .into_iter()
        .filter(|f| f.evidence.id.starts_with("sig-cut-"))
        .map(|f| f.evidence.summary)
        .collect()
}

#[test]
fn the_later_message_falling_behind_is_a_cut_path() {
    let baseline = path(60, 0, true, "base");
    let window = path(40, 25, true, "win");
    let found = cut_findings(&window, &baseline);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(found[0].contains("only 15 of 40 times"), "{}", found[0]);
}

#[test]
fn both_messages_as_often_as_before_is_no_cut() {
    let baseline = path(60, 0, true, "base");
    let window = path(40, 0, true, "win");
    assert!(cut_findings(&window, &baseline).is_empty());
}

#[test]
fn messages_of_different_requests_are_no_path() {
    // Two endpoints as busy as each other in the baseline, each in its own requests: a
    // workload shift between them in the window is not a cut.
    let endpoint = |template: u64, n: u64, salt: &str| -> Vec<LogRecord> {
        (0..n)
            .map(|r| {
                line(
                    template,
                    "t.s.TravelServiceImpl",
                    Some(format!("{salt}-{template}-{r}")),
                    r,
                )
            })
            .collect()
    };
    let baseline = [endpoint(1, 60, "b"), endpoint(2, 60, "b")].concat();
    let window = [endpoint(1, 40, "w"), endpoint(2, 10, "w")].concat();
    assert!(cut_findings(&window, &baseline).is_empty());
    // Without trace ids nothing says the two are one path, so nothing is paired either.
    let untraced = |v: Vec<LogRecord>| -> Vec<LogRecord> {
        v.into_iter()
            .map(|mut r| {
                r.trace_id = None;
                r
            })
            .collect()
    };
    assert!(
        cut_findings(
            &untraced(path(40, 25, true, "w")),
            &untraced(path(60, 0, true, "b"))
        )
        .is_empty()
    );
}

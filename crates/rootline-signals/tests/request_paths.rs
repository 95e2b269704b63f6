//! What log findings learn from the requests (trace ids) messages are written in: a code path
//! cut short (two messages one logger writes in the same requests, the later of which falls
//! behind in the window), and messages of one request path counting once. And how a message
//! that reports another service's failure counts against its writer.

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
        approximate_time: false,
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

#[test]
fn new_messages_of_one_request_path_count_once() {
    // A new request type: three new lines in each of its 20 requests.
    let baseline = path(60, 0, true, "base");
    let mut window = path(40, 0, true, "win");
    for r in 0..20 {
        for step in 10..13 {
            window.push(line(
                step,
                "t.s.TravelServiceImpl",
                Some(format!("new-{r}")),
                1000 + 3 * r + step,
            ));
        }
    }
    let findings = log_findings(
        &aggregate(&window, 3),
        &aggregate(&baseline, 3),
        &LogSignalConfig::default(),
    );
    let new: Vec<&str> = findings
        .iter()
        .filter(|f| f.evidence.id.starts_with("sig-new-"))
        .map(|f| f.evidence.summary.as_str())
        .collect();
    assert_eq!(new.len(), 1, "{new:#?}");
    assert!(
        new[0].contains("with 2 more message(s) written in the same requests"),
        "{}",
        new[0]
    );
    // Untraced, the same lines are three findings.
    for r in window.iter_mut() {
        r.trace_id = None;
    }
    let untraced = log_findings(
        &aggregate(&window, 3),
        &aggregate(&baseline, 3),
        &LogSignalConfig::default(),
    );
    assert_eq!(
        untraced
            .iter()
            .filter(|f| f.evidence.id.starts_with("sig-new-"))
            .count(),
        3
    );
}

#[test]
fn an_error_reporting_another_services_failure_counts_half_against_its_writer() {
    let error = |service: &str, message: &str, n: u64| LogRecord {
        evidence_id: format!("log-{service}-{n}"),
        ts_ns: n as i64,
        service: service.into(),
        host: None,
        level: Level::Error,
        message: message.into(),
        template_id: None,
        trace_id: None,
        approximate_time: false,
        module: None,
        provenance: Provenance {
            source: format!("{service}.log"),
            line: n,
        },
    };
    let routine = |service: &str, n: u64| LogRecord {
        level: Level::Info,
        message: "request served".into(),
        ..error(service, "", n)
    };
    let baseline: Vec<LogRecord> = (0..50)
        .flat_map(|n| {
            [
                routine("ts-travel-service", n),
                routine("ts-basic-service", n),
            ]
        })
        .collect();
    let weight_of = |message: &str| {
        let mut window: Vec<LogRecord> = (0..50)
            .flat_map(|n| {
                [
                    routine("ts-travel-service", n),
                    routine("ts-basic-service", n),
                ]
            })
            .collect();
        window.extend((0..10).map(|n| error("ts-travel-service", message, 100 + n)));
        log_findings(
            &aggregate(&window, 3),
            &aggregate(&baseline, 3),
            &LogSignalConfig::default(),
        )
        .into_iter()
        .find(|f| f.evidence.id.starts_with("sig-new-") && f.evidence.entity == "ts-travel-service")
        .map(|f| f.contribution)
        .expect("the new error is a finding")
    };
    let own = weight_of("Request processing failed: index out of range");
    let reported = weight_of("No instances available for ts-basic-service");
    assert!(
        (reported - 0.5 * own).abs() < 1e-9,
        "{reported} against {own}"
    );
    // A message naming its writer as well describes a call between the two (an alert on an
    // edge), not the writer's view of the other: it counts in full.
    let edge = weight_of("trace alert: ts-travel-service -> ts-basic-service: 500");
    assert!((edge - own).abs() < 1e-9, "{edge} against {own}");
}

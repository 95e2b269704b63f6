use super::*;

#[test]
fn stack_frames_count_as_exceptions() {
    for frame in [
        r#"File "<*>", line <*>, in <*>"#,
        "  at com.example.Foo.bar(Foo.java:42)",
        "goroutine 7 [running]:",
        "Caused by: java.io.IOException: closed",
        "Traceback (most recent call last):",
    ] {
        assert!(mentions_exception(frame), "{frame}");
    }
    for line in [
        "[verifyCode][Get image code warn][Code not found]",
        "at least 3 replicas are needed (have 2)",
        "file saved, line count 3",
    ] {
        assert!(!mentions_exception(line), "{line}");
    }
}
use rootline_core::{Outcome, Provenance};

const SECOND: i64 = 1_000_000_000;

/// The findings about messages that stopped, for a window against a baseline.
fn stopped_findings(win: &[LogRecord], base: &[LogRecord]) -> Vec<Finding> {
    log_findings(
        &aggregate(win, 3),
        &aggregate(base, 3),
        &LogSignalConfig::default(),
    )
    .into_iter()
    .filter(|f| f.evidence.id.starts_with("sig-vanished"))
    .collect()
}

fn rec(i: u64, ts: i64, service: &str, level: Level, message: &str) -> LogRecord {
    LogRecord {
        evidence_id: format!("log-{service}-{i}"),
        ts_ns: ts,
        service: service.into(),
        host: None,
        level,
        message: message.into(),
        template_id: None,
        trace_id: None,
        approximate_time: false,
        module: None,
        provenance: Provenance {
            source: "t".into(),
            line: i,
        },
    }
}

/// Steady traffic for three services, `n` records each, one a second.
fn steady(n: u64, t0: i64) -> Vec<LogRecord> {
    let mut v = vec![];
    for i in 0..n {
        let ts = t0 + i as i64 * SECOND;
        v.push(rec(
            i,
            ts,
            "api",
            Level::Info,
            &format!("GET /orders/{i} 200"),
        ));
        v.push(rec(
            i,
            ts,
            "orders",
            Level::Info,
            &format!("loaded order {i}"),
        ));
        v.push(rec(i, ts, "db", Level::Info, &format!("query took {i}ms")));
    }
    v
}

/// Twenty routine lines of `service` in the baseline (from 0 s) and twenty in the window
/// (from 100 s), record ids from `first_id`.
fn routine(
    service: &str,
    message: &str,
    first_id: u64,
    baseline: &mut Vec<LogRecord>,
    window: &mut Vec<LogRecord>,
) {
    for k in 0..20 {
        let t = k as i64 * SECOND;
        baseline.push(rec(first_id + k, t, service, Level::Info, message));
        window.push(rec(
            first_id + 50 + k,
            100 * SECOND + t,
            service,
            Level::Info,
            message,
        ));
    }
}

#[test]
fn quiet_window_is_no_incident() {
    let base = steady(100, 0);
    let win = steady(100, 1000);
    let s = analyse_logs(&win, &base, &LogSignalConfig::default());
    assert_eq!(
        s.outcome,
        Outcome::NoIncidentDetected,
        "{}",
        s.outcome_reason
    );
    assert!(s.candidates.is_empty());
}

#[test]
fn new_errors_and_vanished_messages_point_at_the_culprit() {
    let base = steady(100, 0);
    let mut win = steady(100, 1000);
    // db starts throwing and stops logging its query times; api sees a few errors too.
    win.retain(|r| r.service != "db");
    for i in 0..100 {
        win.push(rec(
            1000 + i,
            1000 + i as i64,
            "db",
            Level::Error,
            &format!("java.sql.SQLException: lock wait timeout on row {i}"),
        ));
    }
    for i in 0..5 {
        win.push(rec(
            2000 + i,
            1000 + i as i64,
            "api",
            Level::Warn,
            &format!("upstream orders slow, retry {i}"),
        ));
    }
    let s = analyse_logs(&win, &base, &LogSignalConfig::default());
    assert_eq!(s.candidates[0].entity, "db");
    assert_eq!(s.candidates[0].fault_type, FaultType::Exception);
    assert_eq!(s.outcome, Outcome::ProbableCause, "{}", s.outcome_reason);
    // Every cited id exists in the evidence list, and examples are real record ids.
    for id in &s.candidates[0].evidence {
        let e = s
            .evidence
            .iter()
            .find(|e| &e.id == id)
            .expect("cited evidence exists");
        assert!(e.examples.iter().all(|x| x.starts_with("log-")));
    }
    assert!(
        s.evidence
            .iter()
            .any(|e| e.id.starts_with("sig-vanished") && e.entity == "db")
    );
    // Deterministic: same input, same output.
    let again = analyse_logs(&win, &base, &LogSignalConfig::default());
    assert_eq!(again.candidates, s.candidates);
}

/// Two thousand lines of a start-up dump in two seconds of the baseline are two events, not
/// a steady rate: their absence from the window is no finding. The same count spread over
/// the baseline's seconds is one.
#[test]
fn a_burst_that_does_not_recur_has_not_stopped() {
    let mut base = steady(200, 0);
    let mut win = steady(200, 1_000 * SECOND);
    for i in 0..2_000u64 {
        base.push(rec(
            10_000 + i,
            (i as i64 % 2) * SECOND,
            "orders",
            Level::Debug,
            &format!("option_{i} = value log_opt_values"),
        ));
    }
    for i in 0..40u64 {
        base.push(rec(
            20_000 + i,
            i as i64 * 5 * SECOND,
            "db",
            Level::Debug,
            &format!("vacuum of table t{i} done"),
        ));
    }
    // The window is as long and as busy: filler so that the scale is the same.
    for i in 0..2_040u64 {
        win.push(rec(
            30_000 + i,
            1_000 * SECOND + (i as i64 % 200) * SECOND,
            "api",
            Level::Info,
            &format!("GET /health/{i} 200"),
        ));
    }
    assert!(
        aggregate(&base, 3)
            .iter()
            .any(|t| t.service == "orders" && t.count == 2_000),
        "the dump is one message"
    );
    let findings = stopped_findings(&win, &base);
    let stopped: Vec<&str> = findings
        .iter()
        .map(|f| f.evidence.entity.as_str())
        .collect();
    assert_eq!(stopped, ["db"], "{findings:#?}");
}

/// A routine message that comes back in another form (a request context filled in) as
/// often as it used to come has not stopped.
#[test]
fn a_reworded_routine_message_has_not_stopped() {
    // 60 debug lines of compute, one a second from `t0`, ids from `id0`.
    let minute_of = |id0: u64, t0: i64, text: &dyn Fn(u64) -> String| -> Vec<LogRecord> {
        (0..60u64)
            .map(|i| {
                rec(
                    id0 + i,
                    (t0 + i as i64) * SECOND,
                    "compute",
                    Level::Debug,
                    &text(i),
                )
            })
            .collect()
    };
    let base = minute_of(0, 0, &|i| {
        format!("[req-{i} - - - - -] Running periodic task _poll_{i} run_periodic_tasks")
    });
    let reworded = minute_of(100, 1_000, &|i| {
        format!(
            "[req-{i} admin demo - default default] Running periodic task _poll_{i} run_periodic_tasks"
        )
    });
    let findings = stopped_findings(&reworded, &base);
    assert!(findings.is_empty(), "{findings:#?}");
    // Gone without a replacement, it has stopped.
    let other = minute_of(200, 1_000, &|i| format!("heartbeat {i} sent"));
    let findings = stopped_findings(&other, &base);
    assert!(!findings.is_empty(), "{findings:#?}");
}

/// Untraced messages that were always written in the same seconds and all stopped are one
/// request type that no longer comes: one finding, which says how many went with it.
#[test]
fn untraced_messages_that_stopped_together_count_once() {
    let mut base = steady(200, 0);
    for i in 0..40u64 {
        let ts = i as i64 * 5 * SECOND;
        base.push(rec(
            10_000 + i,
            ts,
            "meta",
            Level::Info,
            &format!("accepted client {i}"),
        ));
        base.push(rec(
            20_000 + i,
            ts,
            "meta",
            Level::Info,
            &format!("Request: GET /latest/{i}"),
        ));
    }
    for i in 0..40u64 {
        // Another message of the same service at other seconds stays a finding of its own.
        base.push(rec(
            30_000 + i,
            i as i64 * 5 * SECOND + 2 * SECOND,
            "meta",
            Level::Info,
            &format!("lease renewed {i}"),
        ));
    }
    let stopped = stopped_findings(&steady(200, 1_000 * SECOND), &base);
    assert_eq!(stopped.len(), 2, "{stopped:#?}");
    assert!(
        stopped.iter().any(|f| f
            .evidence
            .summary
            .contains("(with 1 more message(s) written in the same seconds)")),
        "{stopped:#?}"
    );
}

/// Requests that stop arriving at a service that logs no problem of its own count half: its
/// callers may simply have stopped calling. With an error of its own they count in full.
#[test]
fn requests_that_stopped_arriving_count_half_without_a_problem_of_its_own() {
    let mut base = steady(200, 0);
    for i in 0..40u64 {
        base.push(rec(
            10_000 + i,
            i as i64 * 5 * SECOND,
            "meta",
            Level::Info,
            &format!("\"GET /latest/meta-data/{i} HTTP/1.1\" status: 200 len: 120"),
        ));
        base.push(rec(
            11_000 + i,
            i as i64 * 5 * SECOND + 1,
            "meta",
            Level::Debug,
            &format!("periodic sync {i} done"),
        ));
    }
    let quiet = steady(200, 1_000 * SECOND);
    let mut failing = quiet.clone();
    failing.push(rec(
        20_000,
        1_010 * SECOND,
        "meta",
        Level::Error,
        "Unhandled error in sync: KeyError 'port'",
    ));
    let (q, f) = (
        stopped_findings(&quiet, &base),
        stopped_findings(&failing, &base),
    );
    assert_eq!((q.len(), f.len()), (1, 1), "{q:#?} {f:#?}");
    assert!(q[0].evidence.summary.contains("counts half"), "{q:#?}");
    assert!(!f[0].evidence.summary.contains("counts half"), "{f:#?}");
    // One more record in the failing window moves the volume scale a little.
    let ratio = f[0].contribution / q[0].contribution;
    assert!((ratio - 2.0).abs() < 0.01, "{ratio}");
    assert!(logs_inbound_request("[-] Request: GET <*> <*>"));
    assert!(logs_inbound_request(
        "10.0.0.1 \"POST /v2/servers HTTP/1.1\" 202"
    ));
    assert!(!logs_inbound_request("GET route by ids failed"));
}

/// Without an access line or trace ids nothing shows that requests still arrive, so an
/// untraced message that stopped at a service with no problem of its own counts half too; a
/// traced one (its requests known) keeps its weight.
#[test]
fn only_traced_silence_keeps_its_weight_without_a_problem() {
    let stopped_weight = |traced: bool| -> (f64, String) {
        let mut base = steady(200, 0);
        for i in 0..40u64 {
            let mut r = rec(
                10_000 + i,
                i as i64 * 5 * SECOND,
                "route",
                Level::Info,
                &format!("[getRouteByIds][Get Route By Ids Success] route {i}"),
            );
            if traced {
                r.trace_id = Some(format!("trace-{i}"));
            }
            base.push(r);
        }
        let f = stopped_findings(&steady(200, 1_000 * SECOND), &base)
            .into_iter()
            .next()
            .expect("the message stopped");
        (f.contribution, f.evidence.summary)
    };
    let (traced, traced_summary) = stopped_weight(true);
    let (untraced, untraced_summary) = stopped_weight(false);
    assert!(!traced_summary.contains("counts half"), "{traced_summary}");
    assert!(
        untraced_summary.contains("counts half"),
        "{untraced_summary}"
    );
    assert!(
        (traced / untraced - 2.0).abs() < 1e-9,
        "{traced} {untraced}"
    );
}

/// A success message that stops while its failure sibling appears is a different branch
/// taken (a wrong value), not a cut-short path (an exception).
#[test]
fn a_message_replaced_by_its_failure_sibling_is_a_wrong_value() {
    assert!(siblings(
        "<*> INFO f.m.s.BasicServiceImpl#<*> TraceID: <*> [getRoutesByRouteIds][Get Route By Ids][Success]",
        "<*> ERROR f.m.s.BasicServiceImpl#<*> TraceID: <*> [getRoutesByRouteIds][Get Route By Ids Failed]"
    ));
    assert!(!siblings(
        "<*> INFO f.m.s.BasicServiceImpl#<*> TraceID: <*> [getRoutesByRouteIds][Get Route By Ids][Success]",
        "<*> ERROR f.m.s.BasicServiceImpl#<*> TraceID: <*> [queryForTravel][catch price exception]"
    ));
    let routes = |i: u64, t0: i64, level: Level, text: &str| {
        rec(
            7_000 + i + t0 as u64,
            t0 + i as i64,
            "basic",
            level,
            &format!("[getRoutesByRouteIds][Get Route By Ids{text}] route {i}"),
        )
    };
    let mut base = steady(100, 0);
    let mut win = steady(100, 1000);
    for i in 0..40 {
        base.push(routes(i, 0, Level::Info, "][Success"));
    }
    // Few failures: the stopped message alone outweighs them, so its reading decides.
    for i in 0..3 {
        win.push(routes(i, 1000, Level::Error, " Failed"));
    }
    let s = analyse_logs(&win, &base, &LogSignalConfig::default());
    assert_eq!(s.candidates[0].entity, "basic");
    assert_eq!(s.candidates[0].fault_type, FaultType::WrongReturnValue);
    // The same success message stopping next to an unrelated error: cut short.
    let mut win = steady(100, 1000);
    for i in 0..3 {
        win.push(rec(
            8_000 + i,
            1000 + i as i64,
            "basic",
            Level::Error,
            "java.lang.NullPointerException at price lookup",
        ));
    }
    let s = analyse_logs(&win, &base, &LogSignalConfig::default());
    assert_eq!(s.candidates[0].entity, "basic");
    assert_eq!(s.candidates[0].fault_type, FaultType::Exception);
}

/// A trace through the service's own code weighs more than the bare message, and more when
/// the service's own code raised it than when a library it called did.
#[test]
fn own_raised_traces_weigh_most() {
    let stat = |frames: &[&str]| TemplateStat {
        service: "neutron".into(),
        template_id: Some(1),
        count: 1,
        errors: 1,
        warnings: 0,
        worst_level: Level::Error,
        first_ns: 0,
        last_ns: 0,
        examples: vec![],
        sample: String::new(),
        hosts: vec![],
        modules: vec![],
        frames: frames.iter().map(|f| f.to_string()).collect(),
        traces: vec![],
        seconds: vec![],
    };
    let own = Some("neutron".to_string());
    let bare = trace_weight(&stat(&[]), own.as_ref());
    let raised_in_own_code = trace_weight(
        &stat(&["neutron.plugins.ml2.plugin", "neutron.db.api"]),
        own.as_ref(),
    );
    let raised_in_a_library = trace_weight(
        &stat(&["libvirt", "neutron.plugins.ml2.plugin", "neutron.db.api"]),
        own.as_ref(),
    );
    assert_eq!(bare, 1.0);
    assert!(raised_in_own_code > raised_in_a_library && raised_in_a_library > bare);
    assert!(raised_in_own_code < 2.0);
}

/// A service that fails as much as it always did changes nothing: it is listed after every
/// candidate with a change, weighs nothing in the outcome, and is the only lead when
/// nothing changed.
#[test]
fn chronic_errors_rank_last_and_decide_nothing() {
    let chronic = |t0: i64| {
        (0..20)
            .map(|i| {
                rec(
                    5_000 + i + t0 as u64,
                    t0 + i as i64,
                    "cache",
                    Level::Error,
                    "eviction failed: out of memory",
                )
            })
            .collect::<Vec<_>>()
    };
    let mut base = steady(100, 0);
    base.extend(chronic(0));
    let mut quiet = steady(100, 1000);
    quiet.extend(chronic(1000));
    let s = analyse_logs(&quiet, &base, &LogSignalConfig::default());
    assert_eq!(
        s.outcome,
        Outcome::NoIncidentDetected,
        "{}",
        s.outcome_reason
    );
    assert_eq!(s.candidates.len(), 1);
    assert_eq!(s.candidates[0].entity, "cache");
    assert!(
        s.candidates[0].why.starts_with("no change"),
        "{}",
        s.candidates[0].why
    );
    assert!(s.candidates[0].score < 0.5);

    // The same chronic errors next to a real change: the change leads and stays decisive.
    let mut win = quiet.clone();
    for i in 0..50 {
        win.push(rec(
            9_000 + i,
            1000 + i as i64,
            "db",
            Level::Error,
            &format!("java.sql.SQLException: lock wait timeout on row {i}"),
        ));
    }
    let s = analyse_logs(&win, &base, &LogSignalConfig::default());
    assert_eq!(s.candidates[0].entity, "db");
    assert_eq!(s.outcome, Outcome::ProbableCause, "{}", s.outcome_reason);
    assert_eq!(s.candidates.last().unwrap().entity, "cache");
    // A service with a change gets no background finding of its own.
    assert!(
        !s.evidence
            .iter()
            .any(|e| e.entity == "db" && e.id.starts_with("sig-background"))
    );
}

#[test]
fn names_in_new_errors_blame_the_named_service() {
    assert!(mentions_name(
        "No instances available for ts-basic-service]",
        "ts-basic-service"
    ));
    assert!(!mentions_name(
        "ts-basic-service-2 down",
        "ts-basic-service"
    ));
    assert!(!mentions_name("my_orders failed", "orders"));
    let base = steady(100, 0);
    let mut win = steady(100, 1000);
    for i in 0..20 {
        win.push(rec(
            3000 + i,
            1000 + i as i64,
            "api",
            Level::Error,
            "No instances available for orders",
        ));
    }
    let findings = log_findings(
        &aggregate(&win, 3),
        &aggregate(&base, 3),
        &LogSignalConfig::default(),
    );
    let blame: Vec<_> = findings
        .iter()
        .filter(|f| f.evidence.kind == EvidenceKind::NamedInErrors)
        .collect();
    assert_eq!(blame.len(), 1);
    assert_eq!(blame[0].evidence.entity, "orders");
    assert!(blame[0].evidence.summary.starts_with("api names orders"));

    // The same 20 errors when the baseline already had 8 of them: the message only rose
    // 2.5×, and the blame weighs by that rise, not by the count.
    let mut base_with = base.clone();
    for i in 0..8 {
        base_with.push(rec(
            4000 + i,
            i as i64,
            "api",
            Level::Error,
            "No instances available for orders",
        ));
    }
    let bursting = log_findings(
        &aggregate(&win, 3),
        &aggregate(&base_with, 3),
        &LogSignalConfig::default(),
    );
    let burst_blame = bursting
        .iter()
        .find(|f| f.evidence.kind == EvidenceKind::NamedInErrors)
        .expect("a bursting error still blames");
    assert!(burst_blame.evidence.summary.contains("bursting"));
    assert!(
        burst_blame.contribution < 0.5 * blame[0].contribution,
        "{} vs {}",
        burst_blame.contribution,
        blame[0].contribution
    );
}

/// A payment service writes "charge started" and "charge done" in every request, once a
/// second. In the window (which opened a minute before the fault) "charge done" stops at
/// 260 s while requests keep coming: it stopped partway. Untraced, or with the whole
/// service falling silent, the same stop says nothing.
#[test]
fn a_traced_message_that_stops_partway_while_requests_go_on_has_stopped() {
    let pay = |traced: bool, silent_after_stop: bool| {
        let (mut base, mut win) = (vec![], vec![]);
        let push = |v: &mut Vec<LogRecord>, i: u64, t: i64, msg: &str| {
            let mut r = rec(i, t * SECOND, "pay", Level::Info, msg);
            r.trace_id = traced.then(|| format!("trace-{t}"));
            v.push(r);
        };
        for t in 0..120i64 {
            push(&mut base, 2 * t as u64, t, "charge started");
            push(&mut base, 2 * t as u64 + 1, t, "charge done");
        }
        for t in 200..320i64 {
            if silent_after_stop && t >= 260 {
                break;
            }
            push(&mut win, 1000 + 2 * t as u64, t, "charge started");
            if t < 260 {
                push(&mut win, 1001 + 2 * t as u64, t, "charge done");
            }
        }
        stopped_findings(&win, &base)
            .into_iter()
            .filter(|f| f.evidence.summary.contains("stopped writing a message at"))
            .collect::<Vec<_>>()
    };
    let found = pay(true, false);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0].evidence.entity, "pay");
    assert_eq!(found[0].evidence.first_seen_ns, 259 * SECOND);
    assert!(found[0].evidence.summary.contains("charge done"));
    assert!(
        pay(false, false).is_empty(),
        "untraced: the callers may have stopped"
    );
    assert!(pay(true, true).is_empty(), "the whole service fell silent");
}

#[test]
fn empty_window_and_missing_baseline() {
    let s = analyse_logs(&[], &steady(10, 0), &LogSignalConfig::default());
    assert_eq!(s.outcome, Outcome::NoData);
    // No baseline and nothing but routine messages: ranked from the window alone, and
    // nothing stands out (never a probable cause).
    let s = analyse_logs(&steady(10, 0), &[], &LogSignalConfig::default());
    assert_eq!(s.outcome, Outcome::NoIncidentDetected);
    assert!(
        s.outcome_reason
            .starts_with("no baseline: ranked from the window alone"),
        "{}",
        s.outcome_reason
    );
}

/// A cinder volume service whose own code raises deep inside, logged by a library's
/// dispatcher: the innermost frame of cinder's own code that is not plumbing (a helpers
/// module that ran the command it was handed) is the module named first; the outer own
/// frames, then the plumbing frame, then the logger follow; library frames and the module
/// of a new routine message do not count.
#[test]
fn modules_point_at_the_innermost_own_frame() {
    let traceback = "Exception during message handling\nTraceback (most recent call last):\n  \
File \"/usr/lib/python2.7/site-packages/oslo_messaging/rpc/server.py\", line 160, in _process\n  \
File \"/usr/lib/python2.7/site-packages/cinder/volume/manager.py\", line 5, in copy\n  \
File \"/usr/lib/python2.7/site-packages/cinder/image/image_utils.py\", line 285, in fetch\n  \
File \"/usr/lib/python2.7/site-packages/cinder/utils.py\", line 123, in execute\n  \
File \"/usr/lib/python2.7/site-packages/oslo_concurrency/processutils.py\", line 419, in execute\n\
ProcessExecutionError: Unexpected error";
    let with_module = |mut r: LogRecord, m: &str| {
        r.module = Some(m.to_string());
        r
    };
    let mut baseline = vec![];
    let mut window = vec![];
    for i in 0..200 {
        let (set, t0) = if i < 100 {
            (&mut baseline, 0)
        } else {
            (&mut window, 1_000)
        };
        set.push(with_module(
            rec(
                i,
                t0 + i as i64,
                "cinder",
                Level::Info,
                &format!("volume {i} created"),
            ),
            "cinder.volume.manager",
        ));
        set.push(with_module(
            rec(
                1_000 + i,
                t0 + i as i64,
                "cinder",
                Level::Debug,
                &format!("rpc call {i} dispatched"),
            ),
            "oslo_messaging.rpc.server",
        ));
    }
    for i in 0..5 {
        window.push(with_module(
            rec(
                2_000 + i,
                1_100 + i as i64,
                "cinder",
                Level::Error,
                traceback,
            ),
            "oslo_messaging.rpc.server",
        ));
        window.push(with_module(
            rec(
                3_000 + i,
                1_100 + i as i64,
                "cinder",
                Level::Info,
                &format!("backup {i} scheduled"),
            ),
            "cinder.backup.api",
        ));
    }
    let ranking = analyse_logs(&window, &baseline, &LogSignalConfig::default());
    let top = &ranking.candidates[0];
    assert_eq!(top.entity, "cinder");
    assert_eq!(
        top.modules,
        [
            "cinder.image.image_utils",
            "cinder.volume.manager",
            "cinder.utils",
            "oslo_messaging.rpc.server"
        ],
        "{top:#?}"
    );
    assert!(!top.modules.iter().any(|m| m == "cinder.backup.api"));
    // The same error without its stack trace counts less.
    let plain: Vec<LogRecord> = window
        .iter()
        .map(|r| {
            let mut r = r.clone();
            r.message = r.message.lines().next().unwrap().to_string();
            r
        })
        .collect();
    let without = analyse_logs(&plain, &baseline, &LogSignalConfig::default());
    assert!(
        without.candidates[0].score < top.score,
        "{} vs {}",
        without.candidates[0].score,
        top.score
    );
}

/// Prose names a service capitalised ("the Cinder API"); other casings, and a name inside a
/// longer identifier, do not name it.
#[test]
fn a_service_is_named_as_written_or_capitalised() {
    let text = "The support for the Cinder API v2 is deprecated: InvalidInput";
    assert!(mentions_name(text, "cinder"));
    assert!(mentions_name("connection to cinder refused", "cinder"));
    assert!(
        !mentions_name(text, "api"),
        "\"API\" is not the service api"
    );
    assert!(!mentions_name("cinder-volume restarted", "cinder"));
    assert!(!mentions_name("CINDER down", "cinder"));
    assert!(mentions_name(
        "ts-order-service timed out",
        "ts-order-service"
    ));
}

/// One new message at three services is a shared symptom: each of them counts a third of a
/// message only one service writes. At three pods of one service it is that service's own.
#[test]
fn a_message_new_at_many_services_counts_less_at_each() {
    let mut baseline = Vec::new();
    let mut window = Vec::new();
    let writers = ["cart-0", "cart-1", "cart-2", "shipping-0"];
    for (n, writer) in writers.iter().enumerate() {
        let i = n as u64 * 100;
        routine(writer, "served request", i, &mut baseline, &mut window);
        let message = if writer.starts_with("cart") {
            "metric alert: container memory usage MB up"
        } else {
            "metric alert: container fs reads up"
        };
        window.push(rec(i + 90, 130 * SECOND, writer, Level::Warn, message));
    }
    let new_at = |findings: &[Finding], entity: &str| {
        findings
            .iter()
            .find(|f| f.evidence.entity == entity && f.evidence.id.starts_with("sig-new"))
            .map(|f| (f.contribution, f.evidence.summary.clone()))
            .unwrap_or_else(|| panic!("no new-message finding at {entity}"))
    };
    let config = LogSignalConfig::default();
    let (window, baseline) = (aggregate(&window, 3), aggregate(&baseline, 3));

    // Without a topology every pod is its own service: three writers share the message.
    let findings = log_findings(&window, &baseline, &config);
    let (shared, summary) = new_at(&findings, "cart-0");
    let (own, own_summary) = new_at(&findings, "shipping-0");
    assert!((own / shared - 3.0).abs() < 1e-9, "{own} vs {shared}");
    assert!(summary.contains("changed at 3 services"), "{summary}");
    assert!(!own_summary.contains("changed at"), "{own_summary}");

    // With the pods' service known, the three pods are one service.
    let mut graph = ServiceGraph::default();
    for pod in ["cart-0", "cart-1", "cart-2"] {
        graph.members.insert(pod.into(), "cart".into());
    }
    let findings = log_findings_in(&window, &baseline, &config, Some(&graph));
    let (one_service, summary) = new_at(&findings, "cart-0");
    assert!((one_service - own).abs() < 1e-9, "{one_service} vs {own}");
    assert!(!summary.contains("changed at"), "{summary}");
}

/// A caller that says its dependency failed, without naming it, is reporting a symptom: its
/// message counts half, like one that names the failing service.
#[test]
fn a_message_blaming_an_unnamed_dependency_counts_half() {
    let mut baseline = Vec::new();
    let mut window = Vec::new();
    let problems = [
        ("web", "an error occurred in the downstream service"),
        (
            "proxy",
            "upstream connect error or disconnect/reset before headers",
        ),
        ("db", "permission denied for relation users"),
    ];
    for (n, (service, problem)) in problems.iter().enumerate() {
        let i = n as u64 * 100;
        routine(service, "handled request", i, &mut baseline, &mut window);
        for k in 0..5 {
            window.push(rec(
                i + 80 + k,
                (130 + k as i64) * SECOND,
                service,
                Level::Error,
                problem,
            ));
        }
    }
    let findings = log_findings(
        &aggregate(&window, 3),
        &aggregate(&baseline, 3),
        &LogSignalConfig::default(),
    );
    let new_at = |entity: &str| {
        findings
            .iter()
            .find(|f| f.evidence.entity == entity && f.evidence.id.starts_with("sig-new"))
            .unwrap_or_else(|| panic!("no new-message finding at {entity}"))
    };
    let own = new_at("db");
    assert!(!own.evidence.summary.contains("reports a failure"));
    for caller in ["web", "proxy"] {
        let reported = new_at(caller);
        assert!(
            (own.contribution / reported.contribution - 2.0).abs() < 1e-9,
            "{caller}: {} vs {}",
            reported.contribution,
            own.contribution
        );
        assert!(
            reported
                .evidence
                .summary
                .contains("reports a failure of a service it calls"),
            "{}",
            reported.evidence.summary
        );
    }
}

/// A warning or error about memory or CPU names that resource as the fault, even when the
/// starved code threw; other problems keep their code-fault type.
#[test]
fn a_problem_naming_memory_or_cpu_is_that_resource() {
    let stat = |level: Level, sample: &str| {
        aggregate(&[rec(1, SECOND, "cart", level, sample)], 3).remove(0)
    };
    for (sample, fault) in [
        (
            "java.lang.OutOfMemoryError: Java heap space",
            FaultType::Memory,
        ),
        (
            "metric alert: docker memory usage pct up",
            FaultType::Memory,
        ),
        ("metric alert: system mem used up", FaultType::Memory),
        ("container was OOMKilled", FaultType::Memory),
        (
            "metric alert: container cpu usage seconds up",
            FaultType::Cpu,
        ),
        ("request handler throttled for 200ms", FaultType::Cpu),
        (
            "NullPointerException at com.example.Cart.total",
            FaultType::Exception,
        ),
        ("order not found", FaultType::WrongReturnValue),
        // A word that only contains a resource name does not name it.
        (
            "memoryless retry policy rejected",
            FaultType::WrongReturnValue,
        ),
    ] {
        assert_eq!(code_fault(&stat(Level::Error, sample)), fault, "{sample}");
    }
    // Routine lines that mention memory describe the service, not a fault.
    assert_eq!(
        code_fault(&stat(Level::Info, "memory cache warmed")),
        FaultType::WrongReturnValue
    );
}

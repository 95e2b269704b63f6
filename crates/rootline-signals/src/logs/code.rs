//! Where in a service's code a message points: its own package, the innermost own stack frames,
//! plumbing after the code that called it, and the code fault a message suggests (an exception,
//! a wrong return value, an exhausted resource).

use super::*;

/// Per service, the root package of its own code: the one most of its records' loggers belong
/// to. Frames outside it (libraries, the runtime) say where an error surfaced, not where the
/// service's code went wrong.
pub(super) fn own_code_roots<'a>(
    stats: impl Iterator<Item = &'a TemplateStat>,
) -> HashMap<String, String> {
    let mut loggers: BTreeMap<&str, Vec<(&str, u64)>> = BTreeMap::new();
    for s in stats {
        for m in &s.modules {
            loggers
                .entry(s.service.as_str())
                .or_default()
                .push((m.as_str(), s.count));
        }
    }
    loggers
        .into_iter()
        .filter_map(|(service, l)| own_code_root(l).map(|root| (service.to_string(), root)))
        .collect()
}

/// The code modules a template's records point at, most implicated first: the frames of the
/// service's own code, innermost first (where an exception was raised, or a bad value first
/// met), then the loggers that wrote the lines. Without known loggers every frame counts.
pub(super) fn implicated_modules(t: &TemplateStat, own_root: Option<&String>) -> Vec<String> {
    // Plumbing frames (an RPC stub, a helpers module) pass on what their caller handed them:
    // they go after the service's other frames.
    let (plumbing, code): (Vec<&String>, Vec<&String>) =
        own_frames(t, own_root).partition(|m| is_plumbing_module(m));
    let mut out: Vec<String> = code.into_iter().chain(plumbing).cloned().collect();
    for m in &t.modules {
        if !out.contains(m) {
            out.push(m.clone());
        }
    }
    out
}

/// A stack trace through the service's own code counts as what its lines would count as
/// separate findings (some loggers write each frame as a record of its own): each own frame adds
/// half as much as the one before, up to twice the message alone. One format or the other must
/// not decide which service ranks first. When a library raised it (the innermost frame is not
/// the service's own code), the frames add half as much: the service called something that
/// failed (on OpenStack, nova's libvirt traces in neutron faults).
pub(super) fn trace_weight(t: &TemplateStat, own_root: Option<&String>) -> f64 {
    let n = own_frames(t, own_root).count();
    let bonus = 1.0 - 0.5_f64.powi(n.min(30) as i32);
    // Raised inside a library (the innermost frame is not the service's own code): the
    // service's code called something that failed, weaker evidence that the fault is its own.
    let raised_here = t
        .frames
        .first()
        .is_some_and(|f| own_root.is_none_or(|root| module_root(f) == root));
    1.0 + if raised_here { bonus } else { 0.5 * bonus }
}

/// The template's stack frames in the service's own code, innermost first; every frame when
/// the service's own package is unknown.
pub(super) fn own_frames<'a>(
    t: &'a TemplateStat,
    own_root: Option<&'a String>,
) -> impl Iterator<Item = &'a String> {
    t.frames
        .iter()
        .filter(move |f| own_root.is_none_or(|root| module_root(f) == root))
}

/// The modules a new or bursting message points at, when it can point at a fault: a warning,
/// an error or a stack trace. A new routine message says the workload changed, not where code
/// broke, and there are many of them.
pub(super) fn faulty_modules(t: &TemplateStat, own_root: Option<&String>) -> Vec<String> {
    if severity(t.worst_level) >= 2 || !t.frames.is_empty() {
        implicated_modules(t, own_root)
    } else {
        vec![]
    }
}

/// The code fault a new or bursting message suggests. A stack trace or exception text means an
/// exception. Any other message, error or not, comes from code that kept running on a value it
/// did not expect ("not found", "failed", a different branch): a wrong return value upstream.
pub(super) fn code_fault(t: &TemplateStat) -> FaultType {
    if let Some(resource) = exhausted_resource(t) {
        return resource;
    }
    if mentions_exception(&t.sample) {
        FaultType::Exception
    } else {
        FaultType::WrongReturnValue
    }
}

/// The resource a warning or error says ran short or moved: memory (`OutOfMemoryError`,
/// "Cannot allocate memory", a memory alert) or CPU (a CPU alert, throttling). The starved code
/// may throw as well, but what it ran out of is the fault.
pub(super) fn exhausted_resource(t: &TemplateStat) -> Option<FaultType> {
    if severity(t.worst_level) < 2 {
        return None;
    }
    let memory = ["memory", "mem", "outofmemoryerror", "oom", "oomkilled"];
    let cpu = ["cpu", "throttled", "throttling"];
    if mentions_any_word(&t.sample, &memory) {
        Some(FaultType::Memory)
    } else if mentions_any_word(&t.sample, &cpu) {
        Some(FaultType::Cpu)
    } else {
        None
    }
}

/// Exception text, or a line of a stack trace (some loggers write each frame as its own record).
pub(super) fn mentions_exception(s: &str) -> bool {
    let l = s.to_ascii_lowercase();
    let t = l.trim_start();
    l.contains("exception")
        || l.contains("traceback")
        || l.contains("panic")
        || l.contains("caused by:")
        // Python frame: File "x.py", line 3, in f
        || (t.starts_with("file \"") && l.contains(", line "))
        // Java frame: at com.example.Foo.bar(Foo.java:42)
        || t.strip_prefix("at ").is_some_and(|rest| {
            rest.split_once('(').is_some_and(|(method, _)| {
                method.contains('.') && !method.contains(' ') && rest.ends_with(')')
            })
        })
        // Go: goroutine 7 [running]:
        || (t.starts_with("goroutine ") && l.contains('['))
}

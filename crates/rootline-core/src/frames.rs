//! Code modules named by stack traces, and which of them are a service's own code.
//!
//! A fault is injected (or written) in one code module; the exception it raises is often logged
//! by another (a dispatcher, a task runner). The innermost frame of the service's own code in
//! the trace is then the best pointer to where the fault is, better than the logger.

/// The line that opens a Python traceback.
pub const PYTHON_TRACEBACK_HEADER: &str = "Traceback (most recent call last):";

/// A line of a multi-line oslo.log message without the `[instance: <uuid>] ` tag oslo.log
/// repeats on every line of it.
pub fn without_oslo_instance_tag(line: &str) -> &str {
    line.strip_prefix("[instance: ")
        .and_then(|rest| rest.split_once("] "))
        .map_or(line, |(_, rest)| rest)
}

/// Makes room in a record's message for the traceback that is about to be joined onto it.
/// The traceback says where the code failed; the text before it can be a long state dump
/// (taskflow lists every predecessor task with its arguments). When that text already fills
/// more than half of `max_bytes`, it is cut to half, so that the frames still fit and the
/// lines after them are recognised as part of the traceback.
pub fn make_room_for_traceback(message: &mut String, max_bytes: usize) {
    let half = max_bytes / 2;
    if message.len() <= half {
        return;
    }
    let mut at = half;
    while !message.is_char_boundary(at) {
        at -= 1;
    }
    message.truncate(at);
    message.push_str(" …[cut]");
}

/// Code modules of the stack frames in `message`, innermost first, each once.
///
/// Python (`File "/…/site-packages/nova/compute/manager.py", line 3, in f`) frames become dotted
/// module names (`nova.compute.manager`); a Python traceback lists the innermost frame last.
/// Java (`at com.example.Foo.bar(Foo.java:42)`) frames become class names (`com.example.Foo`);
/// Java lists the innermost frame first, and the last `Caused by:` section is the root cause.
pub fn stack_frame_modules(message: &str) -> Vec<String> {
    let mut python: Vec<String> = Vec::new();
    // Java sections: the trace itself, then each `Caused by:`.
    let mut java: Vec<Vec<String>> = vec![vec![]];
    for line in message.lines() {
        let t = line.trim_start();
        if let Some(module) = python_frame(t) {
            python.push(module);
        } else if let Some(module) = java_frame(t) {
            java.last_mut().expect("one section").push(module);
        } else if t.starts_with("Caused by:") {
            java.push(vec![]);
        }
    }
    let mut out: Vec<String> = Vec::new();
    let innermost_first = python
        .into_iter()
        .rev()
        .chain(java.into_iter().rev().flatten());
    for m in innermost_first {
        if !out.contains(&m) {
            out.push(m);
        }
    }
    out
}

/// The stack frames of the records of one message, merged into one list: the path most of the
/// records took first, innermost frame first, then the frames only other paths add. Records of
/// one message can fail along different paths ("Cannot load 'instance'" from `servers.show`
/// once and from `build_request.get_by_filters` twice); the frame where most of them ended
/// should lead. With one path this is that path.
#[derive(Debug, Default, Clone)]
pub struct FrameTally {
    /// Distinct paths (innermost first) and how many records took each, in order of first
    /// appearance.
    paths: Vec<(Vec<String>, u32)>,
}

impl FrameTally {
    /// Adds the frames of one record's message.
    pub fn add_message(&mut self, message: &str) {
        self.add_frames(stack_frame_modules(message));
    }

    /// Adds one record's frames, innermost first (as [`stack_frame_modules`] returns them).
    pub fn add_frames(&mut self, frames: Vec<String>) {
        if frames.is_empty() {
            return;
        }
        match self.paths.iter_mut().find(|(p, _)| *p == frames) {
            Some((_, n)) => *n += 1,
            None => self.paths.push((frames, 1)),
        }
    }

    /// The modules, most implicated first.
    pub fn modules(&self) -> Vec<String> {
        let mut paths: Vec<&(Vec<String>, u32)> = self.paths.iter().collect();
        // Stable: paths taken equally often keep their order of first appearance.
        paths.sort_by_key(|p| std::cmp::Reverse(p.1));
        let mut out: Vec<String> = Vec::new();
        for m in paths.into_iter().flat_map(|(p, _)| p) {
            if !out.contains(m) {
                out.push(m.clone());
            }
        }
        out
    }
}

/// `File "path.py", line N, in f` → the module of `path`. The frame may follow a prefix some
/// loggers put on every line (`[instance: 8a1…] File "…"`).
fn python_frame(line: &str) -> Option<String> {
    let at = line.find("File \"")?;
    let rest = &line[at + "File \"".len()..];
    let (path, after) = rest.split_once('"')?;
    if !after.starts_with(", line ") {
        return None;
    }
    python_module(path)
}

/// A Python source path as a dotted module name: the part after the last `site-packages/` or
/// `dist-packages/` (installed code), else after `pythonX.Y/` (the standard library), else the
/// path itself.
fn python_module(path: &str) -> Option<String> {
    let path = path.strip_suffix(".py")?;
    let rel = ["site-packages/", "dist-packages/"]
        .iter()
        .filter_map(|marker| path.rfind(marker).map(|i| &path[i + marker.len()..]))
        .next()
        .or_else(|| {
            let i = path.find("/python")?;
            let after = &path[i + 1..];
            after.split_once('/').map(|(_, rest)| rest)
        })
        .unwrap_or(path);
    let rel = rel.trim_start_matches("./").trim_start_matches('/');
    let dotted = rel.replace('/', ".");
    let dotted = dotted.strip_suffix(".__init__").unwrap_or(&dotted);
    (!dotted.is_empty()).then(|| dotted.to_string())
}

/// `at com.example.Foo$Inner.bar(Foo.java:42)` → `com.example.Foo`.
fn java_frame(line: &str) -> Option<String> {
    let rest = line.strip_prefix("at ")?;
    let (method, _) = rest.split_once('(')?;
    if method.contains(' ') || !rest.trim_end().ends_with(')') {
        return None;
    }
    let (class, _) = method.rsplit_once('.')?;
    let class = class.split('$').next().unwrap_or(class);
    (!class.is_empty()).then(|| class.to_string())
}

/// Whether a module is plumbing by its name: an RPC client stub or serializer (`cinder.rpc`,
/// `nova.compute.rpcapi`) or a grab-bag of helpers (`cinder.utils`, `StringUtils`). They pass on
/// what their caller handed them, so an exception raised in them (a bad argument serialized, a
/// command run with a wrong parameter) usually points at the caller, the next frame out.
pub fn is_plumbing_module(module: &str) -> bool {
    let last = module.rsplit('.').next().unwrap_or(module);
    matches!(last, "rpc" | "rpcapi" | "utils" | "util" | "helpers")
        || ["Utils", "Util", "Helper", "Helpers"]
            .iter()
            .any(|suffix| last.len() > suffix.len() && last.ends_with(suffix))
}

/// The package a module belongs to: its first dotted segment, or the first two for reverse-DNS
/// names (`com.example.orders.Api` → `com.example`), where the first says nothing.
pub fn module_root(module: &str) -> &str {
    const REVERSE_DNS: [&str; 6] = ["com", "org", "net", "io", "edu", "dev"];
    let mut parts = module.splitn(3, '.');
    let first = parts.next().unwrap_or(module);
    match parts.next() {
        Some(second) if REVERSE_DNS.contains(&first) => &module[..first.len() + 1 + second.len()],
        _ => first,
    }
}

/// The root package of a service's own code: the one most of its log lines' loggers belong to
/// (`nova` for a service whose loggers are `nova.compute.manager`, `nova.virt.libvirt.driver`
/// and a few `oslo_messaging.*`). `None` when no logger is known.
pub fn own_code_root<'a>(loggers: impl IntoIterator<Item = (&'a str, u64)>) -> Option<String> {
    let mut weights: std::collections::BTreeMap<&str, u64> = std::collections::BTreeMap::new();
    for (module, count) in loggers {
        *weights.entry(module_root(module)).or_default() += count;
    }
    weights
        .into_iter()
        .max_by(|a, b| a.1.cmp(&b.1).then_with(|| b.0.cmp(a.0)))
        .map(|(root, _)| root.to_string())
}

/// A Python traceback through `modules` (outermost first, as Python prints them) that ends in
/// `exception`: a fixture for the tests here and in the crates that read frames.
#[doc(hidden)]
pub fn python_traceback(modules: &[&str], exception: &str) -> String {
    let mut lines = vec![PYTHON_TRACEBACK_HEADER.to_string()];
    lines.extend(
        modules
            .iter()
            .map(|m| format!("  File \"/usr/lib/python2.7/site-packages/{m}.py\", line 1, in f")),
    );
    lines.push(exception.to_string());
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_traceback_innermost_first() {
        let message = "Failed to copy image to volume\nTraceback (most recent call last):\n  \
File \"/usr/lib/python2.7/site-packages/cinder/volume/flows/manager/create_volume.py\", line 555, in _copy\n    \
context, volume)\n  File \"/usr/lib/python2.7/site-packages/cinder/image/image_utils.py\", line 285, in fetch\n    \
x()\n  File \"/usr/lib/python2.7/site-packages/cinder/image/image_utils.py\", line 197, in _convert\n  \
File \"/usr/lib/python2.7/site-packages/oslo_concurrency/processutils.py\", line 419, in execute\n  \
File \"/usr/lib64/python3.11/json/__init__.py\", line 3, in loads\n[instance: 8a1] File \"app/handlers.py\", line 9, in h\n\
ProcessExecutionError: Unexpected error";
        assert_eq!(
            stack_frame_modules(message),
            [
                "app.handlers",
                "json",
                "oslo_concurrency.processutils",
                "cinder.image.image_utils",
                "cinder.volume.flows.manager.create_volume",
            ]
        );
    }

    #[test]
    fn java_root_cause_section_first() {
        let message = "java.lang.RuntimeException: wrapped\n\tat com.example.api.Handler.handle(Handler.java:10)\n\
\tat org.springframework.web.Servlet.service(Servlet.java:5)\nCaused by: java.io.IOException: closed\n\
\tat com.example.store.Client$Conn.read(Client.java:42)\n\tat com.example.store.Repo.load(Repo.java:7)\n\t... 12 more";
        assert_eq!(
            stack_frame_modules(message),
            [
                "com.example.store.Client",
                "com.example.store.Repo",
                "com.example.api.Handler",
                "org.springframework.web.Servlet",
            ]
        );
    }

    #[test]
    fn plain_messages_have_no_frames() {
        for line in [
            "file saved, line count 3",
            "at least 3 replicas are needed (have 2)",
            "File \"x.txt\" was uploaded",
        ] {
            assert!(stack_frame_modules(line).is_empty(), "{line}");
        }
    }

    #[test]
    fn own_code_is_the_dominant_logger_package() {
        let loggers = [
            ("nova.compute.manager", 40),
            ("oslo_messaging.rpc.server", 30),
            ("nova.virt.libvirt.driver", 20),
        ];
        assert_eq!(own_code_root(loggers).as_deref(), Some("nova"));
        assert_eq!(module_root("com.example.orders.Api"), "com.example");
        assert_eq!(module_root("nova"), "nova");
        assert_eq!(own_code_root([]), None);
    }

    #[test]
    fn room_for_a_traceback_is_made_by_cutting_the_text_before_it() {
        let mut short = "Task failed".to_string();
        make_room_for_traceback(&mut short, 100);
        assert_eq!(short, "Task failed");
        // Multi-byte characters around the cut stay whole.
        let mut long = "é".repeat(80);
        make_room_for_traceback(&mut long, 100);
        assert!(long.len() <= 50 + " …[cut]".len(), "{}", long.len());
        assert!(long.ends_with("é …[cut]"), "{long}");
    }

    #[test]
    fn plumbing_modules_are_known_by_their_names() {
        for m in [
            "cinder.rpc",
            "nova.compute.rpcapi",
            "cinder.utils",
            "com.example.StringUtils",
        ] {
            assert!(is_plumbing_module(m), "{m}");
        }
        for m in [
            "cinder.image.image_utils",
            "nova.compute.manager",
            "Utils",
            "com.example.Api",
        ] {
            assert!(!is_plumbing_module(m), "{m}");
        }
    }

    #[test]
    fn frames_of_several_records_follow_the_path_most_of_them_took() {
        let trace = |modules: &[&str]| {
            python_traceback(modules, "NotImplementedError: Cannot load 'instance'")
        };
        // Outermost first, as Python prints them.
        let show = trace(&[
            "nova/api/servers",
            "nova/compute/api",
            "oslo_versionedobjects/base",
        ]);
        let list = trace(&[
            "nova/api/servers",
            "nova/compute/api",
            "nova/objects/build_request",
            "oslo_versionedobjects/base",
        ]);
        let mut one = FrameTally::default();
        one.add_message(&show);
        assert_eq!(one.modules(), stack_frame_modules(&show));
        let mut tally = FrameTally::default();
        for message in [&show, &list, &list] {
            tally.add_message(message);
        }
        assert_eq!(
            tally.modules(),
            [
                "oslo_versionedobjects.base",
                "nova.objects.build_request",
                "nova.compute.api",
                "nova.api.servers"
            ]
        );
    }
}

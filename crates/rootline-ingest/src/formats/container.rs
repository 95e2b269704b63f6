//! Kubernetes/Docker container logs: the Docker json-file wrapper
//! (`{"log":"...\n","stream":"stderr","time":"..."}`) and the CRI format written by containerd
//! and CRI-O (`2023-01-29T08:42:22.383150913Z stderr F message`, `P` for a partial line that the
//! next one continues). Also the pod and container that kubelet's file names give.

use std::borrow::Cow;
use std::path::Path;

use super::timestamp::{YearRule, timestamp_at};
use crate::parse::{LineContext, ParseError};

/// Which standard stream a container line was written to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stream {
    Stdout,
    Stderr,
}

impl Stream {
    pub fn parse(s: &str) -> Option<Stream> {
        match s {
            "stdout" => Some(Stream::Stdout),
            "stderr" => Some(Stream::Stderr),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// One line as the container runtime wrote it.
#[derive(Debug, Clone, PartialEq)]
pub struct ContainerLine<'a> {
    /// When the runtime received the line.
    pub ts_ns: i64,
    pub stream: Stream,
    /// The application's line continues in the next runtime line.
    pub partial: bool,
    /// The application's line, without the trailing newline.
    pub content: Cow<'a, str>,
}

/// `<RFC 3339 time> <stdout|stderr> <F|P> <content>`.
pub(crate) fn parse_cri(line: &str, years: YearRule) -> Option<ContainerLine<'_>> {
    let b = line.as_bytes();
    if !b.first()?.is_ascii_digit() {
        return None;
    }
    let found = timestamp_at(b, 0, years)?;
    let rest = line[found.end..].strip_prefix(' ')?;
    let (stream, rest) = rest.split_at_checked(6)?;
    let stream = Stream::parse(stream)?;
    let rest = rest.strip_prefix(' ')?;
    let (tag, content) = match rest.split_once(' ') {
        Some((tag, content)) => (tag, content),
        None => (rest, ""),
    };
    // The tag field is `F`/`P`, possibly followed by more `:`-separated tags in future versions.
    let partial = match tag.split(':').next() {
        Some("P") => true,
        Some("F") => false,
        _ => return None,
    };
    Some(ContainerLine {
        ts_ns: found.ts_ns,
        stream,
        partial,
        content: Cow::Borrowed(content),
    })
}

/// The container wrapper of a line, if it has one: CRI, or Docker json-file (only an object that
/// mentions `"stream"` is parsed for it). `Some(Err)` for a JSON line that is not valid.
pub(crate) fn unwrap<'a>(
    line: &'a str,
    ctx: &LineContext<'_>,
) -> Option<Result<ContainerLine<'a>, ParseError>> {
    let years = super::year_rule(ctx);
    if line.starts_with('{') {
        if !line.contains("\"stream\"") {
            return None;
        }
        let mapping = ctx.json_mapping.unwrap_or_else(|| super::default_mapping());
        return match super::json::read_object(line, mapping) {
            Ok(obj) => obj.docker(years).map(Ok),
            Err(e) => Some(Err(e)),
        };
    }
    parse_cri(line, years).map(Ok)
}

/// Pod and container named by a kubelet log path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KubeletPath {
    pub namespace: String,
    pub pod: String,
    pub container: String,
}

impl KubeletPath {
    /// `/var/log/pods/<ns>_<pod>_<uid>/<container>/<n>.log[.<rotation>][.gz]` or
    /// `/var/log/containers/<pod>_<ns>_<container>-<64 hex id>.log`.
    pub fn from_path(path: &Path) -> Option<KubeletPath> {
        let name = path.file_name()?.to_str()?;
        let parent = path.parent()?;
        // /var/log/containers/...: the file name says it all.
        if let Some(stem) = name.strip_suffix(".log")
            && let [pod, ns, rest] = stem.split('_').collect::<Vec<_>>()[..]
            && let Some((container, id)) = rest.rsplit_once('-')
            && id.len() == 64
            && id.bytes().all(|c| c.is_ascii_hexdigit())
            && ![pod, ns, container].iter().any(|s| s.is_empty())
        {
            return Some(KubeletPath {
                namespace: ns.to_string(),
                pod: pod.to_string(),
                container: container.to_string(),
            });
        }
        // /var/log/pods/<ns>_<pod>_<uid>/<container>/0.log
        if !name.as_bytes().first()?.is_ascii_digit() || !name.contains(".log") {
            return None;
        }
        let container = parent.file_name()?.to_str()?;
        let pod_dir = parent.parent()?.file_name()?.to_str()?;
        let [ns, pod, uid] = pod_dir.split('_').collect::<Vec<_>>()[..] else {
            return None;
        };
        if ns.is_empty() || pod.is_empty() || uid.len() < 8 || container.is_empty() {
            return None;
        }
        Some(KubeletPath {
            namespace: ns.to_string(),
            pod: pod.to_string(),
            container: container.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cri_lines() {
        let c = parse_cri(
            "2023-01-29T08:42:22.383150913Z stderr F hello world",
            YearRule::default(),
        )
        .unwrap();
        assert_eq!(
            (c.ts_ns, c.stream, c.partial, &*c.content),
            (
                1_674_981_742_383_150_913,
                Stream::Stderr,
                false,
                "hello world"
            )
        );
        let p = parse_cri(
            "2023-01-29T08:42:22Z stdout P  indented",
            YearRule::default(),
        )
        .unwrap();
        assert!(p.partial);
        assert_eq!(&*p.content, " indented");
        assert!(parse_cri("2023-01-29T08:42:22Z INFO started", YearRule::default()).is_none());
    }

    #[test]
    fn kubelet_paths() {
        let p = KubeletPath::from_path(Path::new(
            "/var/log/pods/shop_checkout-7d9f8b6c5-x2k4j_0b5e2f4a-1c2d-4e5f-8a9b-0c1d2e3f4a5b/server/0.log",
        ))
        .unwrap();
        assert_eq!(
            (p.namespace.as_str(), p.pod.as_str(), p.container.as_str()),
            ("shop", "checkout-7d9f8b6c5-x2k4j", "server")
        );
        let id = "a".repeat(64);
        let p = KubeletPath::from_path(Path::new(&format!(
            "/var/log/containers/redis-0_cache_redis-{id}.log"
        )))
        .unwrap();
        assert_eq!((p.pod.as_str(), p.container.as_str()), ("redis-0", "redis"));
        assert!(KubeletPath::from_path(Path::new("/var/log/app_x_y.log")).is_none());
    }
}

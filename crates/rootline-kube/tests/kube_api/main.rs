//! The collector against a local server that speaks the Kubernetes API (paths, List envelopes,
//! `continue` tokens, newline-delimited watch streams, BOOKMARK and 410 Gone), serving objects
//! recorded on real clusters (`fixtures/ATTRIBUTION.md`). No cluster is needed, and no test
//! waits on a clock: each waits for a request or an object to arrive (the timeouts below only
//! turn a hang into a failure). One test binary: `snapshot` and `watch` hold the tests, this
//! file the sink and runner they share, `support` the server.

mod snapshot;
mod support;
mod watch;

use std::future::Future;
use std::path::Path;
use std::time::Duration;

use rootline_kube::{
    EventType, KubeError, KubeSettings, Observed, Relist, Sink, SinkError, WatchSummary, watch,
};
use serde_json::Value;
use support::{ApiServer, fixture};
use tokio::sync::{mpsc, oneshot};

pub const PODS: &str = "/api/v1/namespaces/default/pods";
pub const EVENTS: &str = "/api/v1/namespaces/default/events";
pub const DEPLOYMENTS: &str = "/apis/apps/v1/namespaces/default/deployments";

/// Turns a hang into a failure; never an assertion about how long something took.
pub async fn bounded<T>(what: &str, future: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(30), future)
        .await
        .unwrap_or_else(|_| panic!("hung: {what}"))
}

pub fn settings(server: &ApiServer, resources: &[&str]) -> KubeSettings {
    KubeSettings {
        namespaces: vec!["default".to_string()],
        resources: resources.iter().map(|r| r.to_string()).collect(),
        ..KubeSettings::for_test_server(&server.url)
    }
}

#[derive(Debug)]
pub enum Seen {
    Object(Observed),
    Relist(Relist),
}

/// Forwards what the watcher hands over to the test; refuses objects whose name `refuse` names.
pub struct Recorder {
    pub out: mpsc::UnboundedSender<Seen>,
    pub refuse: Option<&'static str>,
}

impl Sink for Recorder {
    async fn accept(&mut self, observed: Observed) -> Result<(), SinkError> {
        if self.refuse == observed.object["metadata"]["name"].as_str() {
            return Err("the store is full".into());
        }
        self.out
            .send(Seen::Object(observed))
            .map_err(|e| e.to_string())?;
        Ok(())
    }

    async fn relisted(&mut self, relist: Relist) -> Result<(), SinkError> {
        self.out
            .send(Seen::Relist(relist))
            .map_err(|e| e.to_string())?;
        Ok(())
    }
}

pub struct Run {
    pub seen: mpsc::UnboundedReceiver<Seen>,
    stop: Option<oneshot::Sender<()>>,
    pub task: tokio::task::JoinHandle<Result<WatchSummary, KubeError>>,
}

impl Run {
    pub fn start(settings: &KubeSettings, checkpoint: &Path, refuse: Option<&'static str>) -> Self {
        let (out, seen) = mpsc::unbounded_channel();
        let (stop, stopped) = oneshot::channel::<()>();
        let settings = settings.clone();
        let checkpoint = checkpoint.to_path_buf();
        let task = tokio::spawn(async move {
            let mut sink = Recorder { out, refuse };
            let shutdown = async move {
                let _ = stopped.await;
            };
            watch(&settings, &checkpoint, &mut sink, shutdown).await
        });
        Self {
            seen,
            stop: Some(stop),
            task,
        }
    }

    /// The next `n` things the sink accepted.
    pub async fn take(&mut self, n: usize) -> Vec<Seen> {
        let mut out = Vec::new();
        while out.len() < n {
            match bounded("the sink", self.seen.recv()).await {
                Some(next) => out.push(next),
                None => {
                    let result = bounded("the watcher", &mut self.task).await;
                    panic!("the watcher ended early: {result:?}");
                }
            }
        }
        out
    }

    pub async fn stop(mut self) -> Result<WatchSummary, KubeError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let result = bounded("the watcher stopping", self.task).await.unwrap();
        assert!(self.seen.try_recv().is_err(), "nothing after the stop");
        result
    }
}

pub fn objects(seen: Vec<Seen>) -> Vec<Observed> {
    seen.into_iter()
        .map(|s| match s {
            Seen::Object(o) => o,
            Seen::Relist(r) => panic!("unexpected relist {r:?}"),
        })
        .collect()
}

/// (resource, event, name, resourceVersion) of an observed object.
pub fn tag(o: &Observed) -> (String, EventType, String, String) {
    let name = o.object["metadata"]["name"]
        .as_str()
        .unwrap_or("")
        .to_string();
    (
        o.resource.clone(),
        o.event,
        name,
        o.resource_version.clone(),
    )
}

pub fn checkpoint_versions(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap();
    let file: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(file["format"], 1);
    file["resource_versions"].clone()
}

/// The five events of the recorded pod start-up (Scheduled, Pulling, Pulled, Created, Started).
pub fn startup_events() -> Vec<Value> {
    fixture("events-frontend-service.json")
        .as_array()
        .unwrap()
        .clone()
}

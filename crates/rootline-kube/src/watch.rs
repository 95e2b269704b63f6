//! The watcher: LIST each collection once, then WATCH it from the list's resource version,
//! handing every object to a sink and checkpointing the last resource version the sink accepted,
//! so that a restart resumes the WATCH exactly where the last run stopped.
//!
//! Why the raw watch API and not `kube::runtime::watcher`: the runtime watcher decides itself
//! when to re-list and does not take a resource version to start from, so a restart would always
//! re-list (duplicating every object) and events between the two runs could not be told apart
//! from state. Here each collection is a small state machine (`Feed`): list (paginated),
//! watch from the list's version with `allowWatchBookmarks=true`, re-watch from the last seen
//! version when the server ends the watch (`timeoutSeconds`), and re-list only on 410 Gone
//! (as an HTTP status or as an `ERROR` event in the stream), which the sink hears about through
//! [`Sink::relisted`] before the fresh `Listed` objects arrive.
//!
//! Ordering and durability: all collections are merged into one loop that calls the sink one
//! object at a time and, after the sink returned `Ok`, writes the checkpoint. Listed objects
//! checkpoint the list's version only after the last of them was accepted; a bookmark
//! checkpoints its version directly. A sink error stops the run before the checkpoint moves, so
//! the refused object is delivered again by the next run. The shutdown future is checked only
//! between objects: a stop never interrupts a sink call or a checkpoint write.

use std::collections::VecDeque;
use std::future::Future;
use std::path::Path;
use std::time::Duration;

use futures::StreamExt;
use futures::stream::{self, BoxStream};
use kube::Client;
use kube::api::{WatchEvent, WatchParams};
use kube::core::Request;
use serde::Serialize;
use serde_json::Value;

use crate::checkpoint::Checkpoint;
use crate::list::{self, api_error, bad_object, checked_object, resource_version_of};
use crate::settings::Target;
use crate::{KubeError, KubeSettings, SinkError};

/// Transport failures in a row (connection reset, read error) before a watch gives up.
const MAX_FAILURES: u32 = 5;
/// Pause before watching again after a WATCH that ended without a single event.
const QUIET_PAUSE: Duration = Duration::from_secs(1);

/// How an object was observed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum EventType {
    /// Part of a LIST (the state at the list's resource version).
    Listed,
    Added,
    Modified,
    Deleted,
}

/// One object handed to the sink.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Observed {
    /// The plural resource name: `pods`, `events`, `deployments`, ...
    pub resource: String,
    pub event: EventType,
    /// The object as the API server returned it, with `kind` and `apiVersion` filled in.
    pub object: Value,
    /// The object's `metadata.resourceVersion`.
    pub resource_version: String,
}

/// A collection's saved resource version expired (410 Gone) and it is being listed again: the
/// `Listed` objects that follow replace what the sink knew of it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Relist {
    pub resource: String,
    /// The namespace, or `None` for all namespaces or a cluster-scoped kind.
    pub namespace: Option<String>,
    /// The resource version that was too old.
    pub expired_version: String,
    /// The server's message, e.g. "too old resource version: 1240100 (1240320)".
    pub message: String,
}

/// Where observed objects go. Called one object at a time; the checkpoint moves only after
/// `accept` returned `Ok`. An `Err` stops the watcher.
pub trait Sink: Send {
    fn accept(&mut self, observed: Observed) -> impl Future<Output = Result<(), SinkError>> + Send;

    /// Told before a collection is listed again after 410 Gone. The default does nothing.
    fn relisted(&mut self, relist: Relist) -> impl Future<Output = Result<(), SinkError>> + Send {
        drop(relist);
        async { Ok(()) }
    }
}

/// What one run of the watcher did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WatchSummary {
    /// Objects the sink accepted.
    pub delivered: u64,
    /// Bookmarks that moved the checkpoint.
    pub bookmarks: u64,
    /// Re-lists after 410 Gone.
    pub relists: u64,
    /// Bad objects and unreadable watch lines skipped (each logged with `tracing`).
    pub skipped: u64,
}

/// One unit of work the merge loop applies.
enum Step {
    Object(Observed),
    /// A list is complete: its resource version may be checkpointed.
    Synced(String),
    Bookmark(String),
    Relisted(Relist),
    Skipped(KubeError),
}

/// The list/watch state machine of one collection.
struct Feed {
    client: Client,
    target: Target,
    page_size: u32,
    params: WatchParams,
    /// Where the next WATCH starts; `None` means the collection must be listed first.
    version: Option<String>,
    pending: VecDeque<Step>,
    events: Option<BoxStream<'static, kube::Result<WatchEvent<Value>>>>,
    failures: u32,
    /// Whether the current WATCH delivered anything: one that ends empty is watched again only
    /// after a pause, so a server or proxy that closes at once is not hammered.
    heard: bool,
}

impl Feed {
    async fn next(&mut self) -> Result<Step, KubeError> {
        loop {
            if let Some(step) = self.pending.pop_front() {
                return Ok(step);
            }
            let Some(version) = self.version.clone() else {
                self.list().await?;
                continue;
            };
            let Some(events) = self.events.as_mut() else {
                self.open(&version).await?;
                continue;
            };
            match events.next().await {
                // The server ended the watch (timeoutSeconds): watch again from `version`.
                None => {
                    self.events = None;
                    if !self.heard {
                        tokio::time::sleep(QUIET_PAUSE).await;
                    }
                }
                Some(Ok(event)) => {
                    self.failures = 0;
                    self.heard = true;
                    if let Some(step) = self.event(event, &version)? {
                        return Ok(step);
                    }
                }
                Some(Err(kube::Error::SerdeError(e))) => {
                    let reason = format!("unreadable watch event: {e}");
                    return Ok(Step::Skipped(bad_object(&self.target, reason)));
                }
                Some(Err(kube::Error::Api(status))) => {
                    self.status(&version, status.code, &status.reason, &status.message)?;
                }
                Some(Err(e)) => {
                    self.events = None;
                    self.retry(e).await?;
                }
            }
        }
    }

    async fn list(&mut self) -> Result<(), KubeError> {
        let listing = list::list(&self.client, &self.target, self.page_size).await?;
        self.pending
            .extend(listing.skipped.into_iter().map(Step::Skipped));
        for object in listing.objects {
            self.pending.push_back(Step::Object(Observed {
                resource: self.target.kind.resource.to_string(),
                event: EventType::Listed,
                resource_version: resource_version_of(&object).to_string(),
                object,
            }));
        }
        self.pending
            .push_back(Step::Synced(listing.resource_version.clone()));
        self.version = Some(listing.resource_version);
        Ok(())
    }

    async fn open(&mut self, version: &str) -> Result<(), KubeError> {
        let request = Request::new(&self.target.path)
            .watch(&self.params, version)
            .map_err(|e| api_error("watch", &self.target, kube::Error::BuildRequest(e)))?;
        match self.client.request_events::<Value>(request).await {
            Ok(events) => {
                self.events = Some(events.boxed());
                self.heard = false;
            }
            Err(kube::Error::Api(status)) => {
                self.status(version, status.code, &status.reason, &status.message)?;
            }
            Err(e) => self.retry(e).await?,
        }
        Ok(())
    }

    /// A transport error: wait and watch again from the same version, up to `MAX_FAILURES` times.
    async fn retry(&mut self, error: kube::Error) -> Result<(), KubeError> {
        self.failures += 1;
        if self.failures > MAX_FAILURES {
            return Err(api_error("watch", &self.target, error));
        }
        let wait = Duration::from_millis(250 << self.failures);
        tracing::warn!(
            resource = self.target.kind.resource,
            scope = %self.target.scope(),
            path = %self.target.path,
            %error,
            attempt = self.failures,
            "watch failed; watching again from the last resource version"
        );
        tokio::time::sleep(wait).await;
        Ok(())
    }

    /// A Status from the server: 410 Gone re-lists, anything else stops the watcher.
    fn status(
        &mut self,
        version: &str,
        code: u16,
        reason: &str,
        message: &str,
    ) -> Result<(), KubeError> {
        if code != 410 {
            return Err(KubeError::WatchStatus {
                resource: self.target.kind.resource.to_string(),
                scope: self.target.scope(),
                path: self.target.path.clone(),
                code,
                reason: reason.to_string(),
                message: message.to_string(),
            });
        }
        tracing::warn!(
            resource = self.target.kind.resource,
            scope = %self.target.scope(),
            path = %self.target.path,
            expired = version,
            message,
            "resource version expired (410 Gone); listing again"
        );
        self.events = None;
        self.version = None;
        self.pending.push_back(Step::Relisted(Relist {
            resource: self.target.kind.resource.to_string(),
            namespace: self.target.namespace.clone(),
            expired_version: version.to_string(),
            message: message.to_string(),
        }));
        Ok(())
    }

    fn event(
        &mut self,
        event: WatchEvent<Value>,
        version: &str,
    ) -> Result<Option<Step>, KubeError> {
        let (event, object) = match event {
            WatchEvent::Added(o) => (EventType::Added, o),
            WatchEvent::Modified(o) => (EventType::Modified, o),
            WatchEvent::Deleted(o) => (EventType::Deleted, o),
            WatchEvent::Bookmark(bookmark) => {
                let next = bookmark.metadata.resource_version;
                self.version = Some(next.clone());
                return Ok(Some(Step::Bookmark(next)));
            }
            WatchEvent::Error(status) => {
                self.status(version, status.code, &status.reason, &status.message)?;
                return Ok(None);
            }
        };
        let object = match checked_object(&self.target, object) {
            Ok(object) => object,
            Err(reason) => return Ok(Some(Step::Skipped(bad_object(&self.target, reason)))),
        };
        let resource_version = resource_version_of(&object).to_string();
        if resource_version.is_empty() {
            let reason = "watch event object has no metadata.resourceVersion".to_string();
            return Ok(Some(Step::Skipped(bad_object(&self.target, reason))));
        }
        self.version = Some(resource_version.clone());
        Ok(Some(Step::Object(Observed {
            resource: self.target.kind.resource.to_string(),
            event,
            object,
            resource_version,
        })))
    }
}

/// Lists and watches every collection of `settings` until `shutdown` completes or something
/// fails, handing objects to `sink` and keeping `checkpoint_path` at the last accepted resource
/// version of each collection. With a checkpoint present, collections it names are watched from
/// the saved version without a LIST.
pub async fn watch<S: Sink>(
    settings: &KubeSettings,
    checkpoint_path: &Path,
    sink: &mut S,
    shutdown: impl Future<Output = ()>,
) -> Result<WatchSummary, KubeError> {
    let connection = settings.connect().await?;
    let mut checkpoint = Checkpoint::load(checkpoint_path, &connection.server).await?;
    let params = WatchParams::default().timeout(settings.watch_timeout_secs);
    let targets = connection.targets;
    let feeds = targets.iter().enumerate().map(|(index, target)| {
        let version = checkpoint.get(&target.key()).map(str::to_string);
        if let Some(version) = &version {
            tracing::info!(key = %target.key(), version, "resuming watch from checkpoint");
        }
        let feed = Feed {
            client: connection.client.clone(),
            target: target.clone(),
            page_size: settings.page_size,
            params: params.clone(),
            version,
            pending: VecDeque::new(),
            events: None,
            failures: 0,
            heard: false,
        };
        stream::unfold(feed, move |mut feed| async move {
            let step = feed.next().await;
            Some(((index, step), feed))
        })
        .boxed()
    });
    let mut steps = stream::select_all(feeds);
    let mut summary = WatchSummary::default();
    tokio::pin!(shutdown);
    loop {
        let (index, step) = tokio::select! {
            biased;
            () = &mut shutdown => break,
            next = steps.next() => match next {
                Some(next) => next,
                None => break,
            },
        };
        let target = &targets[index];
        let sink_error = |resource_version: &str, source: SinkError| KubeError::Sink {
            resource: target.kind.resource.to_string(),
            scope: target.scope(),
            resource_version: resource_version.to_string(),
            source,
        };
        match step? {
            Step::Object(observed) => {
                let listed = observed.event == EventType::Listed;
                let version = observed.resource_version.clone();
                sink.accept(observed)
                    .await
                    .map_err(|e| sink_error(&version, e))?;
                summary.delivered += 1;
                if !listed {
                    checkpoint.advance(&target.key(), &version).await?;
                }
            }
            Step::Synced(version) => checkpoint.advance(&target.key(), &version).await?,
            Step::Bookmark(version) => {
                summary.bookmarks += 1;
                checkpoint.advance(&target.key(), &version).await?;
            }
            Step::Relisted(relist) => {
                summary.relists += 1;
                let version = relist.expired_version.clone();
                sink.relisted(relist)
                    .await
                    .map_err(|e| sink_error(&version, e))?;
            }
            Step::Skipped(error) => {
                summary.skipped += 1;
                tracing::warn!(%error, "skipped a bad object");
            }
        }
    }
    Ok(summary)
}

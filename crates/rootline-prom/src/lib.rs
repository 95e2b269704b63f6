//! Pulls the metrics of an incident from a Prometheus-compatible HTTP API (Prometheus, Thanos,
//! Mimir, VictoriaMetrics: the same `/api/v1/query_range`), so a team that already runs one does
//! not have to push files into rootline. Why a crate of its own: it is the one place that speaks
//! that API (one crate per IO technology); it turns answers into `rootline_core::Series` and
//! knows nothing of the ranking.
//!
//! What is fetched ([`selectors`]): a documented default set of PromQL queries following the
//! usual conventions (RED metrics from `http_server_*` / `http_requests_*` histograms and
//! counters and their OpenTelemetry names, `up`, cAdvisor and kube-state-metrics container CPU,
//! memory, restarts and OOM kills), plus the queries a team adds in `[prometheus] queries`. Each
//! query runs once per time range (the window, and each baseline range) with a step chosen from
//! the range's length ([`step_for`]).
//!
//! Labels become entities by the same documented rule as pushed metrics
//! (`rootline_ingest::metrics::entity_of`: `service`, `service.name`, `app`, `job`, then a pod's
//! service, ...).
//!
//! Failure is partial, never fatal: a query that times out, is refused or answers an error is
//! reported as a [`Problem`] naming the query and the range, and the investigation goes on with
//! what the other queries returned. Credentials (basic or bearer) go only to the configured URL.

pub mod selectors;

use std::collections::BTreeMap;
use std::time::Duration;

use rootline_core::MetricPoint;
use serde::{Deserialize, Serialize};

pub use selectors::{NamedQuery, default_queries};

/// `[prometheus]` in the config file; `--prometheus-url` overrides `url`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PromSettings {
    /// Base URL of the query API, e.g. `http://prometheus:9090` (the `/api/v1/...` paths are
    /// appended). None: nothing is pulled.
    pub url: Option<String>,
    /// `Authorization: Bearer` token, when the API needs one.
    pub bearer_token: Option<String>,
    /// Basic auth, when the API needs it (both or neither).
    pub username: Option<String>,
    pub password: Option<String>,
    /// Extra headers sent with every query, e.g. `X-Scope-OrgID` for a multi-tenant Mimir or
    /// Cortex.
    pub headers: BTreeMap<String, String>,
    /// Seconds one query may take before it is given up (and reported).
    pub timeout_secs: u64,
    /// Whether the documented default queries run ([`default_queries`]).
    pub default_queries: bool,
    /// The label that names a service in these metrics (`service`, `job`, `app`, ...): when set,
    /// the service-level default queries are narrowed to the incident's services and their
    /// neighbours (see [`selectors`]). None (the default): nothing is narrowed.
    pub focus_label: Option<String>,
    /// Queries the team adds: `[[prometheus.queries]] name = "...", query = "..."`.
    pub queries: Vec<NamedQuery>,
}

impl Default for PromSettings {
    fn default() -> Self {
        PromSettings {
            url: None,
            bearer_token: None,
            username: None,
            password: None,
            headers: BTreeMap::new(),
            timeout_secs: 10,
            default_queries: true,
            focus_label: None,
            queries: Vec::new(),
        }
    }
}

impl PromSettings {
    /// Every query that runs: the defaults (when on, narrowed to `focus` when a focus label is
    /// set), then the team's.
    pub fn all_queries(&self, focus: &[String]) -> Vec<NamedQuery> {
        let matcher = self
            .focus_label
            .as_deref()
            .map_or_else(String::new, |label| selectors::focus_matcher(label, focus));
        let mut q = if self.default_queries {
            default_queries(&matcher)
        } else {
            Vec::new()
        };
        q.extend(self.queries.iter().cloned());
        q
    }
}

/// A query that returned nothing usable, and why: shown to the engineer, never fatal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub query: String,
    pub reason: String,
}

/// What a pull brought back.
#[derive(Debug, Default)]
pub struct Pulled {
    pub points: Vec<MetricPoint>,
    /// Series (distinct keys) among the points.
    pub series: usize,
    pub problems: Vec<Problem>,
}

#[derive(Debug, thiserror::Error)]
pub enum PromError {
    #[error("prometheus: {0}")]
    Config(String),
}

/// The step for a range of `len_ns`: about 120 points, at least 15 s and at most 5 minutes, a
/// whole number of seconds.
pub fn step_for(len_ns: i64) -> Duration {
    let secs = (len_ns.max(0) / 1_000_000_000) / 120;
    Duration::from_secs(secs.clamp(15, 300) as u64)
}

/// A client for one query API.
pub struct PromClient {
    http: reqwest::Client,
    base: String,
    settings: PromSettings,
}

impl PromClient {
    /// A client for `settings.url`; an error when there is none or it is not http(s), or when
    /// basic auth is half given.
    pub fn new(settings: &PromSettings) -> Result<PromClient, PromError> {
        let url = settings
            .url
            .as_deref()
            .ok_or_else(|| PromError::Config("no url configured".into()))?;
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(PromError::Config(format!(
                "url {url:?} must start with http:// or https://"
            )));
        }
        for (name, value) in &settings.headers {
            if reqwest::header::HeaderName::from_bytes(name.as_bytes()).is_err()
                || reqwest::header::HeaderValue::from_str(value).is_err()
            {
                return Err(PromError::Config(format!(
                    "headers: {name:?} is not a valid HTTP header"
                )));
            }
        }
        if settings.username.is_some() != settings.password.is_some() {
            return Err(PromError::Config(
                "basic auth needs both username and password".into(),
            ));
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(settings.timeout_secs.max(1)))
            // Credentials go to the configured URL only: never follow a redirect elsewhere.
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| PromError::Config(e.to_string()))?;
        Ok(PromClient {
            http,
            base: url.trim_end_matches('/').to_string(),
            settings: settings.clone(),
        })
    }

    /// Runs every query over every range (unix ns, start inclusive, end inclusive); `focus`:
    /// the services to narrow to (when a focus label is set).
    pub async fn pull(&self, ranges: &[(i64, i64)], focus: &[String]) -> Pulled {
        let mut pulled = Pulled::default();
        let mut keys = std::collections::BTreeSet::new();
        for q in self.settings.all_queries(focus) {
            for &(start, end) in ranges {
                match self.query_range(&q, start, end).await {
                    Ok(points) => {
                        for p in points {
                            keys.insert(p.series_key());
                            pulled.points.push(p);
                        }
                    }
                    Err(reason) => pulled.problems.push(Problem {
                        query: q.name.clone(),
                        reason,
                    }),
                }
            }
        }
        pulled.series = keys.len();
        pulled
    }

    /// One `query_range` call; the error is a sentence naming what went wrong.
    pub async fn query_range(
        &self,
        q: &NamedQuery,
        start_ns: i64,
        end_ns: i64,
    ) -> Result<Vec<MetricPoint>, String> {
        let step = step_for(end_ns - start_ns);
        let secs = |ns: i64| format!("{:.3}", ns as f64 / 1e9);
        let mut req = self
            .http
            .get(format!("{}/api/v1/query_range", self.base))
            .query(&[
                ("query", q.query.as_str()),
                ("start", &secs(start_ns)),
                ("end", &secs(end_ns)),
                ("step", &format!("{}s", step.as_secs())),
            ]);
        for (name, value) in &self.settings.headers {
            req = req.header(name.as_str(), value.as_str());
        }
        if let Some(t) = &self.settings.bearer_token {
            req = req.bearer_auth(t);
        } else if let (Some(u), Some(p)) = (&self.settings.username, &self.settings.password) {
            req = req.basic_auth(u, Some(p));
        }
        let reply = req.send().await.map_err(|e| {
            if e.is_timeout() {
                format!(
                    "no answer within {} s (timeout_secs)",
                    self.settings.timeout_secs
                )
            } else {
                format!("cannot reach {}: {e}", self.base)
            }
        })?;
        let status = reply.status();
        let body: Answer = reply
            .json()
            .await
            .map_err(|e| format!("HTTP {status}, not a query API answer: {e}"))?;
        if body.status != "success" {
            return Err(format!(
                "HTTP {status}: {} {}",
                body.error_type.unwrap_or_default(),
                body.error.unwrap_or_default()
            )
            .trim()
            .to_string());
        }
        let data = body.data.ok_or("the answer has no data")?;
        if data.result_type != "matrix" {
            return Err(format!(
                "expected a range vector (matrix), got {}",
                data.result_type
            ));
        }
        Ok(points_of(&q.name, data.result))
    }
}

/// The query API's answer (only what is read).
#[derive(Deserialize)]
struct Answer {
    status: String,
    #[serde(rename = "errorType")]
    error_type: Option<String>,
    error: Option<String>,
    data: Option<Data>,
}

#[derive(Deserialize)]
struct Data {
    #[serde(rename = "resultType")]
    result_type: String,
    #[serde(default)]
    result: Vec<Matrix>,
}

#[derive(Deserialize)]
struct Matrix {
    #[serde(default)]
    metric: BTreeMap<String, String>,
    #[serde(default)]
    values: Vec<(f64, String)>,
}

/// Samples as points named by the query's name; `__name__` is dropped (the query names the
/// series); values that are not finite numbers (`NaN`, `+Inf`) are skipped.
fn points_of(name: &str, result: Vec<Matrix>) -> Vec<MetricPoint> {
    let mut out = Vec::new();
    for m in result {
        let mut labels = m.metric;
        labels.remove("__name__");
        let entity = rootline_ingest::metrics::entity_of(&labels);
        for (ts, v) in m.values {
            let Ok(value) = v.parse::<f64>() else {
                continue;
            };
            if !value.is_finite() {
                continue;
            }
            out.push(MetricPoint {
                name: name.to_string(),
                labels: labels.clone(),
                entity: entity.clone(),
                ts_ns: (ts * 1e9).round() as i64,
                value,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_follow_the_range() {
        assert_eq!(step_for(10 * 60 * 1_000_000_000).as_secs(), 15);
        assert_eq!(step_for(2 * 3600 * 1_000_000_000).as_secs(), 60);
        assert_eq!(step_for(48 * 3600 * 1_000_000_000).as_secs(), 300);
    }

    #[test]
    fn a_matrix_becomes_points_with_entities() {
        let answer: Answer = serde_json::from_str(
            r#"{"status":"success","data":{"resultType":"matrix","result":[
                {"metric":{"__name__":"up","job":"checkout","instance":"10.0.0.1:8080"},
                 "values":[[1700000000,"1"],[1700000015.5,"0"],[1700000030,"NaN"]]}]}}"#,
        )
        .unwrap();
        let points = points_of("up", answer.data.unwrap().result);
        assert_eq!(points.len(), 2);
        assert_eq!(points[0].entity.as_deref(), Some("checkout"));
        assert_eq!(points[1].ts_ns, 1_700_000_015_500_000_000);
        assert_eq!(points[1].value, 0.0);
        assert!(!points[0].labels.contains_key("__name__"));
    }

    #[test]
    fn settings_are_checked() {
        assert!(PromClient::new(&PromSettings::default()).is_err());
        let s = PromSettings {
            url: Some("prometheus:9090".into()),
            ..Default::default()
        };
        assert!(PromClient::new(&s).is_err());
        let s = PromSettings {
            url: Some("http://p:9090".into()),
            username: Some("u".into()),
            ..Default::default()
        };
        assert!(PromClient::new(&s).is_err());
    }
}

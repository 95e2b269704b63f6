//! Executors: what runs an approved action. [`DryRunExecutor`] (the default) only describes it;
//! [`WebhookExecutor`] POSTs it, HMAC-signed, to a configured URL.
//!
//! Both take an [`ApprovedAction`] by value, so only an authorised action reaches them and each
//! authorisation runs at most once; both re-check its deadline and content hash at the moment
//! they run.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use chrono::Utc;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::approval::ApprovedAction;
use crate::model::ExecutionOutcome;

/// A boxed, sendable future, so that [`Executor`] stays object safe (`Arc<dyn Executor>`).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Runs approved actions. Implementations never fail with an error: whatever happens becomes
/// the [`ExecutionOutcome`] that the audit log records.
pub trait Executor: Send + Sync + 'static {
    /// Short name recorded with each outcome (`dry_run`, `webhook`).
    fn name(&self) -> &'static str;

    fn execute(&self, action: ApprovedAction) -> BoxFuture<'_, ExecutionOutcome>;
}

/// Describes what would run and runs nothing. The default executor.
#[derive(Debug, Clone, Copy, Default)]
pub struct DryRunExecutor;

impl Executor for DryRunExecutor {
    fn name(&self) -> &'static str {
        "dry_run"
    }

    fn execute(&self, action: ApprovedAction) -> BoxFuture<'_, ExecutionOutcome> {
        Box::pin(async move {
            if let Err(refusal) = action.check_valid_at(Utc::now()) {
                return refused(self.name(), &refusal);
            }
            let c = action.content();
            ExecutionOutcome {
                success: true,
                executor: self.name().to_owned(),
                detail: format!(
                    "dry run: would {} {} ({}), approved by {}; nothing was executed",
                    c.kind,
                    c.target,
                    c.summary,
                    action.approvers().join(", ")
                ),
            }
        })
    }
}

fn refused(executor: &str, refusal: &crate::Refusal) -> ExecutionOutcome {
    ExecutionOutcome {
        success: false,
        executor: executor.to_owned(),
        detail: format!("refused before running: {refusal}"),
    }
}

/// Header carrying `sha256=<hex HMAC-SHA256 of the body>`.
pub const SIGNATURE_HEADER: &str = "X-Rootline-Signature";
/// Header carrying the action id.
pub const ACTION_HEADER: &str = "X-Rootline-Action";
/// Default time allowed for connecting, sending and reading the answer.
pub const DEFAULT_WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);
/// Most response bytes read (the status line is all that decides the outcome).
const MAX_RESPONSE_BYTES: u64 = 64 * 1024;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WebhookConfigError {
    #[error("webhook url {0:?}: https is not supported yet; use http:// (e.g. to a local relay)")]
    HttpsUnsupported(String),
    #[error("webhook url {url:?}: {reason}")]
    BadUrl { url: String, reason: String },
    #[error("webhook secret is empty")]
    EmptySecret,
}

/// POSTs the approved action as canonical JSON to an `http://` URL, with
/// `X-Rootline-Signature: sha256=<hex HMAC-SHA256(secret, body)>`. A 2xx answer is success;
/// anything else (other status, refused connection, timeout) is failure.
///
/// The body is `{"action_id", "content", "content_hash", "approvers", "executed_by",
/// "authorized_at", "valid_until", "sent_at"}`; receivers should check the signature with
/// [`verify_signature`] and reject stale `sent_at` values.
#[derive(Clone)]
pub struct WebhookExecutor {
    url: String,
    authority: String,
    path: String,
    secret: Vec<u8>,
    timeout: Duration,
}

impl std::fmt::Debug for WebhookExecutor {
    // The secret stays out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookExecutor")
            .field("url", &self.url)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl WebhookExecutor {
    pub fn new(url: &str, secret: impl AsRef<[u8]>) -> Result<WebhookExecutor, WebhookConfigError> {
        let secret = secret.as_ref().to_vec();
        if secret.is_empty() {
            return Err(WebhookConfigError::EmptySecret);
        }
        let bad = |reason: &str| WebhookConfigError::BadUrl {
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        if url.len() >= 8 && url[..8].eq_ignore_ascii_case("https://") {
            return Err(WebhookConfigError::HttpsUnsupported(url.to_owned()));
        }
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| bad("expected http://host[:port]/path"))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        if authority.is_empty() {
            return Err(bad("no host"));
        }
        if authority.contains('@') {
            return Err(bad("credentials in the url are not supported"));
        }
        if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad("contains whitespace or control characters"));
        }
        let authority = if has_port(authority) {
            authority.to_owned()
        } else {
            format!("{authority}:80")
        };
        Ok(WebhookExecutor {
            url: url.to_owned(),
            authority,
            path: path.to_owned(),
            secret,
            timeout: DEFAULT_WEBHOOK_TIMEOUT,
        })
    }

    pub fn with_timeout(mut self, timeout: Duration) -> WebhookExecutor {
        self.timeout = timeout;
        self
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    async fn post(&self, body: &str, action_id: &str) -> Result<(u16, String), String> {
        let mut stream = TcpStream::connect(&self.authority)
            .await
            .map_err(|e| format!("cannot connect to {}: {e}", self.authority))?;
        let host = self.authority.trim_end_matches(":80");
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: rootline\r\n\
             Content-Type: application/json\r\nContent-Length: {len}\r\n\
             {SIGNATURE_HEADER}: {sig}\r\n{ACTION_HEADER}: {action_id}\r\n\
             Connection: close\r\n\r\n",
            path = self.path,
            len = body.len(),
            sig = sign(&self.secret, body.as_bytes()),
        );
        stream
            .write_all(request.as_bytes())
            .await
            .and(stream.write_all(body.as_bytes()).await)
            .map_err(|e| format!("cannot send to {}: {e}", self.url))?;
        let mut raw = Vec::new();
        (&mut stream)
            .take(MAX_RESPONSE_BYTES)
            .read_to_end(&mut raw)
            .await
            .map_err(|e| format!("cannot read the answer from {}: {e}", self.url))?;
        let text = String::from_utf8_lossy(&raw);
        let status_line = text.lines().next().unwrap_or_default();
        let status = status_line
            .strip_prefix("HTTP/1.")
            .and_then(|s| s.get(2..5))
            .and_then(|s| s.parse::<u16>().ok())
            .ok_or_else(|| format!("{} did not answer with an http status line", self.url))?;
        let answer: String = text
            .split_once("\r\n\r\n")
            .map(|(_, b)| b)
            .unwrap_or_default()
            .chars()
            .take(200)
            .collect();
        Ok((status, answer))
    }
}

fn has_port(authority: &str) -> bool {
    match authority.rfind(':') {
        // `[::1]` alone has colons but no port after the bracket.
        Some(i) => !authority[i..].contains(']'),
        None => false,
    }
}

impl Executor for WebhookExecutor {
    fn name(&self) -> &'static str {
        "webhook"
    }

    fn execute(&self, action: ApprovedAction) -> BoxFuture<'_, ExecutionOutcome> {
        Box::pin(async move {
            let now = Utc::now();
            if let Err(refusal) = action.check_valid_at(now) {
                return refused(self.name(), &refusal);
            }
            let body = action.to_canonical_json(now);
            let result =
                tokio::time::timeout(self.timeout, self.post(&body, action.action_id())).await;
            let (success, detail) = match result {
                Err(_) => (
                    false,
                    format!("{} did not answer within {:?}", self.url, self.timeout),
                ),
                Ok(Err(e)) => (false, e),
                Ok(Ok((status, answer))) => (
                    (200..300).contains(&status),
                    format!("{} answered {status}: {}", self.url, answer.trim()),
                ),
            };
            ExecutionOutcome {
                success,
                executor: self.name().to_owned(),
                detail,
            }
        })
    }
}

/// `sha256=<hex HMAC-SHA256(secret, body)>`: the signature header's value.
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    // HMAC takes keys of any length, so this never fails.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret)
        .unwrap_or_else(|_| unreachable!("hmac accepts any key length"));
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Checks a signature header value against the body, in constant time.
pub fn verify_signature(secret: &[u8], body: &[u8], header: &str) -> bool {
    let Some(hex_sig) = header.trim().strip_prefix("sha256=") else {
        return false;
    };
    let Ok(sig) = hex::decode(hex_sig) else {
        return false;
    };
    let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(secret) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&sig).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn webhook_urls() {
        assert_eq!(
            WebhookExecutor::new("https://hooks.example/x", "s").unwrap_err(),
            WebhookConfigError::HttpsUnsupported("https://hooks.example/x".into())
        );
        assert_eq!(
            WebhookExecutor::new("http://h/x", "").unwrap_err(),
            WebhookConfigError::EmptySecret
        );
        for bad in ["ftp://h/x", "http:///x", "http://u:p@h/x", "http://h/a b"] {
            assert!(
                matches!(
                    WebhookExecutor::new(bad, "s"),
                    Err(WebhookConfigError::BadUrl { .. })
                ),
                "{bad}"
            );
        }
        let w = WebhookExecutor::new("http://127.0.0.1:9000/hook?x=1", "s").unwrap();
        assert_eq!(
            (w.authority.as_str(), w.path.as_str()),
            ("127.0.0.1:9000", "/hook?x=1")
        );
        let w = WebhookExecutor::new("http://relay", "s").unwrap();
        assert_eq!((w.authority.as_str(), w.path.as_str()), ("relay:80", "/"));
        let w = WebhookExecutor::new("http://[::1]:81/h", "s").unwrap();
        assert_eq!(w.authority, "[::1]:81");
        assert!(!format!("{w:?}").contains("secret"));
    }

    #[test]
    fn signatures_verify_and_detect_changes() {
        // RFC 4231 test case 2.
        assert_eq!(
            sign(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        let sig = sign(b"k", b"{\"a\":1}");
        assert!(verify_signature(b"k", b"{\"a\":1}", &sig));
        assert!(!verify_signature(b"k", b"{\"a\":2}", &sig));
        assert!(!verify_signature(b"other", b"{\"a\":1}", &sig));
        assert!(!verify_signature(b"k", b"{\"a\":1}", "sha256=zz"));
        assert!(!verify_signature(
            b"k",
            b"{\"a\":1}",
            sig.trim_start_matches("sha256=")
        ));
    }
}

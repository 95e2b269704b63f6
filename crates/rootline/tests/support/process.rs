//! Shared by the tests that run real servers (Prometheus, Alertmanager, VictoriaMetrics,
//! `rootline serve`): a child process killed when the test ends, a free local port, and
//! `rootline serve` started on one with an admin token made beforehand (every route but
//! `/healthz` and `/metrics` needs one).

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// A child process, killed and reaped when dropped (also when the test panics).
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The first of `candidates` that runs with `version_flag` (a Debian package's binary, by name
/// or path), or `None` when none is installed.
// Not every test that includes this file needs it.
#[allow(dead_code)]
pub fn installed(candidates: &[&'static str], version_flag: &str) -> Option<&'static str> {
    candidates.iter().copied().find(|b| {
        Command::new(b)
            .arg(version_flag)
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

/// A local port nothing listens on right now.
#[allow(dead_code)]
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Adds the admin user `ci` to the data dir's store (unless there) and returns a new token of
/// theirs, through the CLI as an operator would.
// Not every test that includes this file starts rootline.
#[allow(dead_code)]
pub fn admin_token(data_dir: &Path) -> String {
    let rootline = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_rootline"))
            .args(args)
            .env("ROOTLINE_DATA_DIR", data_dir)
            .env_remove("ROOTLINE_DATABASE_URL")
            .current_dir(data_dir)
            .output()
            .unwrap()
    };
    let listed = rootline(&["user", "list"]);
    if !String::from_utf8_lossy(&listed.stdout)
        .lines()
        .any(|l| l.split_whitespace().next() == Some("ci"))
    {
        let added = rootline(&["user", "add", "ci", "--role", "admin"]);
        assert!(added.status.success(), "{added:?}");
    }
    let created = rootline(&["token", "create", "ci", "--label", "tests"]);
    assert!(created.status.success(), "{created:?}");
    String::from_utf8(created.stdout).unwrap().trim().to_owned()
}

/// A reqwest client that sends `token` as a bearer token with every request.
#[allow(dead_code)]
pub fn client_with(token: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    let mut value: reqwest::header::HeaderValue = format!("Bearer {token}").parse().unwrap();
    value.set_sensitive(true);
    headers.insert(reqwest::header::AUTHORIZATION, value);
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .unwrap()
}

/// Starts `rootline serve` with `args` (inheriting no glibc tunable); returns it and the stderr
/// lines read up to and including the first that starts with `until` (all of them when it exits
/// first). The rest of stderr is drained so the server never blocks on a full pipe.
#[allow(dead_code)]
pub fn spawn_serve(data_dir: &Path, args: &[&str], until: &str) -> (Killed, Vec<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rootline"))
        .arg("serve")
        .args(args)
        .env("ROOTLINE_DATA_DIR", data_dir)
        .env_remove("ROOTLINE_DATABASE_URL")
        .env_remove("GLIBC_TUNABLES")
        .current_dir(data_dir)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let done = line.trim_start().starts_with(until);
        seen.push(line);
        if done {
            break;
        }
    }
    std::thread::spawn(move || for _ in lines {});
    (Killed(child), seen)
}

/// The address in `serve`'s "rootline listening on ADDR" line.
#[allow(dead_code)]
pub fn listening_address(lines: &[String]) -> String {
    lines
        .iter()
        .find_map(|l| l.strip_prefix("rootline listening on "))
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no address in {lines:#?}"))
        .to_owned()
}

/// Starts `rootline serve` on a free port; returns it, its address and an admin's token.
// Not every test that includes this file starts rootline.
#[allow(dead_code)]
pub fn serve(data_dir: &Path) -> (Killed, String, String) {
    let token = admin_token(data_dir);
    let (child, lines) = spawn_serve(
        data_dir,
        &["--listen", "127.0.0.1:0"],
        "rootline listening on",
    );
    (child, listening_address(&lines), token)
}

/// Posts twenty error lines of `payments` from the last half minute to a running `serve` and
/// asks it to investigate the last minute; returns the stored report.
#[allow(dead_code)]
pub async fn payments_errors_investigated(
    client: &reqwest::Client,
    addr: &str,
) -> serde_json::Value {
    let now = chrono::Utc::now();
    let lines: String = (0..20)
        .map(|i| {
            format!(
                "{{\"time\":\"{}\",\"level\":\"error\",\"msg\":\"payment failed {i}\"}}\n",
                (now - chrono::Duration::seconds(30 - i)).to_rfc3339()
            )
        })
        .collect();
    let r = client
        .post(format!("http://{addr}/api/v1/ingest/logs?service=payments"))
        .header("content-type", "text/plain")
        .body(lines)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    let r = client
        .post(format!("http://{addr}/api/v1/investigations"))
        .json(&serde_json::json!({
            "title": "payments errors",
            "start": (now - chrono::Duration::minutes(1)).to_rfc3339(),
            "end": (now + chrono::Duration::seconds(5)).to_rfc3339(),
        }))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    r.json().await.unwrap()
}

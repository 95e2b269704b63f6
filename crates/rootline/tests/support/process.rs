//! Shared by the tests that run real servers (Prometheus, Alertmanager, VictoriaMetrics,
//! `rootline serve`): a child process killed when the test ends, a free local port, and
//! `rootline serve` started on one.

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
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts `rootline serve` on a free port; returns it and its address.
// Not every test that includes this file starts rootline.
#[allow(dead_code)]
pub fn serve(data_dir: &Path) -> (Killed, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rootline"))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("ROOTLINE_DATA_DIR", data_dir)
        .env_remove("ROOTLINE_DATABASE_URL")
        .current_dir(data_dir)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = BufReader::new(stderr).lines();
    let addr = loop {
        let line = lines.next().expect("serve exited").unwrap();
        if let Some(rest) = line.strip_prefix("rootline listening on ") {
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };
    // Keep draining stderr so the server never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    (Killed(child), addr)
}

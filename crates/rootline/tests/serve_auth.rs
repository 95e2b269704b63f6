//! `rootline serve` as a new user meets it: on a fresh data dir it makes the admin and prints a
//! one-time login link that opens the timeline once; every API route wants a credential;
//! `--no-auth` is refused on any address but loopback and warns where it runs.

#[path = "support/process.rs"]
mod process;

use std::process::Command;

use process::{listening_address as address, spawn_serve as start};

#[tokio::test(flavor = "multi_thread")]
async fn a_fresh_data_dir_prints_a_one_time_login_link_and_the_api_needs_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let (serve, lines) = start(dir.path(), &["--listen", "127.0.0.1:0"], "http://");
    let addr = address(&lines);
    // serve restarts itself with the glibc setting that gives freed memory back.
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let environ = std::fs::read(format!("/proc/{}/environ", serve.0.id())).unwrap();
        let environ = String::from_utf8_lossy(&environ);
        assert!(
            environ.contains("GLIBC_TUNABLES=glibc.malloc.mmap_threshold=131072"),
            "{environ}"
        );
    }
    let link = lines.last().unwrap().trim().to_owned();
    assert!(
        link.starts_with(&format!("http://{addr}/ui/login?code=")),
        "{lines:#?}"
    );
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = browser.get(&link).send().await.unwrap();
    assert_eq!(res.status(), 303);
    let cookie = res
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .expect("a session cookie")
        .to_owned();
    let page = browser
        .get(format!("http://{addr}/ui"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("rootline incidents"));
    // Once only.
    assert_eq!(browser.get(&link).send().await.unwrap().status(), 401);
    // Without a credential the API answers nothing.
    let api = browser
        .get(format!("http://{addr}/api/v1/incidents"))
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), 401);
    drop(serve);

    // The data dir has its admin now: a restart prints no link.
    let (_serve, lines) = start(
        dir.path(),
        &["--listen", "127.0.0.1:0"],
        "rootline listening on",
    );
    assert!(
        !lines.iter().any(|l| l.contains("/ui/login?code=")),
        "{lines:#?}"
    );
    let users = Command::new(env!("CARGO_BIN_EXE_rootline"))
        .args(["user", "list"])
        .env("ROOTLINE_DATA_DIR", dir.path())
        .env_remove("ROOTLINE_DATABASE_URL")
        .current_dir(dir.path())
        .output()
        .unwrap();
    let users = String::from_utf8(users.stdout).unwrap();
    assert_eq!(users.lines().count(), 1, "{users}");
    assert!(users.starts_with("admin "), "{users}");
}

#[tokio::test(flavor = "multi_thread")]
async fn no_auth_is_refused_off_loopback_and_warns_on_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_rootline"))
        .args(["serve", "--no-auth", "--listen", "0.0.0.0:0"])
        .env("ROOTLINE_DATA_DIR", dir.path())
        .env_remove("ROOTLINE_DATABASE_URL")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--no-auth") && stderr.contains("refused on 0.0.0.0:0"),
        "{stderr}"
    );

    let (_serve, lines) = start(
        dir.path(),
        &["--no-auth", "--listen", "127.0.0.1:0"],
        "warning: --no-auth",
    );
    let addr = address(&lines);
    let api = reqwest::get(format!("http://{addr}/api/v1/incidents"))
        .await
        .unwrap();
    assert_eq!(api.status(), 200);
    // Governance still needs a user.
    let audit = reqwest::get(format!("http://{addr}/api/v1/audit"))
        .await
        .unwrap();
    assert_eq!(audit.status(), 401);
}

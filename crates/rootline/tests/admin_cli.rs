//! The admin CLI module (`src/admin_cli.rs`) driven through its clap types and `run_*`
//! functions against a real SQLite store: users and tokens, a verdict, an action proposed,
//! approved and executed by three different users, and `audit verify` exiting 1 after a row is
//! edited behind rootline's back.

#[path = "../src/admin_cli.rs"]
#[allow(dead_code)]
mod admin_cli;

use std::process::ExitCode;

use admin_cli::{
    ActionCommand, AuditCommand, EvalExportArgs, TokenCommand, UserCommand, VerdictCommand,
};
use clap::{Parser, Subcommand};
use rootline_core::Report;
use rootline_store::Store;
use serde_json::json;
use sqlx::Connection;

/// The subcommands as `main.rs` is meant to wire them.
#[derive(Parser, Debug)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    #[command(subcommand)]
    Verdict(VerdictCommand),
    #[command(subcommand)]
    Action(ActionCommand),
    #[command(subcommand)]
    User(UserCommand),
    #[command(subcommand)]
    Token(TokenCommand),
    #[command(subcommand)]
    Audit(AuditCommand),
    Export(EvalExportArgs),
}

/// Runs one command line; returns its exit code and output.
async fn run(store: &Store, args: &[&str]) -> anyhow::Result<(ExitCode, String)> {
    let cli = Cli::try_parse_from(std::iter::once("rootline").chain(args.iter().copied()))?;
    let mut out = Vec::new();
    let code = match cli.command {
        Command::Verdict(c) => admin_cli::run_verdict(c, store, &mut out).await?,
        Command::Action(c) => admin_cli::run_action(c, store, &mut out).await?,
        Command::User(c) => admin_cli::run_user(c, store, &mut out).await?,
        Command::Token(c) => admin_cli::run_token(c, store, &mut out).await?,
        Command::Audit(c) => admin_cli::run_audit(c, store, &mut out).await?,
        Command::Export(a) => admin_cli::run_eval_export(a, store, &mut out).await?,
    };
    Ok((code, String::from_utf8(out)?))
}

async fn ok(store: &Store, args: &[&str]) -> String {
    let (code, out) = run(store, args)
        .await
        .unwrap_or_else(|e| panic!("{args:?}: {e:#}"));
    assert_eq!(code, ExitCode::SUCCESS, "{args:?}: {out}");
    out
}

fn report() -> Report {
    serde_json::from_value(json!({
        "investigation_id": "inv-1",
        "created_at": "2023-01-29T09:00:00Z",
        "incident": {"id": "inc-1", "title": "checkout errors", "start": "2023-01-29T08:43:00Z"},
        "mode": "offline",
        "outcome": "probable_cause",
        "stats": {
            "window_start": "2023-01-29T08:43:00.000Z", "window_end": "2023-01-29T08:58:00.000Z",
            "baseline_start": "2023-01-29T08:28:00.000Z", "baseline_end": "2023-01-29T08:43:00.000Z",
            "window_records": 1200, "baseline_records": 900, "services_seen": 4,
        },
        "candidates": [{"entity": "payments", "fault_type": "exception", "score": 0.81,
                        "evidence": [], "why": "payments refused connections first"}],
        "evidence": [],
    }))
    .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn admin_commands_end_to_end() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("rootline.db");
    let url = format!("sqlite://{}", db.display());
    let store = Store::connect(&url).await.unwrap();
    store.save_investigation(&report()).await.unwrap();

    for (name, role) in [("rae", "responder"), ("bob", "approver"), ("ada", "admin")] {
        let out = ok(&store, &["user", "add", name, "--role", role]).await;
        assert!(
            out.contains(&format!("user {name} added with role {role}")),
            "{out}"
        );
    }
    let err = run(&store, &["user", "add", "eve", "--role", "root"])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("unknown role"), "{err}");
    let users = ok(&store, &["user", "list"]).await;
    assert_eq!(users.lines().count(), 3, "{users}");

    let token = |name: &'static str| {
        let store = store.clone();
        async move {
            ok(&store, &["token", "create", name, "--label", "test"])
                .await
                .trim()
                .to_owned()
        }
    };
    let (rae, bob) = (token("rae").await, token("bob").await);
    assert!(rae.starts_with("rlt_"));

    // A verdict, twice: two versions (the second one corrects the root cause).
    for judgement in ["accepted", "partly_right"] {
        let out = ok(
            &store,
            &[
                "verdict",
                "add",
                "inv-1",
                "--target",
                "candidate:payments",
                "--judgement",
                judgement,
                "--fix",
                "rollback",
                "--root-cause-service",
                "payments-db",
                "--token",
                &rae,
            ],
        )
        .await;
        assert!(out.contains(judgement), "{out}");
    }
    let listed = ok(&store, &["verdict", "list", "inv-1"]).await;
    assert!(listed.contains("v1") && listed.contains("v2"), "{listed}");
    let err = run(
        &store,
        &[
            "verdict",
            "add",
            "inv-1",
            "--judgement",
            "accepted",
            "--target",
            "hypothesis:nope",
            "--token",
            &rae,
        ],
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("no hypothesis"), "{err}");
    let err = run(
        &store,
        &["verdict", "add", "inv-1", "--judgement", "accepted"],
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("needs an API token"), "{err}");

    // Propose (rae), approve (bob, with the hash shown), execute as a dry run (rae).
    let out = ok(
        &store,
        &[
            "action",
            "propose",
            "--kind",
            "restart",
            "--target",
            "payments",
            "--summary",
            "restart payments",
            "--params",
            r#"{"namespace":"prod"}"#,
            "--incident",
            "inc-1",
            "--json",
            "--token",
            &rae,
        ],
    )
    .await;
    let action: serde_json::Value = serde_json::from_str(&out).unwrap();
    let id = action["id"].as_str().unwrap();
    let hash = action["content_hash"].as_str().unwrap();
    let shown = ok(&store, &["action", "show", id]).await;
    assert!(shown.contains(hash), "{shown}");
    // The proposer cannot approve (a responder anyway), nor can a wrong hash.
    let err = run(
        &store,
        &["action", "approve", id, "--hash", hash, "--token", &rae],
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("may not approve"), "{err}");
    let err = run(
        &store,
        &["action", "approve", id, "--hash", "abc", "--token", &bob],
    )
    .await
    .unwrap_err();
    assert!(
        err.to_string().contains("changed since it was reviewed"),
        "{err}"
    );
    let out = ok(
        &store,
        &["action", "approve", id, "--hash", hash, "--token", &bob],
    )
    .await;
    assert!(
        out.contains("(1 of 1)") && out.contains("approved"),
        "{out}"
    );
    let out = ok(&store, &["action", "execute", id, "--token", &rae]).await;
    assert!(
        out.contains("succeeded") && out.contains("dry run"),
        "{out}"
    );
    let list = ok(&store, &["action", "list"]).await;
    assert!(list.contains("succeeded"), "{list}");
    let err = run(
        &store,
        &[
            "action",
            "execute",
            id,
            "--webhook-url",
            "https://x/y",
            "--token",
            &rae,
        ],
    )
    .await;
    assert!(err.is_err());

    // Export the judged incident.
    let export = dir.path().join("export");
    let out = ok(&store, &["export", "--out", export.to_str().unwrap()]).await;
    assert!(out.contains("1 judged incident(s) exported"), "{out}");
    assert!(export.join("inc-1").join("truth.json").is_file());

    // The audit log: listed, intact; then edited behind rootline's back: verify exits 1.
    let audit = ok(&store, &["audit", "list"]).await;
    assert!(
        audit.contains("action_approved") && audit.contains("verdict_recorded"),
        "{audit}"
    );
    let out = ok(&store, &["audit", "verify"]).await;
    assert!(out.starts_with("audit chain intact"), "{out}");
    store.close().await;

    let mut c = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::query("DROP TRIGGER audit_log_no_update")
        .execute(&mut c)
        .await
        .unwrap();
    sqlx::query("UPDATE audit_log SET actor = 'mallory' WHERE event = 'action_approved'")
        .execute(&mut c)
        .await
        .unwrap();
    c.close().await.unwrap();
    let store = Store::connect(&url).await.unwrap();
    let (code, out) = run(&store, &["audit", "verify"]).await.unwrap();
    assert_eq!(code, ExitCode::FAILURE, "{out}");
    assert!(out.contains("BROKEN at row"), "{out}");
    store.close().await;
}

/// `token revoke ID` and `user disable NAME`: what they print, and that the token no longer
/// authenticates.
#[tokio::test]
async fn tokens_are_revoked_and_users_disabled_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("rootline.db").display());
    let store = Store::connect(&url).await.unwrap();
    ok(&store, &["user", "add", "rae", "--role", "responder"]).await;
    let first = store
        .create_token("rae", "laptop", None, "test")
        .await
        .unwrap();
    let second = ok(&store, &["token", "create", "rae"]).await;
    // Tokens expire after 90 days unless told otherwise.
    let users = store.list_users().await.unwrap();
    assert_eq!(users.len(), 1);
    let expiry: Option<String> = sqlx::query_scalar(
        "SELECT expires_at FROM api_tokens WHERE label = '' ORDER BY created_at DESC LIMIT 1",
    )
    .fetch_one(&mut sqlx::SqliteConnection::connect(&url).await.unwrap())
    .await
    .unwrap();
    let expiry = chrono::DateTime::parse_from_rfc3339(&expiry.expect("an expiry")).unwrap();
    let days = (expiry.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_days();
    assert!((89..=90).contains(&days), "{days}");
    let forever = ok(
        &store,
        &[
            "token",
            "create",
            "rae",
            "--never-expires",
            "--label",
            "svc",
        ],
    )
    .await;
    assert!(store.authenticate(forever.trim()).await.unwrap().is_some());
    assert!(
        run(
            &store,
            &[
                "token",
                "create",
                "rae",
                "--never-expires",
                "--expires-in-days",
                "3"
            ]
        )
        .await
        .is_err()
    );
    let out = ok(&store, &["token", "revoke", &first.id]).await;
    assert_eq!(out.trim(), format!("token {} revoked", first.id));
    assert!(store.authenticate(&first.token).await.unwrap().is_none());
    assert!(store.authenticate(second.trim()).await.unwrap().is_some());
    let err = run(&store, &["token", "revoke", "tok_unknown"])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("tok_unknown"), "{err}");

    let out = ok(&store, &["user", "disable", "rae"]).await;
    assert!(out.contains("user rae disabled"), "{out}");
    assert!(store.authenticate(second.trim()).await.unwrap().is_none());
    let users = ok(&store, &["user", "list"]).await;
    assert!(users.contains("disabled"), "{users}");
}

#[tokio::test]
async fn chat_accounts_are_linked_to_users_and_tokens_take_scopes_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("rootline.db").display());
    let store = Store::connect(&url).await.unwrap();
    ok(&store, &["user", "add", "rae", "--role", "responder"]).await;
    let out = ok(
        &store,
        &["user", "link", "rae", "--slack-user", "U024BE7LH"],
    )
    .await;
    assert!(out.contains("linked to rae"), "{out}");
    let linked = store
        .chat_user(rootline_store::ChatFlavour::Slack, "U024BE7LH")
        .await
        .unwrap();
    assert_eq!(linked.map(|u| u.name).as_deref(), Some("rae"));
    // The same id on the other chat server is someone else (unlinked).
    assert!(
        store
            .chat_user(rootline_store::ChatFlavour::Mattermost, "U024BE7LH")
            .await
            .unwrap()
            .is_none()
    );
    // A display name is not an id; an unknown user is named.
    let err = run(
        &store,
        &["user", "link", "rae", "--slack-user", "Rae Smith"],
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("Rae Smith"), "{err}");
    let err = run(
        &store,
        &["user", "link", "nobody", "--mattermost-user", "abc"],
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("nobody"), "{err}");
    // A disabled user's chat account records nothing any more.
    ok(&store, &["user", "disable", "rae"]).await;
    assert!(
        store
            .chat_user(rootline_store::ChatFlavour::Slack, "U024BE7LH")
            .await
            .unwrap()
            .is_none()
    );

    // Scopes: within the role, else refused naming the scope.
    ok(&store, &["user", "add", "otel", "--role", "responder"]).await;
    let token = ok(&store, &["token", "create", "otel", "--scope", "ingest"]).await;
    let credential = store.credential(token.trim()).await.unwrap().unwrap();
    assert_eq!(credential.scopes, vec![rootline_actions::Scope::Ingest]);
    let err = run(&store, &["token", "create", "otel", "--scope", "approve"])
        .await
        .unwrap_err();
    assert!(err.to_string().contains("approve"), "{err}");
    assert!(
        run(&store, &["token", "create", "otel", "--scope", "write"])
            .await
            .is_err()
    );
}

//! A bundle is read from inside itself only: a symbolic link to a file outside it is not
//! followed (it could be any file of the machine that runs the investigation), a link to a
//! directory does not abort the investigation (it could loop), and both are named in the
//! report's `missing`. The rest of the bundle is investigated as usual.

use rootline_agent::{Bundle, EngineConfig, investigate_bundle};

#[tokio::test(flavor = "multi_thread")]
async fn links_are_named_and_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("bundle");
    let outside = dir.path().join("outside");
    std::fs::create_dir_all(root.join("logs")).unwrap();
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(
        root.join("incident.json"),
        r#"{"id": "links", "title": "api errors", "start": "2024-01-01T00:10:00Z",
            "end": "2024-01-01T00:20:00Z"}"#,
    )
    .unwrap();
    let mut lines = String::new();
    for m in 0..20 {
        let level = if m >= 10 { "error" } else { "info" };
        lines.push_str(&format!(
            "{{\"time\":\"2024-01-01T00:{m:02}:30Z\",\"level\":\"{level}\",\"service\":\"api\",\"msg\":\"request {level}\"}}\n"
        ));
    }
    std::fs::write(root.join("logs/api.log"), lines).unwrap();
    // A file outside the bundle holding a secret-looking log line, linked from logs/, and a
    // directory link that points back at the bundle itself.
    std::fs::write(
        outside.join("private.log"),
        "{\"time\":\"2024-01-01T00:15:00Z\",\"level\":\"error\",\"service\":\"leak\",\"msg\":\"outside the bundle\"}\n",
    )
    .unwrap();
    std::os::unix::fs::symlink(outside.join("private.log"), root.join("logs/private.log")).unwrap();
    std::os::unix::fs::symlink(&root, root.join("logs/loop")).unwrap();

    let bundle = Bundle::load(&root).unwrap();
    assert_eq!(bundle.log_files, vec![root.join("logs/api.log")]);
    assert_eq!(bundle.skipped.len(), 2, "{:?}", bundle.skipped);
    let scratch = tempfile::tempdir().unwrap();
    let (report, _) = investigate_bundle(&bundle, scratch.path(), EngineConfig::default())
        .await
        .unwrap();
    assert_eq!(
        report.missing,
        vec![
            "logs/loop: a symbolic link, not read: a bundle is read from inside itself only",
            "logs/private.log: a symbolic link, not read: a bundle is read from inside itself only",
        ]
    );
    assert!(
        report.candidates.iter().all(|c| c.entity != "leak"),
        "{:?}",
        report.candidates
    );
    assert!(report.candidates.iter().any(|c| c.entity == "api"));
}

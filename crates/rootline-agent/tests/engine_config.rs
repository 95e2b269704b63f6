//! The engine configuration file: `deploy/engine.toml` is the built-in defaults, a partial file
//! keeps the defaults for what it leaves out, and a typo is an error that names the key.

use rootline_agent::EngineConfig;

#[test]
fn the_shipped_file_is_the_built_in_defaults() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../deploy/engine.toml");
    let shipped = EngineConfig::load(std::path::Path::new(path)).unwrap();
    assert_eq!(shipped, EngineConfig::default());
}

#[test]
fn a_partial_file_changes_only_what_it_names() {
    let c =
        EngineConfig::from_toml("[rank]\ndecisive_ratio = 4.5\n[onset]\nenabled = true\n").unwrap();
    assert_eq!(c.rank.decisive_ratio, 4.5);
    assert!(c.onset.enabled);
    let mut expected = EngineConfig::default();
    expected.rank.decisive_ratio = 4.5;
    expected.onset.enabled = true;
    assert_eq!(c, expected);
}

#[test]
fn an_unknown_key_is_an_error_that_names_it() {
    let e = EngineConfig::from_toml("[rank]\ndecisive_ration = 4.5\n").unwrap_err();
    assert!(e.contains("decisive_ration"), "{e}");
    let e = EngineConfig::load(std::path::Path::new("/nonexistent/engine.toml")).unwrap_err();
    assert!(e.contains("/nonexistent/engine.toml"), "{e}");
}

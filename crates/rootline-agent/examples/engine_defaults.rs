//! Prints the engine's built-in configuration as TOML: `deploy/engine.toml` is this output with
//! a header (a test checks that the file and the defaults agree).
fn main() {
    let text = toml::to_string(&rootline_agent::EngineConfig::default()).expect("serialisable");
    print!("{text}");
}

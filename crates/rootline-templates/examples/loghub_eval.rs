//! Loghub accuracy and throughput of the default configuration.
//!
//! `cargo run --release -p rootline-templates --example loghub_eval -- DIR [--out OUT] [--json] [--repeats N]`

use std::path::PathBuf;
use std::process::ExitCode;

use rootline_templates::MinerConfig;
use rootline_templates::loghub::{evaluate_dir, format_table};

fn main() -> ExitCode {
    let mut dir = None;
    let mut out = None;
    let mut json = false;
    let mut repeats = 5;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--json" => json = true,
            "--out" => out = args.next().map(PathBuf::from),
            "--repeats" => repeats = args.next().and_then(|n| n.parse().ok()).unwrap_or(5),
            "-h" | "--help" => {
                eprintln!("usage: loghub_eval DIR [--out OUT] [--json] [--repeats N]");
                return ExitCode::SUCCESS;
            }
            _ => dir = Some(PathBuf::from(a)),
        }
    }
    let Some(dir) = dir else {
        eprintln!("usage: loghub_eval DIR [--out OUT] [--json] [--repeats N]");
        return ExitCode::from(2);
    };
    match evaluate_dir(&dir, &MinerConfig::default(), out.as_deref(), repeats) {
        Ok(report) => {
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&report).expect("report serializes")
                );
            } else {
                print!("{}", format_table(&report));
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

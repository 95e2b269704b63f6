//! Evaluates every incident bundle under a directory and prints Markdown (or JSON).
//!
//! ```sh
//! cargo run --release -p rootline-eval --example eval_dir -- DIR [--json] [--filter S]
//! # import a dataset into DIR first (bundles stay out of the repository):
//! cargo run --release -p rootline-eval --example eval_dir -- DIR --import nezha|openstack|gaia SRC [--import-only]
//! # print a saved JSON report as Markdown:
//! cargo run --release -p rootline-eval --example eval_dir -- --render report.json
//! ```

use std::path::PathBuf;

use anyhow::{Context, bail};
use rootline_eval::{EvalOptions, evaluate_dir_with, render_markdown};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let mut dir: Option<PathBuf> = None;
    let (mut json, mut import, mut options) = (false, None, EvalOptions::default());
    let mut import_only = false;
    while let Some(a) = args.next() {
        match a.as_str() {
            "--json" => json = true,
            "--render" => {
                // Re-render a saved JSON report as Markdown without investigating again.
                let path = args.next().context("--render needs a JSON report file")?;
                let text = std::fs::read_to_string(&path).with_context(|| path.clone())?;
                let report: rootline_eval::EvalReport = serde_json::from_str(&text)?;
                print!("{}", render_markdown(&report));
                return Ok(());
            }
            "--no-naive" => options.naive = false,
            "--import-only" => import_only = true,
            "--filter" => options.filter = Some(args.next().context("--filter needs a value")?),
            "--import" => {
                let kind = args.next().context("--import needs a dataset kind")?;
                let src = args.next().context("--import needs a source dir")?;
                import = Some((kind, PathBuf::from(src)));
            }
            _ if dir.is_none() && !a.starts_with("--") => dir = Some(PathBuf::from(a)),
            _ => bail!("unexpected argument {a:?}"),
        }
    }
    let Some(dir) = dir else {
        bail!(
            "usage: eval_dir DIR [--json] [--no-naive] [--filter S] [--import KIND SRC [--import-only]] | --render FILE"
        );
    };
    if let Some((kind, src)) = import {
        std::fs::create_dir_all(&dir).with_context(|| format!("{}", dir.display()))?;
        let summary = match kind.as_str() {
            "nezha" => rootline_import::nezha::import(&src, &dir, None)?,
            "openstack" => rootline_import::openstack::import(&src, &dir, None)?,
            "gaia" => rootline_import::gaia::import(&src, &dir, None)?,
            other => bail!("unknown dataset kind {other:?} (nezha, openstack, gaia)"),
        };
        eprintln!(
            "imported {} bundles ({} records, {} rows skipped) into {}",
            summary.bundles.len(),
            summary.records,
            summary.skipped_rows,
            dir.display()
        );
        if import_only {
            return Ok(());
        }
    }
    let report = evaluate_dir_with(&dir, &options, |done, total, case| {
        eprintln!(
            "[{done}/{total}] {} {} {:.2}s",
            case.case,
            case.outcome.map(|o| o.as_str()).unwrap_or("error"),
            case.seconds
        );
    })
    .await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", render_markdown(&report));
    }
    Ok(())
}

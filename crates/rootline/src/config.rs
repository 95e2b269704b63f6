//! Settings: a TOML file, then `ROOTLINE_*` environment variables, then CLI flags, each
//! overriding the one before. Clap merges flags and environment (a flag wins); the file fills
//! what both left unset.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use rootline_llm::LlmConfig;
use serde::Deserialize;

pub const DEFAULT_DATA_DIR: &str = ".rootline";
pub const DEFAULT_CONFIG_FILE: &str = "rootline.toml";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:7878";

/// The config file. Every field is optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileConfig {
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    pub listen: Option<String>,
    pub log: Option<String>,
    /// The engine's ranking configuration (TOML, `deploy/engine.toml` documents every key).
    pub engine_config: Option<PathBuf>,
    #[serde(default)]
    pub llm: LlmConfig,
    /// How `serve --kube` and `k8s snapshot` reach the cluster (`rootline_kube::KubeSettings`).
    pub kube: Option<rootline_kube::KubeSettings>,
    /// Where investigations pull metrics from (`rootline_prom::PromSettings`; docs/prometheus.md).
    pub prometheus: Option<rootline_prom::PromSettings>,
}

/// Flags and environment, as clap parsed them.
#[derive(Debug, Default, Clone)]
pub struct Overrides {
    pub config: Option<PathBuf>,
    pub data_dir: Option<PathBuf>,
    pub database_url: Option<String>,
    pub listen: Option<String>,
    pub engine_config: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub data_dir: PathBuf,
    pub database_url: String,
    pub listen: String,
    pub log: String,
    pub llm: LlmConfig,
    /// Every ranking constant; the built-in defaults unless an engine config file is given.
    pub engine: rootline_agent::EngineConfig,
    pub kube: rootline_kube::KubeSettings,
    pub prometheus: rootline_prom::PromSettings,
}

impl Settings {
    pub fn resolve(o: &Overrides) -> Result<Settings> {
        let file = match &o.config {
            Some(path) => read_file(path)?,
            None if Path::new(DEFAULT_CONFIG_FILE).exists() => {
                read_file(Path::new(DEFAULT_CONFIG_FILE))?
            }
            None => FileConfig::default(),
        };
        file.llm.validate().context("in the config file")?;
        let data_dir = o
            .data_dir
            .clone()
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
        let database_url = o
            .database_url
            .clone()
            .or(file.database_url)
            .unwrap_or_else(|| format!("sqlite://{}", data_dir.join("rootline.db").display()));
        let engine = match o.engine_config.clone().or(file.engine_config) {
            Some(path) => rootline_agent::EngineConfig::load(&path)
                .map_err(|e| anyhow::anyhow!("engine config: {e}"))?,
            None => rootline_agent::EngineConfig::default(),
        };
        Ok(Settings {
            engine,
            listen: o
                .listen
                .clone()
                .or(file.listen)
                .unwrap_or_else(|| DEFAULT_LISTEN.to_string()),
            log: file.log.unwrap_or_else(|| "warn".to_string()),
            llm: file.llm,
            kube: file.kube.unwrap_or_default(),
            prometheus: file.prometheus.unwrap_or_default(),
            data_dir,
            database_url,
        })
    }

    pub fn index_dir(&self) -> PathBuf {
        self.data_dir.join("index")
    }

    pub fn metrics_dir(&self) -> PathBuf {
        self.data_dir.join("metrics")
    }

    pub fn spans_dir(&self) -> PathBuf {
        self.data_dir.join("spans")
    }

    pub fn templates_path(&self) -> PathBuf {
        self.data_dir.join("templates.json")
    }
}

fn read_file(path: &Path) -> Result<FileConfig> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read config file {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("invalid config file {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precedence_file_then_overrides() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        std::fs::write(
            &path,
            "data_dir = \"/from/file\"\nlisten = \"0.0.0.0:1\"\n[llm]\nbase_url = \"http://127.0.0.1:1/v1\"\nmodel = \"m\"\n",
        )
        .unwrap();
        let mut o = Overrides {
            config: Some(path.clone()),
            ..Default::default()
        };
        let s = Settings::resolve(&o).unwrap();
        assert_eq!(s.data_dir, PathBuf::from("/from/file"));
        assert_eq!(s.database_url, "sqlite:///from/file/rootline.db");
        assert_eq!(s.listen, "0.0.0.0:1");
        assert!(s.llm.is_configured());
        o.data_dir = Some("/from/flag".into());
        o.database_url = Some("postgres://x".into());
        let s = Settings::resolve(&o).unwrap();
        assert_eq!(s.data_dir, PathBuf::from("/from/flag"));
        assert_eq!(s.database_url, "postgres://x");

        std::fs::write(&path, "data_dirr = 1\n").unwrap();
        let err = Settings::resolve(&o).unwrap_err();
        assert!(format!("{err:#}").contains("c.toml"), "{err:#}");
    }
}

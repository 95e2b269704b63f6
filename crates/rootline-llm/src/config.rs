//! Provider configuration: the `[llm]` section of the config file, its validation, and the
//! resolved settings with defaults. The API key is read from an environment variable or a file
//! when a client is built, and is never logged, stored, recorded or shown.

use std::path::PathBuf;

use async_openai::Client;
use async_openai::config::{AzureConfig, Config, OpenAIConfig};
use serde::{Deserialize, Serialize};

use crate::redact::RedactionConfig;

/// `[llm]` in the config file. Every field is optional; [`LlmConfig::settings`] fills defaults.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LlmConfig {
    /// Base URL of the OpenAI-compatible API, e.g. `http://127.0.0.1:11434/v1` for Ollama.
    pub base_url: Option<String>,
    pub model: Option<String>,
    /// `openai` (default: any OpenAI-compatible server) or `azure` (deployments URL, `api-key`
    /// header, `api_version` query parameter; `model` is the deployment name).
    pub provider: Option<String>,
    /// Azure only.
    pub api_version: Option<String>,
    /// Name of the environment variable that holds the API key. The key itself never goes in a
    /// config file, a log or the database.
    pub api_key_env: Option<String>,
    /// A file whose content (trimmed) is the API key, e.g. a mounted secret.
    pub api_key_file: Option<PathBuf>,
    /// Per request.
    pub timeout_secs: Option<u64>,
    pub max_tokens: Option<u32>,
    pub temperature: Option<f32>,
    /// Most extra searches the model may ask for in one investigation.
    pub max_followups: Option<usize>,
    /// Tokens of evidence packed into the first request.
    pub context_tokens: Option<usize>,
    /// Total tokens (prompt + completion, all requests) one investigation may use.
    pub budget_tokens: Option<u64>,
    /// Total wall time one investigation may spend on the model.
    pub budget_secs: Option<u64>,
    /// `json_schema` (default), `json_object` or `none`.
    pub structured_output: Option<String>,
    #[serde(default)]
    pub redact_emails: bool,
    #[serde(default)]
    pub redact_ips: bool,
    /// USD per million prompt / completion tokens, for the cost estimate (0 for local models).
    pub price_prompt_per_mtok: Option<f64>,
    pub price_completion_per_mtok: Option<f64>,
    /// A directory of prompt templates overriding the built-in ones.
    pub prompts_dir: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum LlmConfigError {
    #[error("llm.base_url {0:?} must start with http:// or https://")]
    BadBaseUrl(String),
    #[error("llm.model is required when llm.base_url is set")]
    MissingModel,
    #[error("llm.provider {0:?} must be \"openai\" or \"azure\"")]
    BadProvider(String),
    #[error("llm.api_version is required when llm.provider is \"azure\"")]
    MissingApiVersion,
    #[error("llm.structured_output {0:?} must be \"json_schema\", \"json_object\" or \"none\"")]
    BadStructuredOutput(String),
    #[error("llm.{field} {value} is out of range ({range})")]
    OutOfRange {
        field: &'static str,
        value: String,
        range: &'static str,
    },
    #[error("llm.api_key_env names {0}, which is not set")]
    KeyEnvUnset(String),
    #[error("llm.api_key_file {path}: {message}")]
    KeyFile { path: String, message: String },
    #[error("the api key contains whitespace or control characters")]
    BadKey,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    OpenAi,
    Azure,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StructuredOutput {
    JsonSchema,
    JsonObject,
    None,
}

/// Resolved settings with every default filled. Holds no secret: the key is loaded from
/// `api_key_env` / `api_key_file` when the client is built.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LlmSettings {
    pub base_url: String,
    pub model: String,
    pub provider: Provider,
    pub api_version: Option<String>,
    pub api_key_env: Option<String>,
    pub api_key_file: Option<PathBuf>,
    pub timeout_secs: u64,
    pub max_tokens: u32,
    pub temperature: f32,
    pub max_followups: usize,
    /// Lines returned per follow-up search.
    pub followup_lines: usize,
    pub context_tokens: usize,
    pub budget_tokens: u64,
    pub budget_secs: u64,
    pub structured_output: StructuredOutput,
    pub redaction: RedactionConfig,
    pub price_prompt_per_mtok: f64,
    pub price_completion_per_mtok: f64,
    pub prompts_dir: Option<PathBuf>,
}

impl LlmSettings {
    /// Settings for `base_url` and `model` with every default.
    pub fn new(base_url: &str, model: &str) -> LlmSettings {
        LlmSettings {
            base_url: base_url.trim_end_matches('/').to_string(),
            model: model.to_string(),
            provider: Provider::OpenAi,
            api_version: None,
            api_key_env: None,
            api_key_file: None,
            timeout_secs: 60,
            max_tokens: 2048,
            temperature: 0.0,
            max_followups: 2,
            followup_lines: 5,
            context_tokens: 6000,
            budget_tokens: 60_000,
            budget_secs: 300,
            structured_output: StructuredOutput::JsonSchema,
            redaction: RedactionConfig::default(),
            price_prompt_per_mtok: 0.0,
            price_completion_per_mtok: 0.0,
            prompts_dir: None,
        }
    }

    /// The chat completions URL requests go to.
    pub fn chat_url(&self) -> String {
        match self.provider {
            Provider::OpenAi => format!("{}/chat/completions", self.base_url),
            Provider::Azure => format!(
                "{}/openai/deployments/{}/chat/completions?api-version={}",
                self.base_url,
                self.model,
                self.api_version.as_deref().unwrap_or("")
            ),
        }
    }

    /// Reads the API key; `None` when neither an environment variable nor a file is configured
    /// (local servers usually need none).
    pub fn api_key(&self) -> Result<Option<ApiKey>, LlmConfigError> {
        let raw = if let Some(path) = &self.api_key_file {
            std::fs::read_to_string(path).map_err(|e| LlmConfigError::KeyFile {
                path: path.display().to_string(),
                message: e.to_string(),
            })?
        } else if let Some(name) = &self.api_key_env {
            std::env::var(name).map_err(|_| LlmConfigError::KeyEnvUnset(name.clone()))?
        } else {
            return Ok(None);
        };
        let key = raw.trim();
        // A header value with these would make the HTTP client panic, and they are never part
        // of a real key.
        if key.bytes().any(|b| !(0x21..=0x7e).contains(&b)) {
            return Err(LlmConfigError::BadKey);
        }
        Ok((!key.is_empty()).then(|| ApiKey(key.to_string())))
    }

    /// The async-openai client for this endpoint.
    pub fn client(&self) -> Result<Client<Box<dyn Config>>, LlmConfigError> {
        let key = self.api_key()?.map(|k| k.0).unwrap_or_default();
        let config: Box<dyn Config> = match self.provider {
            // Always set the key, even empty: the default reads OPENAI_API_KEY, which must not
            // go to a server it was not meant for.
            Provider::OpenAi => Box::new(
                OpenAIConfig::new()
                    .with_api_base(&self.base_url)
                    .with_api_key(key),
            ),
            Provider::Azure => Box::new(
                AzureConfig::new()
                    .with_api_base(&self.base_url)
                    .with_deployment_id(&self.model)
                    .with_api_version(self.api_version.clone().unwrap_or_default())
                    .with_api_key(key),
            ),
        };
        Ok(Client::with_config(config))
    }
}

/// An API key. Its `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKey(***)")
    }
}

fn range<T: PartialOrd + std::fmt::Display>(
    field: &'static str,
    value: Option<T>,
    ok: impl Fn(&T) -> bool,
    range: &'static str,
) -> Result<(), LlmConfigError> {
    match value {
        Some(v) if !ok(&v) => Err(LlmConfigError::OutOfRange {
            field,
            value: v.to_string(),
            range,
        }),
        _ => Ok(()),
    }
}

impl LlmConfig {
    /// A model is configured when both an endpoint and a model name are given.
    pub fn is_configured(&self) -> bool {
        self.base_url.is_some() && self.model.is_some()
    }

    pub fn validate(&self) -> Result<(), LlmConfigError> {
        if let Some(url) = &self.base_url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(LlmConfigError::BadBaseUrl(url.clone()));
            }
            if self.model.is_none() {
                return Err(LlmConfigError::MissingModel);
            }
        }
        match self.provider.as_deref() {
            None | Some("openai") => {}
            Some("azure") if self.api_version.is_none() => {
                return Err(LlmConfigError::MissingApiVersion);
            }
            Some("azure") => {}
            Some(other) => return Err(LlmConfigError::BadProvider(other.into())),
        }
        match self.structured_output.as_deref() {
            None | Some("json_schema" | "json_object" | "none") => {}
            Some(other) => return Err(LlmConfigError::BadStructuredOutput(other.into())),
        }
        range("timeout_secs", self.timeout_secs, |v| *v > 0, "> 0")?;
        range("max_tokens", self.max_tokens, |v| *v > 0, "> 0")?;
        range(
            "temperature",
            self.temperature,
            |v| (0.0..=2.0).contains(v),
            "0 to 2",
        )?;
        range(
            "context_tokens",
            self.context_tokens,
            |v| *v >= 256,
            ">= 256",
        )?;
        range("budget_tokens", self.budget_tokens, |v| *v > 0, "> 0")?;
        range("budget_secs", self.budget_secs, |v| *v > 0, "> 0")?;
        for (field, v) in [
            ("price_prompt_per_mtok", self.price_prompt_per_mtok),
            ("price_completion_per_mtok", self.price_completion_per_mtok),
        ] {
            range(field, v, |p| p.is_finite() && *p >= 0.0, ">= 0")?;
        }
        Ok(())
    }

    /// Resolved settings; `None` when no model is configured (investigations run offline).
    pub fn settings(&self) -> Result<Option<LlmSettings>, LlmConfigError> {
        self.validate()?;
        let (Some(base), Some(model)) = (&self.base_url, &self.model) else {
            return Ok(None);
        };
        let mut s = LlmSettings::new(base, model);
        if self.provider.as_deref() == Some("azure") {
            s.provider = Provider::Azure;
        }
        s.api_version = self.api_version.clone();
        s.api_key_env = self.api_key_env.clone();
        s.api_key_file = self.api_key_file.clone();
        s.timeout_secs = self.timeout_secs.unwrap_or(s.timeout_secs);
        s.max_tokens = self.max_tokens.unwrap_or(s.max_tokens);
        s.temperature = self.temperature.unwrap_or(s.temperature);
        s.max_followups = self.max_followups.unwrap_or(s.max_followups);
        s.context_tokens = self.context_tokens.unwrap_or(s.context_tokens);
        s.budget_tokens = self.budget_tokens.unwrap_or(s.budget_tokens);
        s.budget_secs = self.budget_secs.unwrap_or(s.budget_secs);
        s.structured_output = match self.structured_output.as_deref() {
            Some("json_object") => StructuredOutput::JsonObject,
            Some("none") => StructuredOutput::None,
            _ => StructuredOutput::JsonSchema,
        };
        s.redaction = RedactionConfig {
            emails: self.redact_emails,
            ips: self.redact_ips,
        };
        s.price_prompt_per_mtok = self.price_prompt_per_mtok.unwrap_or(0.0);
        s.price_completion_per_mtok = self.price_completion_per_mtok.unwrap_or(0.0);
        s.prompts_dir = self.prompts_dir.clone();
        Ok(Some(s))
    }

    /// The async-openai client for this endpoint; `None` when no model is configured.
    pub fn client(&self) -> Result<Option<Client<Box<dyn Config>>>, LlmConfigError> {
        self.settings()?.map(|s| s.client()).transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation() {
        assert!(LlmConfig::default().validate().is_ok());
        assert!(!LlmConfig::default().is_configured());
        assert!(LlmConfig::default().client().unwrap().is_none());
        let bad = LlmConfig {
            base_url: Some("localhost:8080".into()),
            model: Some("m".into()),
            ..Default::default()
        };
        assert!(matches!(bad.validate(), Err(LlmConfigError::BadBaseUrl(_))));
        let no_model = LlmConfig {
            base_url: Some("http://127.0.0.1:8080/v1".into()),
            ..Default::default()
        };
        assert_eq!(no_model.validate(), Err(LlmConfigError::MissingModel));
        let ok = LlmConfig {
            model: Some("llama3".into()),
            ..no_model
        };
        assert!(ok.is_configured() && ok.client().unwrap().is_some());
        let hot = LlmConfig {
            temperature: Some(3.0),
            ..ok.clone()
        };
        assert!(matches!(
            hot.validate(),
            Err(LlmConfigError::OutOfRange {
                field: "temperature",
                ..
            })
        ));
        let azure = LlmConfig {
            provider: Some("azure".into()),
            ..ok.clone()
        };
        assert_eq!(azure.validate(), Err(LlmConfigError::MissingApiVersion));
        let azure = LlmConfig {
            api_version: Some("2024-10-21".into()),
            ..azure
        };
        let s = azure.settings().unwrap().unwrap();
        assert_eq!(
            s.chat_url(),
            "http://127.0.0.1:8080/v1/openai/deployments/llama3/chat/completions?api-version=2024-10-21"
        );
    }

    #[test]
    fn parses_from_toml_shaped_json() {
        let c: LlmConfig = serde_json::from_value(serde_json::json!({
            "base_url": "http://127.0.0.1:11434/v1/", "model": "qwen2.5:7b",
            "api_key_file": "/run/secrets/key", "max_tokens": 1024, "temperature": 0.2,
            "max_followups": 1, "redact_emails": true, "structured_output": "json_object",
        }))
        .unwrap();
        let s = c.settings().unwrap().unwrap();
        assert_eq!(s.chat_url(), "http://127.0.0.1:11434/v1/chat/completions");
        assert_eq!((s.max_tokens, s.max_followups), (1024, 1));
        assert!(s.redaction.emails && !s.redaction.ips);
        assert_eq!(s.structured_output, StructuredOutput::JsonObject);
        assert!(serde_json::from_value::<LlmConfig>(serde_json::json!({"api_key": "x"})).is_err());
    }

    #[test]
    fn api_key_from_file_is_trimmed_checked_and_hidden() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        std::fs::write(&path, "sk-test-123\n").unwrap();
        let mut s = LlmSettings::new("http://127.0.0.1:1/v1", "m");
        s.api_key_file = Some(path.clone());
        let key = s.api_key().unwrap().unwrap();
        assert_eq!(key.expose(), "sk-test-123");
        assert_eq!(format!("{key:?}"), "ApiKey(***)");
        assert!(!format!("{s:?}").contains("sk-test-123"));
        std::fs::write(&path, "sk-a b").unwrap();
        assert_eq!(s.api_key(), Err(LlmConfigError::BadKey));
        s.api_key_file = Some(dir.path().join("missing"));
        assert!(matches!(s.api_key(), Err(LlmConfigError::KeyFile { .. })));
        s.api_key_file = None;
        s.api_key_env = Some("ROOTLINE_TEST_SURELY_UNSET_VAR".into());
        assert!(matches!(s.api_key(), Err(LlmConfigError::KeyEnvUnset(_))));
        s.api_key_env = None;
        assert_eq!(s.api_key(), Ok(None));
    }
}

//! The model provider: configuration of an OpenAI-compatible endpoint (OpenAI, Azure, vLLM,
//! Ollama, llama.cpp) and the async-openai client built from it.
//!
//! Today this crate only resolves and validates the configuration and builds the client; asking
//! the model for hypotheses (prompts, grounding checks, replay) is the LLM issue's work. With no
//! model configured, investigations run offline on the evidence engine's ranking.
//!
//! Architecture invariant: only this crate imports async-openai, and nothing here can reach an
//! executor of actions.

use async_openai::Client;
use async_openai::config::OpenAIConfig;
use serde::Deserialize;

/// `[llm]` in the config file.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LlmConfig {
    /// Base URL of the OpenAI-compatible API, e.g. `http://127.0.0.1:11434/v1` for Ollama.
    pub base_url: Option<String>,
    pub model: Option<String>,
    /// Name of the environment variable that holds the API key. The key itself never goes in a
    /// config file, a log or the database.
    pub api_key_env: Option<String>,
    pub timeout_secs: Option<u64>,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum LlmConfigError {
    #[error("llm.base_url {0:?} must start with http:// or https://")]
    BadBaseUrl(String),
    #[error("llm.model is required when llm.base_url is set")]
    MissingModel,
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
        Ok(())
    }

    /// The async-openai client for this endpoint; `None` when no model is configured.
    pub fn client(&self) -> Result<Option<Client<OpenAIConfig>>, LlmConfigError> {
        self.validate()?;
        let Some(base) = &self.base_url else {
            return Ok(None);
        };
        let key = self
            .api_key_env
            .as_deref()
            .and_then(|name| std::env::var(name).ok())
            .unwrap_or_default();
        let config = OpenAIConfig::new().with_api_base(base).with_api_key(key);
        Ok(Some(Client::with_config(config)))
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
    }
}

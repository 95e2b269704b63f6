//! Model hypotheses that cannot lie about the evidence.
//!
//! rootline asks an OpenAI-compatible endpoint (OpenAI, Azure OpenAI, vLLM, Ollama, llama.cpp
//! server, LiteLLM) for root-cause hypotheses about an incident, and keeps only what the evidence
//! supports:
//!
//! - [`config`]: the `[llm]` settings (base URL, model, key from an environment variable or a
//!   file, timeout, max tokens, temperature, budgets, redaction, prices) and the async-openai
//!   client. With no model configured, investigations run offline on the evidence engine's
//!   ranking, labelled so.
//! - [`prompts`]: versioned templates from `prompts/`, validated at load, recorded by name,
//!   version and SHA-256 with every investigation.
//! - [`redact`]: secrets (keys, bearer tokens, passwords, private keys, connection strings;
//!   optionally emails and IPs) are removed from every string before it leaves the process.
//! - [`answer`]: the JSON answer shape (`response_format` json_schema where supported, robust
//!   extraction and one repair request otherwise).
//! - [`ground`]: the checker. Hypotheses citing nothing, citing ids that were not shown, or
//!   misquoting log text are rejected with the reason; confidence is capped by the strength of the
//!   cited evidence.
//! - [`engine`]: [`hypothesize`] runs the exchange with timeouts, retries on 429/5xx with
//!   backoff, token and time budgets, follow-up searches the model asks for in its JSON (no tool
//!   calling needed, so small local models work), and falls back to offline on any failure.
//! - [`cassette`]: record / replay of exchanges for repeatable, free evaluations.
//!
//! Logs are untrusted: they reach the model only as JSON-escaped data inside marked evidence
//! blocks, and nothing the model says is acted on. Proposed fixes are plain data that need an
//! engineer's approval. **Nothing in this crate can execute anything**: it has no process,
//! shell, file-changing or network call other than the request to the configured model endpoint
//! (and reading prompts, the key file and cassettes).
//!
//! Architecture invariant: only this crate imports async-openai, and nothing here can reach an
//! executor of actions.

pub mod answer;
pub mod cassette;
pub mod config;
pub mod engine;
pub mod ground;
pub mod prompts;
pub mod redact;

pub use answer::FollowUp;
pub use cassette::CassetteMode;
pub use config::{ApiKey, LlmConfig, LlmConfigError, LlmSettings, Provider, StructuredOutput};
pub use engine::{
    LlmOutcome, MODE_LLM, MODE_OFFLINE, NoSearch, SearchRecord, Searcher, Usage, dry_run_payload,
    hypothesize,
};
pub use ground::{GroundedHypothesis, ProposedFix, RejectCode, RejectedHypothesis, Risk};
pub use prompts::{PromptError, PromptRecord, Prompts};
pub use redact::{RedactionConfig, Redactor};

/// At most `max` characters of `text`, with `…` when cut.
pub(crate) fn truncate(text: &str, max: usize) -> String {
    rootline_signals::pack::truncate_chars(text, max)
}

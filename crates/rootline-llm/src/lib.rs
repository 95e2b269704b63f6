//! OpenAI-compatible model client.

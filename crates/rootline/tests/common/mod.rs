//! Shared by the CLI tests that talk to a model: a scripted local OpenAI-compatible server that
//! records every request and answers with what the test's script returns.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::routing::post;
use serde_json::{Value, json};

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Turns a chat-completion request into the assistant's message content.
pub type Script = fn(&Value) -> String;

#[derive(Clone)]
struct Scripted {
    script: Script,
    received: Arc<Mutex<Vec<Value>>>,
}

/// A running scripted model: its base URL and the requests it has received.
pub struct ScriptedModel {
    pub base_url: String,
    received: Arc<Mutex<Vec<Value>>>,
}

impl ScriptedModel {
    /// Starts the server on a free local port, answering every request with `script`.
    pub async fn start(script: Script) -> ScriptedModel {
        let received = Arc::new(Mutex::new(Vec::new()));
        let app = Router::new()
            .route("/v1/chat/completions", post(chat))
            .with_state(Scripted {
                script,
                received: received.clone(),
            });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move { axum::serve(listener, app).await });
        ScriptedModel {
            base_url: format!("http://127.0.0.1:{port}/v1"),
            received,
        }
    }

    /// Every request body received so far, oldest first.
    pub fn received(&self) -> Vec<Value> {
        self.received.lock().unwrap().clone()
    }
}

async fn chat(State(s): State<Scripted>, body: String) -> axum::Json<Value> {
    let request: Value = serde_json::from_str(&body).unwrap_or_default();
    let content = (s.script)(&request);
    let model = request["model"].as_str().unwrap_or("scripted").to_string();
    s.received.lock().unwrap().push(request);
    axum::Json(json!({
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "created": 1,
        "model": model,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": content},
            "finish_reason": "stop"
        }],
        "usage": {"prompt_tokens": 1000, "completion_tokens": 200, "total_tokens": 1200}
    }))
}

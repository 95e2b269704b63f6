//! Verdicts from chat, where the on-call engineer already is: the "right" / "wrong" buttons on
//! an investigation's answer and `/rootline verdict ID right|wrong|partly [cause=SERVICE]
//! [NOTE]`. A verdict from chat is a normal versioned verdict on the investigation, recorded as
//! the rootline user the chat account was linked to (`rootline user link NAME --slack-user U…`),
//! with the audit entry naming that user; an unlinked chat account is told how to link and
//! nothing is recorded. Chat still never approves or executes an action.
//!
//! | method and path | what |
//! |---|---|
//! | `POST /chatops/interactive` | Slack's interactivity request (`payload=` a `block_actions` JSON), signed like the slash command (signature over the body, 5-minute window, each signature once) |
//! | `POST /chatops/mattermost/action` | a Mattermost message action: JSON with `user_id` and the `context` rootline put on the button, which carries an HMAC of the investigation and judgement under the command's token (Mattermost does not sign action requests and keeps a button's context from clients) |
//!
//! "The cause was …" is the follow-up command with `cause=SERVICE` (no modal: a modal needs a
//! bot token rootline does not hold).

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use hmac::{Hmac, Mac};
use rootline_store::{ChatFlavour, GovernanceError, Judgement, NewVerdict, VerdictTarget};
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::Sha256;

use crate::AppState;
use crate::chatops::{
    ChatMessage, ChatopsConfig, constant_time_eq, is_web_url, now_secs, post_message,
    verify_slack_request,
};
use crate::error::ApiError;
use crate::text::{escape_chat as escape, truncate};
use crate::verdicts::{api_error, service};

/// Slack `action_id`s of the two buttons; the button's `value` is the investigation id.
const RIGHT_ACTION: &str = "rootline_verdict_right";
const WRONG_ACTION: &str = "rootline_verdict_wrong";
/// Longest note kept from chat, in characters.
const MAX_NOTE_CHARS: usize = 2000;

/// A verdict as chat gives it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ChatVerdict {
    pub investigation_id: String,
    pub judgement: Judgement,
    /// The service actually at fault (`cause=SERVICE`).
    pub cause: Option<String>,
    pub note: Option<String>,
}

fn judgement(word: &str) -> Option<Judgement> {
    match word.to_ascii_lowercase().as_str() {
        "right" | "accepted" | "correct" => Some(Judgement::Accepted),
        "wrong" | "rejected" | "incorrect" => Some(Judgement::Rejected),
        "partly" | "partly_right" | "partial" => Some(Judgement::PartlyRight),
        _ => None,
    }
}

/// `ID right|wrong|partly [cause=SERVICE] [NOTE...]`; `tail` is the text after a `--`, part of
/// the note.
pub(crate) fn parse(words: &[&str], tail: Option<&str>) -> Result<ChatVerdict, String> {
    let usage = "use `/rootline verdict ID right|wrong|partly [cause=SERVICE] [NOTE]`";
    let [id, word, rest @ ..] = words else {
        return Err(format!(
            "`verdict` needs an investigation id and a judgement: {usage}"
        ));
    };
    let judgement = judgement(word).ok_or_else(|| {
        format!(
            "`{}` is not a judgement (right, wrong or partly): {usage}",
            escape(word)
        )
    })?;
    let mut cause = None;
    let mut note: Vec<&str> = Vec::new();
    for w in rest {
        match w.strip_prefix("cause=") {
            Some(c) if cause.is_none() && !c.is_empty() => cause = Some(c.to_owned()),
            _ => note.push(w),
        }
    }
    let mut note = note.join(" ");
    if let Some(t) = tail.filter(|t| !t.is_empty()) {
        if !note.is_empty() {
            note.push(' ');
        }
        note.push_str(t);
    }
    Ok(ChatVerdict {
        investigation_id: (*id).to_owned(),
        judgement,
        cause,
        note: (!note.is_empty()).then(|| truncate(&note, MAX_NOTE_CHARS)),
    })
}

/// Records `verdict` as the rootline user `chat_user` is linked to; returns what to tell the
/// caller. Refusals a person can act on (not linked, no such investigation, a role that may not
/// judge) are answers, not errors.
pub(crate) async fn record(
    state: &AppState,
    flavour: ChatFlavour,
    chat_user: &str,
    verdict: &ChatVerdict,
) -> Result<String, ApiError> {
    let svc = service(state)?;
    let flag = match flavour {
        ChatFlavour::Slack => "--slack-user",
        ChatFlavour::Mattermost => "--mattermost-user",
    };
    let Some(user) = svc.chat_user(flavour, chat_user).await.map_err(api_error)? else {
        return Ok(format!(
            "Nothing was recorded: your {} account (`{}`) is not linked to a rootline user. An \
             administrator links it with `rootline user link NAME {flag} {}`.",
            flavour.as_str(),
            escape(chat_user),
            escape(chat_user),
        ));
    };
    let id = &verdict.investigation_id;
    if !svc.investigation_exists(id).await.map_err(api_error)? {
        return Ok(format!("No investigation with id `{}`.", escape(id)));
    }
    let new = NewVerdict {
        investigation_id: id.clone(),
        target: VerdictTarget::Investigation,
        judgement: verdict.judgement,
        root_cause_service: verdict.cause.clone(),
        root_cause_entity: None,
        fault_type: None,
        fix: None,
        note: Some(match &verdict.note {
            Some(n) => format!("from {}: {n}", flavour.as_str()),
            None => format!("from {}", flavour.as_str()),
        }),
    };
    match svc.record_verdict(&user, &new).await {
        Ok(v) => Ok(format!(
            "Recorded *{}* on investigation `{}`{} as rootline user *{}* (version {}).",
            v.judgement.as_str(),
            escape(id),
            verdict
                .cause
                .as_deref()
                .map_or_else(String::new, |c| format!(", cause `{}`", escape(c))),
            escape(&user.name),
            v.version
        )),
        Err(GovernanceError::Refused(r)) => {
            Ok(format!("Nothing was recorded: {}", escape(&r.to_string())))
        }
        Err(GovernanceError::Invalid(m)) => Ok(format!("Nothing was recorded: {}", escape(&m))),
        Err(e) => Err(api_error(e)),
    }
}

/// The HMAC a Mattermost button's context carries: only this server, holding the command's
/// token, can make one.
fn context_signature(token: &str, investigation_id: &str, judgement: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(token.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(format!("rootline-verdict:{investigation_id}:{judgement}").as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Puts the "right" / "wrong" buttons on an investigation's answer: Block Kit for Slack;
/// message actions for Mattermost when the server knows its public URL (Mattermost posts a
/// button's action to a URL in the message).
pub(crate) fn add_buttons(
    message: &mut ChatMessage,
    investigation_id: &str,
    config: &ChatopsConfig,
) {
    if investigation_id.is_empty() {
        return;
    }
    match config.flavour() {
        ChatFlavour::Slack => {
            message.blocks = Some(json!([
                {"type": "section", "text": {"type": "mrkdwn", "text": truncate(&message.text, 2900)}},
                {"type": "actions", "block_id": "rootline_verdict", "elements": [
                    {"type": "button", "action_id": RIGHT_ACTION, "value": investigation_id,
                     "style": "primary", "text": {"type": "plain_text", "text": "Right"}},
                    {"type": "button", "action_id": WRONG_ACTION, "value": investigation_id,
                     "style": "danger", "text": {"type": "plain_text", "text": "Wrong"}},
                ]},
                {"type": "context", "elements": [{"type": "mrkdwn",
                 "text": format!("The cause was something else? `/rootline verdict {investigation_id} wrong cause=SERVICE`")}]},
            ]));
        }
        ChatFlavour::Mattermost => {
            let (Some(url), Some(token)) = (&config.public_url, &config.verification_token) else {
                return;
            };
            let action = |name: &str, judgement: Judgement| {
                json!({
                    "id": format!("verdict{}", judgement.as_str().replace('_', "")),
                    "name": name,
                    "integration": {
                        "url": format!("{url}/chatops/mattermost/action"),
                        "context": {
                            "investigation_id": investigation_id,
                            "judgement": judgement.as_str(),
                            "sig": context_signature(token, investigation_id, judgement.as_str()),
                        }
                    }
                })
            };
            message.attachments = Some(json!([{
                "text": format!("Was this right? The cause was something else: `/rootline verdict {investigation_id} wrong cause=SERVICE`"),
                "actions": [action("Right", Judgement::Accepted), action("Wrong", Judgement::Rejected)],
            }]));
        }
    }
}

#[derive(Debug, Deserialize)]
struct SlackForm {
    payload: String,
}

#[derive(Debug, Deserialize)]
struct SlackPayload {
    #[serde(rename = "type")]
    kind: String,
    user: SlackUser,
    #[serde(default)]
    actions: Vec<SlackAction>,
    /// Where Slack shows a reply to a button press (it ignores the HTTP answer's body).
    #[serde(default)]
    response_url: String,
}

#[derive(Debug, Deserialize)]
struct SlackUser {
    id: String,
}

#[derive(Debug, Deserialize)]
struct SlackAction {
    action_id: String,
    #[serde(default)]
    value: String,
}

fn chatops(state: &AppState) -> Result<std::sync::Arc<ChatopsConfig>, ApiError> {
    state
        .chatops
        .clone()
        .ok_or_else(|| ApiError::NotFound("chatops is not configured on this server".into()))
}

/// `POST /chatops/interactive`: a Slack button press.
pub(crate) async fn slack_interactive(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<ChatMessage>, ApiError> {
    let config = chatops(&state)?;
    verify_slack_request(&config, &headers, &body, now_secs())?;
    let form: SlackForm = serde_urlencoded::from_bytes(&body)
        .map_err(|e| ApiError::BadRequest(format!("not a Slack interaction (payload=): {e}")))?;
    let payload: SlackPayload = serde_json::from_str(&form.payload).map_err(|e| {
        ApiError::BadRequest(format!("the interaction payload is not readable: {e}"))
    })?;
    if payload.kind != "block_actions" {
        return Err(ApiError::BadRequest(format!(
            "interactions of type {:?} are not handled",
            payload.kind
        )));
    }
    let Some(action) = payload
        .actions
        .iter()
        .find(|a| a.action_id == RIGHT_ACTION || a.action_id == WRONG_ACTION)
    else {
        return Err(ApiError::BadRequest(
            "no rootline verdict button in the interaction".into(),
        ));
    };
    let verdict = ChatVerdict {
        investigation_id: action.value.clone(),
        judgement: if action.action_id == RIGHT_ACTION {
            Judgement::Accepted
        } else {
            Judgement::Rejected
        },
        cause: None,
        note: None,
    };
    let text = record(&state, ChatFlavour::Slack, &payload.user.id, &verdict).await?;
    let reply = ChatMessage::to_caller(text);
    if is_web_url(&payload.response_url) {
        let (url, message) = (payload.response_url.clone(), reply.clone());
        tokio::spawn(async move {
            if let Err(e) = post_message(&url, &message).await {
                tracing::warn!(error = %e, "cannot post the verdict's confirmation to response_url");
            }
        });
    }
    Ok(Json(reply))
}

#[derive(Debug, Deserialize)]
struct MattermostAction {
    #[serde(default)]
    user_id: String,
    #[serde(default)]
    context: MattermostContext,
}

#[derive(Debug, Default, Deserialize)]
struct MattermostContext {
    #[serde(default)]
    investigation_id: String,
    #[serde(default)]
    judgement: String,
    #[serde(default)]
    sig: String,
}

/// `POST /chatops/mattermost/action`: a Mattermost button press.
pub(crate) async fn mattermost_action(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<Json<Value>, ApiError> {
    let config = chatops(&state)?;
    let Some(token) = config.verification_token.as_deref() else {
        return Err(ApiError::NotFound(
            "Mattermost is not configured on this server".into(),
        ));
    };
    let action: MattermostAction = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("not a Mattermost action request: {e}")))?;
    let ctx = &action.context;
    let expected = context_signature(token, &ctx.investigation_id, &ctx.judgement);
    if !constant_time_eq(expected.as_bytes(), ctx.sig.as_bytes()) {
        return Err(ApiError::Unauthorized(
            "the action's context was not made by this server".into(),
        ));
    }
    let judgement = match ctx.judgement.as_str() {
        "accepted" => Judgement::Accepted,
        "rejected" => Judgement::Rejected,
        "partly_right" => Judgement::PartlyRight,
        other => return Err(ApiError::BadRequest(format!("unknown judgement {other:?}"))),
    };
    let verdict = ChatVerdict {
        investigation_id: ctx.investigation_id.clone(),
        judgement,
        cause: None,
        note: None,
    };
    let text = record(&state, ChatFlavour::Mattermost, &action.user_id, &verdict).await?;
    Ok(Json(json!({"ephemeral_text": text})))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_verdict_command_reads_judgement_cause_and_note() {
        let v = parse(
            &["inv-1", "wrong", "cause=payments", "db", "pool"],
            Some("saw it in grafana"),
        )
        .unwrap();
        assert_eq!(v.investigation_id, "inv-1");
        assert_eq!(v.judgement, Judgement::Rejected);
        assert_eq!(v.cause.as_deref(), Some("payments"));
        assert_eq!(v.note.as_deref(), Some("db pool saw it in grafana"));
        let v = parse(&["inv-1", "Right"], None).unwrap();
        assert_eq!(
            (v.judgement, v.cause, v.note),
            (Judgement::Accepted, None, None)
        );
        assert!(parse(&["inv-1"], None).unwrap_err().contains("judgement"));
        assert!(
            parse(&["inv-1", "maybe"], None)
                .unwrap_err()
                .contains("maybe")
        );
    }

    #[test]
    fn a_context_signature_binds_investigation_and_judgement() {
        let a = context_signature("tok", "inv-1", "accepted");
        assert_eq!(a, context_signature("tok", "inv-1", "accepted"));
        assert_ne!(a, context_signature("tok", "inv-1", "rejected"));
        assert_ne!(a, context_signature("tok", "inv-2", "accepted"));
        assert_ne!(a, context_signature("other", "inv-1", "accepted"));
    }
}

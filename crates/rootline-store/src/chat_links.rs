//! Chat identities linked to rootline users. A verdict given from chat (a button, or
//! `/rootline verdict …`) is recorded as the rootline user the chat user was linked to by an
//! administrator (`rootline user link NAME --slack-user U…`), so that the audit log names a
//! person rootline knows, not a chat display name anyone can set. An unlinked chat user records
//! nothing.

use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::audit::{GovernanceError, NewAudit, append_audit, claim_audit_head};
use crate::users::{SELECT_USER_BY_NAME, UserRow, user_from_row};
use crate::{Pool, Store, StoreError, User, format_time};

/// Which chat server a chat user id belongs to (ids are only unique within one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChatFlavour {
    Slack,
    Mattermost,
}

impl ChatFlavour {
    pub fn as_str(self) -> &'static str {
        match self {
            ChatFlavour::Slack => "slack",
            ChatFlavour::Mattermost => "mattermost",
        }
    }
}

/// Longest chat user id accepted, in bytes (Slack's are ~11, Mattermost's 26).
const MAX_CHAT_USER_LEN: usize = 64;

const SELECT_LINKED_USER: &str = "\
SELECT u.id, u.name, u.role, u.created_at, u.disabled_at
FROM chat_links c JOIN users u ON u.id = c.user_id
WHERE c.flavour = $1 AND c.chat_user = $2";

impl Store {
    /// Links `chat_user` of `flavour` to the rootline user `name` (a link to someone else is
    /// replaced). `by` is who did it, for the audit log.
    pub async fn link_chat_user(
        &self,
        name: &str,
        flavour: ChatFlavour,
        chat_user: &str,
        by: &str,
    ) -> Result<User, GovernanceError> {
        let chat_user = chat_user.trim();
        if chat_user.is_empty()
            || chat_user.len() > MAX_CHAT_USER_LEN
            || !chat_user
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        {
            return Err(GovernanceError::Invalid(format!(
                "chat user id {chat_user:?} must be 1 to {MAX_CHAT_USER_LEN} characters of a-z, 0-9, '.', '_', '-' (the id, e.g. U024BE7LH, not the display name)"
            )));
        }
        let now = format_time(Utc::now());
        let user = with_pool!(self, pool => {
            let mut tx = pool.begin().await.map_err(self.query_error("begin link chat user"))?;
            let head = claim_audit_head!(self, tx);
            let row: Option<UserRow> = sqlx::query_as(SELECT_USER_BY_NAME)
                .bind(name)
                .fetch_optional(&mut *tx)
                .await
                .map_err(self.query_error("find user"))?;
            let Some(row) = row else {
                return Err(GovernanceError::NotFound { what: "user", id: name.to_owned() });
            };
            let user = user_from_row(row)?;
            sqlx::query("DELETE FROM chat_links WHERE flavour = $1 AND chat_user = $2")
                .bind(flavour.as_str())
                .bind(chat_user)
                .execute(&mut *tx)
                .await
                .map_err(self.query_error("unlink chat user"))?;
            sqlx::query(
                "INSERT INTO chat_links (flavour, chat_user, user_id, created_at) VALUES ($1, $2, $3, $4)",
            )
            .bind(flavour.as_str())
            .bind(chat_user)
            .bind(user.id.as_str())
            .bind(now.as_str())
            .execute(&mut *tx)
            .await
            .map_err(self.query_error("link chat user"))?;
            let audit = NewAudit::new(
                by,
                "chat_user_linked",
                format!("user:{}", user.name),
                json!({"flavour": flavour, "chat_user": chat_user}),
            );
            append_audit!(self, tx, head, audit, now.clone());
            tx.commit().await.map_err(self.query_error("commit link chat user"))?;
            user
        });
        Ok(user)
    }

    /// The rootline user `chat_user` of `flavour` is linked to; `None` when unlinked or when
    /// that user is disabled.
    pub async fn chat_user(
        &self,
        flavour: ChatFlavour,
        chat_user: &str,
    ) -> Result<Option<User>, StoreError> {
        let row: Option<UserRow> = with_pool!(self, pool => {
            sqlx::query_as(SELECT_LINKED_USER)
                .bind(flavour.as_str())
                .bind(chat_user)
                .fetch_optional(pool)
                .await
                .map_err(self.query_error("find chat user"))?
        });
        Ok(row.map(user_from_row).transpose()?.filter(|u| !u.disabled))
    }
}

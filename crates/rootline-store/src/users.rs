//! Users, roles and API tokens. A token is shown once, when created; only its SHA-256 is stored,
//! so a copy of the database does not hand out working tokens.

use chrono::{DateTime, Utc};
use rootline_actions::{Actor, Role, Scope, sha256_hex};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::audit::{GovernanceError, NewAudit, append_audit, claim_audit_head};
use crate::{Pool, Store, StoreError, format_time};

/// Prefix of every API token, so that leaked tokens are recognisable (e.g. by secret scanners).
pub const TOKEN_PREFIX: &str = "rlt_";
/// Longest user name accepted, in bytes.
const MAX_NAME_LEN: usize = 64;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct User {
    pub id: String,
    pub name: String,
    pub role: Role,
    pub created_at: String,
    pub disabled: bool,
}

impl User {
    /// The actor this user acts as.
    pub fn actor(&self) -> Actor {
        Actor::User {
            id: self.id.clone(),
            name: self.name.clone(),
            role: self.role,
        }
    }
}

/// Who a token speaks for and what it may be used for: the scopes it was created with (or its
/// role's defaults), never more than the user's role allows today.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credential {
    pub user: User,
    pub scopes: Vec<Scope>,
}

impl Credential {
    /// Whether this credential may be used for `needed` (the admin scope allows everything).
    pub fn allows(&self, needed: Scope) -> bool {
        self.scopes.contains(&needed) || self.scopes.contains(&Scope::Admin)
    }
}

/// A newly created token. `token` is the secret: it is not stored and cannot be shown again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedToken {
    pub id: String,
    pub token: String,
    pub user: User,
    pub label: String,
    pub expires_at: Option<String>,
    pub scopes: Vec<Scope>,
}

const INSERT_USER: &str =
    "INSERT INTO users (id, name, role, created_at, disabled_at) VALUES ($1, $2, $3, $4, NULL)";
pub(crate) const SELECT_USER_BY_NAME: &str =
    "SELECT id, name, role, created_at, disabled_at FROM users WHERE name = $1";
const LIST_USERS: &str = "SELECT id, name, role, created_at, disabled_at FROM users ORDER BY name";
const INSERT_TOKEN: &str = "\
INSERT INTO api_tokens (id, user_id, token_hash, label, created_at, expires_at, revoked_at, scopes)
VALUES ($1, $2, $3, $4, $5, $6, NULL, $7)";
const SELECT_TOKEN_USER: &str = "\
SELECT u.id, u.name, u.role, u.created_at, u.disabled_at, t.expires_at, t.revoked_at, t.scopes
FROM api_tokens t JOIN users u ON u.id = t.user_id
WHERE t.token_hash = $1";

/// `id, name, role, created_at, disabled_at`
pub(crate) type UserRow = (String, String, String, String, Option<String>);

/// Who a local CLI administrator is in the audit log.
pub const LOCAL_ADMIN: &str = "cli:local";

impl Store {
    /// Adds a user. `by` is who did it, for the audit log (a user name or [`LOCAL_ADMIN`]).
    /// A taken name is a [`GovernanceError::Conflict`].
    pub async fn add_user(
        &self,
        name: &str,
        role: Role,
        by: &str,
    ) -> Result<User, GovernanceError> {
        // Not trimmed: a name with stray whitespace is refused rather than silently changed.
        if name.is_empty()
            || name.len() > MAX_NAME_LEN
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-@".contains(c))
        {
            return Err(GovernanceError::Invalid(format!(
                "user name {name:?} must be 1 to {MAX_NAME_LEN} characters of a-z, 0-9, '.', '_', '-', '@'"
            )));
        }
        let user = User {
            id: format!("usr_{}", uuid::Uuid::now_v7().simple()),
            name: name.to_owned(),
            role,
            created_at: format_time(Utc::now()),
            disabled: false,
        };
        let audit = NewAudit::new(
            by,
            "user_added",
            format!("user:{name}"),
            json!({"user_id": user.id, "role": role}),
        );
        with_pool!(self, pool => {
            let mut tx = pool.begin().await.map_err(self.query_error("begin add user"))?;
            let head = claim_audit_head!(self, tx);
            let taken: Option<UserRow> = sqlx::query_as(SELECT_USER_BY_NAME)
                .bind(name)
                .fetch_optional(&mut *tx)
                .await
                .map_err(self.query_error("find user"))?;
            if taken.is_some() {
                return Err(GovernanceError::Conflict(format!("a user named {name:?} exists already")));
            }
            sqlx::query(INSERT_USER)
                .bind(user.id.as_str())
                .bind(name)
                .bind(role.as_str())
                .bind(user.created_at.as_str())
                .execute(&mut *tx)
                .await
                .map_err(self.query_error("add user"))?;
            append_audit!(self, tx, head, audit, user.created_at.clone());
            tx.commit().await.map_err(self.query_error("commit add user"))?;
        });
        Ok(user)
    }

    pub async fn get_user(&self, name: &str) -> Result<Option<User>, StoreError> {
        let row: Option<UserRow> = with_pool!(self, pool => {
            sqlx::query_as(SELECT_USER_BY_NAME)
                .bind(name)
                .fetch_optional(pool)
                .await
                .map_err(self.query_error("get user"))?
        });
        row.map(user_from_row).transpose()
    }

    pub async fn list_users(&self) -> Result<Vec<User>, StoreError> {
        let rows: Vec<UserRow> = with_pool!(self, pool => {
            sqlx::query_as(LIST_USERS)
                .fetch_all(pool)
                .await
                .map_err(self.query_error("list users"))?
        });
        rows.into_iter().map(user_from_row).collect()
    }

    /// Creates an API token for `user_name`, valid until `expires_at` (or forever). Returns the
    /// token once; only its SHA-256 is stored.
    pub async fn create_token(
        &self,
        user_name: &str,
        label: &str,
        expires_at: Option<DateTime<Utc>>,
        by: &str,
    ) -> Result<CreatedToken, GovernanceError> {
        self.create_scoped_token(user_name, label, expires_at, None, by)
            .await
    }

    /// Creates a token that may be used only for `scopes` (all of them within the user's
    /// role: asking for more is [`GovernanceError::Invalid`]); `None` gives the role's default
    /// scopes, which follow the role.
    pub async fn create_scoped_token(
        &self,
        user_name: &str,
        label: &str,
        expires_at: Option<DateTime<Utc>>,
        scopes: Option<&[Scope]>,
        by: &str,
    ) -> Result<CreatedToken, GovernanceError> {
        if scopes.is_some_and(<[Scope]>::is_empty) {
            return Err(GovernanceError::Invalid(
                "a token needs at least one scope".into(),
            ));
        }
        let mut scopes: Option<Vec<Scope>> = scopes.map(<[Scope]>::to_vec);
        if let Some(s) = scopes.as_mut() {
            s.sort();
            s.dedup();
        }
        let scopes_column = scopes
            .as_ref()
            .map(|s| s.iter().map(|x| x.as_str()).collect::<Vec<_>>().join(","));
        let label = label.trim();
        if label.len() > 128 || label.chars().any(char::is_control) {
            return Err(GovernanceError::Invalid(
                "token label must be at most 128 bytes without control characters".into(),
            ));
        }
        // 244 random bits from the OS generator, via two v4 uuids.
        let token = format!(
            "{TOKEN_PREFIX}{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        let id = format!("tok_{}", uuid::Uuid::now_v7().simple());
        let now = format_time(Utc::now());
        let expires = expires_at.map(format_time);
        let user = with_pool!(self, pool => {
            let mut tx = pool.begin().await.map_err(self.query_error("begin create token"))?;
            let head = claim_audit_head!(self, tx);
            let row: Option<UserRow> = sqlx::query_as(SELECT_USER_BY_NAME)
                .bind(user_name)
                .fetch_optional(&mut *tx)
                .await
                .map_err(self.query_error("find user"))?;
            let Some(row) = row else {
                return Err(GovernanceError::NotFound { what: "user", id: user_name.to_owned() });
            };
            let user = user_from_row(row)?;
            if let Some(too_much) = scopes
                .iter()
                .flatten()
                .find(|s| !user.role.allows(s.least_role()))
            {
                return Err(GovernanceError::Invalid(format!(
                    "{} is a {}: a token of theirs cannot carry the {too_much} scope (needs {})",
                    user.name,
                    user.role,
                    too_much.least_role()
                )));
            }
            sqlx::query(INSERT_TOKEN)
                .bind(id.as_str())
                .bind(user.id.as_str())
                .bind(sha256_hex(token.as_bytes()))
                .bind(label)
                .bind(now.as_str())
                .bind(expires.as_deref())
                .bind(scopes_column.as_deref())
                .execute(&mut *tx)
                .await
                .map_err(self.query_error("create token"))?;
            let audit = NewAudit::new(
                by,
                "token_created",
                format!("user:{}", user.name),
                json!({"token_id": id, "label": label, "expires_at": expires, "scopes": scopes}),
            );
            append_audit!(self, tx, head, audit, now.clone());
            tx.commit().await.map_err(self.query_error("commit create token"))?;
            user
        });
        let scopes = scopes.unwrap_or_else(|| user.role.default_scopes());
        Ok(CreatedToken {
            id,
            token,
            user,
            label: label.to_owned(),
            expires_at: expires,
            scopes,
        })
    }

    /// Disables `name`: every token of theirs stops working at once (they stay listed, and
    /// their verdicts and approvals stay in the audit log). Disabling a disabled user changes
    /// nothing and is not an error; an unknown name is a [`GovernanceError::NotFound`].
    pub async fn disable_user(&self, name: &str, by: &str) -> Result<User, GovernanceError> {
        let now = format_time(Utc::now());
        let user = with_pool!(self, pool => {
            let mut tx = pool.begin().await.map_err(self.query_error("begin disable user"))?;
            let head = claim_audit_head!(self, tx);
            let row: Option<UserRow> = sqlx::query_as(SELECT_USER_BY_NAME)
                .bind(name)
                .fetch_optional(&mut *tx)
                .await
                .map_err(self.query_error("find user"))?;
            let Some(row) = row else {
                return Err(GovernanceError::NotFound { what: "user", id: name.to_owned() });
            };
            let mut user = user_from_row(row)?;
            // Already disabled: nothing to change, and the claimed audit head is given back.
            if user.disabled {
                tx.rollback().await.map_err(self.query_error("rollback disable user"))?;
                return Ok(user);
            }
            sqlx::query("UPDATE users SET disabled_at = $1 WHERE id = $2 AND disabled_at IS NULL")
                .bind(now.as_str())
                .bind(user.id.as_str())
                .execute(&mut *tx)
                .await
                .map_err(self.query_error("disable user"))?;
            let audit = NewAudit::new(by, "user_disabled", format!("user:{}", user.name), json!({}));
            append_audit!(self, tx, head, audit, now.clone());
            user.disabled = true;
            tx.commit().await.map_err(self.query_error("commit disable user"))?;
            user
        });
        Ok(user)
    }

    /// Revokes the token `id` (as `token create` printed it): it stops working at once.
    /// Revoking a revoked token changes nothing; an unknown id is a
    /// [`GovernanceError::NotFound`].
    pub async fn revoke_token(&self, id: &str, by: &str) -> Result<(), GovernanceError> {
        let now = format_time(Utc::now());
        with_pool!(self, pool => {
            let mut tx = pool.begin().await.map_err(self.query_error("begin revoke token"))?;
            let head = claim_audit_head!(self, tx);
            let row: Option<(String, Option<String>)> = sqlx::query_as(
                "SELECT u.name, t.revoked_at FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.id = $1",
            )
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(self.query_error("find token"))?;
            let Some((user, revoked_at)) = row else {
                return Err(GovernanceError::NotFound { what: "token", id: id.to_owned() });
            };
            // Already revoked: nothing to change, and the claimed audit head is given back.
            if revoked_at.is_some() {
                tx.rollback().await.map_err(self.query_error("rollback revoke token"))?;
                return Ok(());
            }
            sqlx::query("UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL")
                .bind(now.as_str())
                .bind(id)
                .execute(&mut *tx)
                .await
                .map_err(self.query_error("revoke token"))?;
            let audit = NewAudit::new(by, "token_revoked", format!("user:{user}"), json!({"token_id": id}));
            append_audit!(self, tx, head, audit, now.clone());
            tx.commit().await.map_err(self.query_error("commit revoke token"))?;
        });
        Ok(())
    }

    /// The user a token belongs to, or `None` for an unknown, revoked or expired token or a
    /// disabled user (callers answer all of these the same way, so as not to tell which).
    pub async fn authenticate(&self, token: &str) -> Result<Option<User>, StoreError> {
        Ok(self.credential(token).await?.map(|c| c.user))
    }

    /// The user a token belongs to and what the token may be used for; `None` as for
    /// [`Store::authenticate`]. A stored scope the user's role no longer allows is dropped.
    pub async fn credential(&self, token: &str) -> Result<Option<Credential>, StoreError> {
        let token = token.trim();
        if !token.starts_with(TOKEN_PREFIX) || token.len() > 256 {
            return Ok(None);
        }
        type Row = (
            String,
            String,
            String,
            String,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
        );
        let row: Option<Row> = with_pool!(self, pool => {
            sqlx::query_as(SELECT_TOKEN_USER)
                .bind(sha256_hex(token.as_bytes()))
                .fetch_optional(pool)
                .await
                .map_err(self.query_error("authenticate"))?
        });
        let Some((id, name, role, created_at, disabled_at, expires_at, revoked_at, scopes)) = row
        else {
            return Ok(None);
        };
        let now = format_time(Utc::now());
        if revoked_at.is_some() || expires_at.is_some_and(|e| e <= now) {
            return Ok(None);
        }
        let user = user_from_row((id.clone(), name, role, created_at, disabled_at))?;
        if user.disabled {
            return Ok(None);
        }
        let scopes = match scopes {
            None => user.role.default_scopes(),
            Some(list) => {
                let parsed: Result<Vec<Scope>, String> = list.split(',').map(str::parse).collect();
                let parsed = parsed.map_err(|reason| StoreError::Corrupt {
                    table: "api_tokens",
                    id: format!("a token of user {id}"),
                    reason,
                })?;
                parsed
                    .into_iter()
                    .filter(|s| user.role.allows(s.least_role()))
                    .collect()
            }
        };
        Ok(Some(Credential { user, scopes }))
    }
}

pub(crate) fn user_from_row(
    (id, name, role, created_at, disabled_at): UserRow,
) -> Result<User, StoreError> {
    let role = role.parse::<Role>().map_err(|reason| StoreError::Corrupt {
        table: "users",
        id: id.clone(),
        reason,
    })?;
    Ok(User {
        id,
        name,
        role,
        created_at,
        disabled: disabled_at.is_some(),
    })
}

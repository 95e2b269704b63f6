-- Chat identities linked to rootline users (`rootline user link NAME --slack-user U…`): a verdict
-- given from chat is recorded as the linked user, never as a chat display name. SQLite flavour.
--
-- Keep this file column-for-column in step with migrations/postgres/0006_chat_links.sql.
CREATE TABLE chat_links (
    flavour     TEXT NOT NULL,               -- slack | mattermost
    chat_user   TEXT NOT NULL,               -- the chat server's user id
    user_id     TEXT NOT NULL REFERENCES users (id),
    created_at  TEXT NOT NULL,
    PRIMARY KEY (flavour, chat_user)
);

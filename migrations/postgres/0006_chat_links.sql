-- Chat identities linked to rootline users (`rootline user link NAME --slack-user U…`): a verdict
-- given from chat is recorded as the linked user, never as a chat display name. PostgreSQL
-- flavour.
--
-- Keep this file column-for-column in step with migrations/sqlite/0006_chat_links.sql.
CREATE TABLE chat_links (
    flavour     TEXT COLLATE "C" NOT NULL,   -- slack | mattermost
    chat_user   TEXT COLLATE "C" NOT NULL,   -- the chat server's user id
    user_id     TEXT COLLATE "C" NOT NULL REFERENCES users (id),
    created_at  TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (flavour, chat_user)
);

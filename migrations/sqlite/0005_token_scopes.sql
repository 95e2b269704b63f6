-- Token scopes: what a token may be used for (ingest, read, investigate, verdict, act, approve,
-- admin), comma-separated; NULL for a token made before scopes existed or without a choice, which
-- carries its user's role's default scopes. SQLite flavour.
--
-- Keep this file column-for-column in step with migrations/postgres/0005_token_scopes.sql.
ALTER TABLE api_tokens ADD COLUMN scopes TEXT;

-- Verdicts, approval-gated actions, users and tokens, and the hash-chained audit log; PostgreSQL
-- flavour.
--
-- Keep this file column-for-column in step with migrations/sqlite/0003_verdicts_actions_audit.sql:
-- the store runs one set of queries against both. Times are RFC 3339 UTC TEXT in the store's
-- fixed-width form (YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ), so that text order is time order. JSON is
-- TEXT, not JSONB. Keys and sort columns use COLLATE "C" so that PostgreSQL compares them
-- bytewise, as SQLite does. Verdicts, approvals and audit rows are insert-only: history is never
-- overwritten.

-- The evidence an investigation used, frozen, so that it can be replayed with another model or
-- prompt. Written once per investigation; never updated.
CREATE TABLE evidence_snapshots (
    investigation_id TEXT COLLATE "C" PRIMARY KEY NOT NULL REFERENCES investigations (id) ON DELETE CASCADE,
    created_at       TEXT COLLATE "C" NOT NULL,
    content_hash     TEXT NOT NULL,          -- sha-256 hex of the canonical JSON body
    body             TEXT NOT NULL           -- canonical JSON
);

-- Ranked hypotheses of an investigation (from the ranking or a model).
CREATE TABLE hypotheses (
    id               TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    investigation_id TEXT COLLATE "C" NOT NULL REFERENCES investigations (id) ON DELETE CASCADE,
    rank             BIGINT NOT NULL,       -- 1 = first
    entity           TEXT NOT NULL,
    fault_type       TEXT,
    statement        TEXT NOT NULL,
    source           TEXT NOT NULL,          -- ranking | model
    created_at       TEXT COLLATE "C" NOT NULL
);

CREATE INDEX hypotheses_investigation_idx ON hypotheses (investigation_id, rank);

CREATE TABLE users (
    id          TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    name        TEXT COLLATE "C" NOT NULL UNIQUE,
    role        TEXT NOT NULL,               -- viewer | responder | approver | admin
    created_at  TEXT COLLATE "C" NOT NULL,
    disabled_at TEXT COLLATE "C"
);

-- API tokens: only the sha-256 hex of each token is stored.
CREATE TABLE api_tokens (
    id          TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    user_id     TEXT COLLATE "C" NOT NULL REFERENCES users (id),
    token_hash  TEXT COLLATE "C" NOT NULL UNIQUE,
    label       TEXT NOT NULL,
    created_at  TEXT COLLATE "C" NOT NULL,
    expires_at  TEXT COLLATE "C",
    revoked_at  TEXT COLLATE "C"
);

-- Verdicts are versioned per (investigation, target): a new judgement is a new row with the
-- next version; the highest version is the current one.
CREATE TABLE verdicts (
    id                 TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    investigation_id   TEXT COLLATE "C" NOT NULL REFERENCES investigations (id),
    incident_id        TEXT COLLATE "C" NOT NULL REFERENCES incidents (id),
    target_kind        TEXT COLLATE "C" NOT NULL,        -- investigation | candidate | hypothesis
    target_ref         TEXT COLLATE "C" NOT NULL,        -- '' | candidate entity | hypothesis id
    version            BIGINT NOT NULL,     -- 1, 2, … per (investigation, target)
    judgement          TEXT NOT NULL,        -- accepted | rejected | partly_right
    root_cause_service TEXT,
    root_cause_entity  TEXT,
    fault_type         TEXT,
    fix                TEXT,
    note               TEXT,
    author_id          TEXT NOT NULL,
    author_name        TEXT NOT NULL,
    created_at         TEXT COLLATE "C" NOT NULL,
    UNIQUE (investigation_id, target_kind, target_ref, version)
);

CREATE INDEX verdicts_incident_idx ON verdicts (incident_id, created_at);

CREATE TABLE actions (
    id                 TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    incident_id        TEXT COLLATE "C" REFERENCES incidents (id),
    investigation_id   TEXT COLLATE "C" REFERENCES investigations (id),
    content            TEXT NOT NULL,        -- canonical JSON of the action content
    content_hash       TEXT NOT NULL,        -- sha-256 hex of `content`; approvals bind to it
    state              TEXT COLLATE "C" NOT NULL,        -- proposed | approved | executing | succeeded | failed | rejected | expired
    version            BIGINT NOT NULL,     -- bumped by every change; updates are conditional on it
    proposed_by        TEXT NOT NULL,        -- JSON actor
    proposer_id        TEXT COLLATE "C" NOT NULL,
    required_approvals BIGINT NOT NULL,
    approval_ttl_secs  BIGINT NOT NULL,
    created_at         TEXT COLLATE "C" NOT NULL,
    expires_at         TEXT COLLATE "C" NOT NULL,
    updated_at         TEXT COLLATE "C" NOT NULL,
    result             TEXT                  -- JSON execution outcome
);

CREATE INDEX actions_state_idx ON actions (state, created_at);

CREATE TABLE action_approvals (
    id            TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    action_id     TEXT COLLATE "C" NOT NULL REFERENCES actions (id),
    approver_id   TEXT COLLATE "C" NOT NULL,
    approver_name TEXT NOT NULL,
    content_hash  TEXT NOT NULL,
    approved_at   TEXT COLLATE "C" NOT NULL,
    expires_at    TEXT COLLATE "C" NOT NULL,
    UNIQUE (action_id, approver_id, content_hash)
);

-- Append-only, hash-chained: hash = sha256(prev_hash || canonical JSON of the row's fields).
CREATE TABLE audit_log (
    seq       BIGINT PRIMARY KEY NOT NULL,  -- 1, 2, … without gaps
    at        TEXT COLLATE "C" NOT NULL,
    actor     TEXT NOT NULL,
    event     TEXT NOT NULL,
    subject   TEXT COLLATE "C" NOT NULL,
    details   TEXT NOT NULL,                 -- canonical JSON
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);

-- The chain's tip. Every audited transaction updates this row first, which serialises the
-- appends (a row lock on PostgreSQL, the write lock on SQLite).
CREATE TABLE audit_head (
    id   BIGINT PRIMARY KEY NOT NULL CHECK (id = 1),
    seq  BIGINT NOT NULL,
    hash TEXT NOT NULL
);

INSERT INTO audit_head (id, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

CREATE FUNCTION audit_log_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();

-- Verdicts, approval-gated actions, users and tokens, and the hash-chained audit log; SQLite
-- flavour.
--
-- Keep this file column-for-column in step with migrations/postgres/0003_verdicts_actions_audit.sql:
-- the store runs one set of queries against both. Times are RFC 3339 UTC TEXT in the store's
-- fixed-width form (YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ), so that text order is time order. JSON is
-- TEXT. Verdicts, approvals and audit rows are insert-only: history is never overwritten.

-- The evidence an investigation used, frozen, so that it can be replayed with another model or
-- prompt. Written once per investigation; never updated.
CREATE TABLE evidence_snapshots (
    investigation_id TEXT PRIMARY KEY NOT NULL REFERENCES investigations (id) ON DELETE CASCADE,
    created_at       TEXT NOT NULL,
    content_hash     TEXT NOT NULL,          -- sha-256 hex of the canonical JSON body
    body             TEXT NOT NULL           -- canonical JSON
);

-- Ranked hypotheses of an investigation (from the ranking or a model).
CREATE TABLE hypotheses (
    id               TEXT PRIMARY KEY NOT NULL,
    investigation_id TEXT NOT NULL REFERENCES investigations (id) ON DELETE CASCADE,
    rank             INTEGER NOT NULL,       -- 1 = first
    entity           TEXT NOT NULL,
    fault_type       TEXT,
    statement        TEXT NOT NULL,
    source           TEXT NOT NULL,          -- ranking | model
    created_at       TEXT NOT NULL
);

CREATE INDEX hypotheses_investigation_idx ON hypotheses (investigation_id, rank);

CREATE TABLE users (
    id          TEXT PRIMARY KEY NOT NULL,
    name        TEXT NOT NULL UNIQUE,
    role        TEXT NOT NULL,               -- viewer | responder | approver | admin
    created_at  TEXT NOT NULL,
    disabled_at TEXT
);

-- API tokens: only the sha-256 hex of each token is stored.
CREATE TABLE api_tokens (
    id          TEXT PRIMARY KEY NOT NULL,
    user_id     TEXT NOT NULL REFERENCES users (id),
    token_hash  TEXT NOT NULL UNIQUE,
    label       TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    expires_at  TEXT,
    revoked_at  TEXT
);

-- Verdicts are versioned per (investigation, target): a new judgement is a new row with the
-- next version; the highest version is the current one.
CREATE TABLE verdicts (
    id                 TEXT PRIMARY KEY NOT NULL,
    investigation_id   TEXT NOT NULL REFERENCES investigations (id),
    incident_id        TEXT NOT NULL REFERENCES incidents (id),
    target_kind        TEXT NOT NULL,        -- investigation | candidate | hypothesis
    target_ref         TEXT NOT NULL,        -- '' | candidate entity | hypothesis id
    version            INTEGER NOT NULL,     -- 1, 2, … per (investigation, target)
    judgement          TEXT NOT NULL,        -- accepted | rejected | partly_right
    root_cause_service TEXT,
    root_cause_entity  TEXT,
    fault_type         TEXT,
    fix                TEXT,
    note               TEXT,
    author_id          TEXT NOT NULL,
    author_name        TEXT NOT NULL,
    created_at         TEXT NOT NULL,
    UNIQUE (investigation_id, target_kind, target_ref, version)
);

CREATE INDEX verdicts_incident_idx ON verdicts (incident_id, created_at);

CREATE TABLE actions (
    id                 TEXT PRIMARY KEY NOT NULL,
    incident_id        TEXT REFERENCES incidents (id),
    investigation_id   TEXT REFERENCES investigations (id),
    content            TEXT NOT NULL,        -- canonical JSON of the action content
    content_hash       TEXT NOT NULL,        -- sha-256 hex of `content`; approvals bind to it
    state              TEXT NOT NULL,        -- proposed | approved | executing | succeeded | failed | rejected | expired
    version            INTEGER NOT NULL,     -- bumped by every change; updates are conditional on it
    proposed_by        TEXT NOT NULL,        -- JSON actor
    proposer_id        TEXT NOT NULL,
    required_approvals INTEGER NOT NULL,
    approval_ttl_secs  INTEGER NOT NULL,
    created_at         TEXT NOT NULL,
    expires_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL,
    result             TEXT                  -- JSON execution outcome
);

CREATE INDEX actions_state_idx ON actions (state, created_at);

CREATE TABLE action_approvals (
    id            TEXT PRIMARY KEY NOT NULL,
    action_id     TEXT NOT NULL REFERENCES actions (id),
    approver_id   TEXT NOT NULL,
    approver_name TEXT NOT NULL,
    content_hash  TEXT NOT NULL,
    approved_at   TEXT NOT NULL,
    expires_at    TEXT NOT NULL,
    UNIQUE (action_id, approver_id, content_hash)
);

-- Append-only, hash-chained: hash = sha256(prev_hash || canonical JSON of the row's fields).
CREATE TABLE audit_log (
    seq       INTEGER PRIMARY KEY NOT NULL,  -- 1, 2, … without gaps
    at        TEXT NOT NULL,
    actor     TEXT NOT NULL,
    event     TEXT NOT NULL,
    subject   TEXT NOT NULL,
    details   TEXT NOT NULL,                 -- canonical JSON
    prev_hash TEXT NOT NULL,
    hash      TEXT NOT NULL
);

-- The chain's tip. Every audited transaction updates this row first, which serialises the
-- appends (a row lock on PostgreSQL, the write lock on SQLite).
CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash TEXT NOT NULL
);

INSERT INTO audit_head (id, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;

CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;

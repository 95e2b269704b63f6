-- rootline store schema, SQLite flavour.
--
-- Keep this file column-for-column in step with migrations/postgres/0001_init.sql: the store runs
-- one set of queries against both.
--
-- Incidents and reports are stored whole as JSON in `body` (what the store reads back), next to
-- the columns that queries filter and sort on (written from the same value on every save).
-- Times are RFC 3339 UTC TEXT in one fixed-width form (YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ), so that
-- text order is time order. JSON is TEXT.

CREATE TABLE incidents (
    id          TEXT PRIMARY KEY NOT NULL,
    title       TEXT NOT NULL,
    start_at    TEXT NOT NULL,
    end_at      TEXT,
    services    TEXT NOT NULL DEFAULT '[]', -- JSON array of service names
    body        TEXT NOT NULL               -- the whole rootline_core::Incident as JSON
);

CREATE INDEX incidents_start_at_idx ON incidents (start_at);

CREATE TABLE investigations (
    id          TEXT PRIMARY KEY NOT NULL,
    incident_id TEXT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    created_at  TEXT NOT NULL,
    mode        TEXT NOT NULL,
    outcome     TEXT NOT NULL,             -- serde name of rootline_core::Outcome, e.g. probable_cause
    top_entity  TEXT,                      -- entity of the top-ranked candidate, if any
    body        TEXT NOT NULL              -- the whole rootline_core::Report as JSON
);

CREATE INDEX investigations_incident_created_idx ON investigations (incident_id, created_at);

CREATE TABLE ingest_runs (
    id             TEXT PRIMARY KEY NOT NULL,
    started_at     TEXT NOT NULL,
    finished_at    TEXT NOT NULL,
    sources        TEXT NOT NULL,          -- JSON array of source paths
    read_count     INTEGER NOT NULL,
    indexed_count  INTEGER NOT NULL,
    rejected_count INTEGER NOT NULL
);

CREATE INDEX ingest_runs_started_at_idx ON ingest_runs (started_at);

-- rootline store schema, PostgreSQL flavour.
--
-- Keep this file column-for-column in step with migrations/sqlite/0001_init.sql: the store runs
-- one set of queries against both.
--
-- Incidents and reports are stored whole as JSON in `body` (what the store reads back), next to
-- the columns that queries filter and sort on (written from the same value on every save).
-- Times are RFC 3339 UTC TEXT in one fixed-width form (YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ), so that
-- text order is time order. JSON is TEXT, not JSONB, so that the same bind and decode code
-- serves both backends. Sort keys use COLLATE "C" so that PostgreSQL orders them bytewise, as
-- SQLite does, whatever the database's locale.

CREATE TABLE incidents (
    id          TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    title       TEXT NOT NULL,
    start_at    TEXT COLLATE "C" NOT NULL,
    end_at      TEXT COLLATE "C",
    services    TEXT NOT NULL DEFAULT '[]', -- JSON array of service names
    body        TEXT NOT NULL               -- the whole rootline_core::Incident as JSON
);

CREATE INDEX incidents_start_at_idx ON incidents (start_at);

CREATE TABLE investigations (
    id          TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    incident_id TEXT COLLATE "C" NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    created_at  TEXT COLLATE "C" NOT NULL,
    mode        TEXT NOT NULL,
    outcome     TEXT NOT NULL,             -- serde name of rootline_core::Outcome, e.g. probable_cause
    top_entity  TEXT,                      -- entity of the top-ranked candidate, if any
    body        TEXT NOT NULL              -- the whole rootline_core::Report as JSON
);

CREATE INDEX investigations_incident_created_idx ON investigations (incident_id, created_at);

CREATE TABLE ingest_runs (
    id             TEXT COLLATE "C" PRIMARY KEY NOT NULL,
    started_at     TEXT COLLATE "C" NOT NULL,
    finished_at    TEXT COLLATE "C" NOT NULL,
    sources        TEXT NOT NULL,          -- JSON array of source paths
    read_count     BIGINT NOT NULL,
    indexed_count  BIGINT NOT NULL,
    rejected_count BIGINT NOT NULL
);

CREATE INDEX ingest_runs_started_at_idx ON ingest_runs (started_at);

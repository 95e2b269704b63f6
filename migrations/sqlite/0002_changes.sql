-- Config versions and change events, SQLite flavour.
--
-- Keep this file column-for-column in step with migrations/postgres/0002_changes.sql: the store
-- runs one set of queries against both. Times are RFC 3339 UTC TEXT in the store's fixed-width
-- form (YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ), so that text order is time order. JSON is TEXT.

CREATE TABLE config_versions (
    id           TEXT PRIMARY KEY NOT NULL,
    source       TEXT NOT NULL,            -- file path or name the config was read from
    service      TEXT NOT NULL,
    version      INTEGER NOT NULL,         -- 1, 2, … per source
    content_hash TEXT NOT NULL,            -- sha-256 hex of the flattened, masked settings
    ingested_at  TEXT NOT NULL,
    observed_at  TEXT NOT NULL,
    flattened    TEXT NOT NULL,            -- JSON object: key path -> scalar, secrets masked
    UNIQUE (source, version)
);

CREATE TABLE change_events (
    id      TEXT PRIMARY KEY NOT NULL,
    ts      TEXT NOT NULL,
    service TEXT NOT NULL,
    kind    TEXT NOT NULL,                 -- serde name of rootline_core::ChangeKind, e.g. deploy
    who     TEXT,
    what    TEXT NOT NULL,
    diff    TEXT                           -- JSON, for config changes
);

CREATE INDEX change_events_ts_idx ON change_events (ts);
CREATE INDEX change_events_service_ts_idx ON change_events (service, ts);

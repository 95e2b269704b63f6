-- Replays: an investigation re-run on another investigation's frozen evidence snapshot (another
-- model or prompt, no re-ingest). SQLite flavour.
--
-- Keep this file column-for-column in step with migrations/postgres/0004_investigation_replays.sql.
-- Insert-only: a replay's link to its original never changes.
CREATE TABLE investigation_replays (
    investigation_id TEXT PRIMARY KEY NOT NULL REFERENCES investigations (id) ON DELETE CASCADE,
    replay_of        TEXT NOT NULL REFERENCES investigations (id) ON DELETE CASCADE,
    snapshot_hash    TEXT NOT NULL,          -- content hash of the snapshot replayed
    created_at       TEXT NOT NULL
);

CREATE INDEX investigation_replays_of_idx ON investigation_replays (replay_of, created_at);

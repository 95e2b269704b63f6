-- Replays: an investigation re-run on another investigation's frozen evidence snapshot (another
-- model or prompt, no re-ingest). PostgreSQL flavour.
--
-- Keep this file column-for-column in step with migrations/sqlite/0004_investigation_replays.sql.
-- Insert-only: a replay's link to its original never changes.
CREATE TABLE investigation_replays (
    investigation_id TEXT COLLATE "C" PRIMARY KEY NOT NULL REFERENCES investigations (id) ON DELETE CASCADE,
    replay_of        TEXT COLLATE "C" NOT NULL REFERENCES investigations (id) ON DELETE CASCADE,
    snapshot_hash    TEXT NOT NULL,          -- content hash of the snapshot replayed
    created_at       TEXT COLLATE "C" NOT NULL
);

CREATE INDEX investigation_replays_of_idx ON investigation_replays (replay_of, created_at);

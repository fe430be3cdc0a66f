-- Sessions and their ICE candidates on PostgreSQL: the schema of ../0001_initial.sql, plus what
-- several server processes on one database need.
--
-- Candidates are one row each, as on SQLite, so an append never rewrites a list. What differs is
-- how an append finds its position. SQLite runs one write at a time, so MAX(seq) + 1 inside the
-- INSERT is safe there; PostgreSQL runs writes concurrently, and under READ COMMITTED two appends
-- would read the same MAX(seq) from their snapshots and the second would fail on the primary key.
-- So each session row counts its candidates per side (offerer_candidates, answerer_candidates):
-- an append increments its side's count with an UPDATE, which takes the session's row lock, and
-- inserts the candidate at the new count in the same statement. A concurrent append waits for
-- that lock and then sees the incremented count (PostgreSQL re-reads a row it waited for), so
-- positions are 1, 2, 3 ... in commit order, and the per-side bound is checked on the same row.
--
-- Text that is sorted (topics in the listing) uses the "C" collation: byte order, as SQLite's
-- BINARY, whatever locale the database was created with.

CREATE TABLE sessions (
    code                TEXT PRIMARY KEY,
    origin              TEXT NOT NULL,
    topic               TEXT COLLATE "C" NOT NULL,
    peer_id             TEXT NOT NULL,
    offer               TEXT NOT NULL,
    answer              TEXT,
    created_at          BIGINT NOT NULL,   -- Unix ms
    expires_at          BIGINT NOT NULL,   -- Unix ms
    offerer_candidates  INTEGER NOT NULL DEFAULT 0,
    answerer_candidates INTEGER NOT NULL DEFAULT 0
);

-- Discovery: unanswered sessions of one origin and topic, newest first; and topic counts.
CREATE INDEX sessions_open_by_topic
    ON sessions (origin, topic, created_at DESC)
    WHERE answer IS NULL;

-- The sweeper's range scan.
CREATE INDEX sessions_by_expiry ON sessions (expires_at);

CREATE TABLE candidates (
    code      TEXT NOT NULL REFERENCES sessions (code) ON DELETE CASCADE,
    side      TEXT NOT NULL CHECK (side IN ('offerer', 'answerer')),
    seq       INTEGER NOT NULL,    -- 1, 2, 3 ... per side: the append order
    candidate TEXT NOT NULL,
    PRIMARY KEY (code, side, seq)
);

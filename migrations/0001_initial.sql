-- Sessions and their ICE candidates.
--
-- Candidates live one row per candidate, not as a JSON list in the session row. An append is
-- then a single INSERT: it never reads and rewrites a list, so two concurrent appends cannot
-- overwrite each other (the lost update rondevu's D1 code had), its cost does not grow with the
-- list, and the append order is the `seq` column, assigned inside the same atomic statement as
-- MAX(seq) + 1 while SQLite holds the write lock. The per-side bound is checked in that statement
-- too, so a refused append writes nothing. (`UPDATE ... SET col = json_insert(col, '$[#]', ?)`
-- would also be atomic, but rewrites the whole list on every append.)
--
-- Deleting a session deletes its candidates through the foreign key (the connection enables
-- foreign_keys), so the sweeper and /leave are one statement each.
--
-- The store commits writes in groups (server/stores/groupcommit.py): the statements above run
-- unchanged, each write under its own savepoint inside a transaction shared with the writes
-- that arrived with it, so a statement's atomicity is the same as when it was committed alone,
-- and one fsync covers the group.

CREATE TABLE sessions (
    code       TEXT PRIMARY KEY,
    origin     TEXT NOT NULL,
    topic      TEXT NOT NULL,
    peer_id    TEXT NOT NULL,
    offer      TEXT NOT NULL,
    answer     TEXT,
    created_at INTEGER NOT NULL,   -- Unix ms
    expires_at INTEGER NOT NULL    -- Unix ms
) WITHOUT ROWID;

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
) WITHOUT ROWID;

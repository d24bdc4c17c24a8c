-- Issue 18: a live's viewers counted across replicas. A replica serving a live another one
-- ingests (from its mirror) writes the viewers it saw every few seconds; the ingesting replica
-- adds them to its own, distinct by the same non-personal key (a hash of the login session or
-- the address, never the cookie itself). Rows older than a minute are deleted.
CREATE TABLE live_viewers (
    live_id INTEGER NOT NULL REFERENCES lives(id) ON DELETE CASCADE,
    viewer  TEXT NOT NULL,
    seen_at TEXT NOT NULL,
    PRIMARY KEY (live_id, viewer)
);

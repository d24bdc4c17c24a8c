-- Recorded lectures, the transcode job queue, watch progress and the archive search index.

CREATE TABLE lectures (
    id           INTEGER PRIMARY KEY,
    session_id   INTEGER NOT NULL UNIQUE REFERENCES lecture_sessions (id) ON DELETE CASCADE,
    visibility   TEXT NOT NULL DEFAULT 'registered' CHECK (visibility IN ('public', 'registered')),
    -- the published HLS version, relative to the media root (NULL until one is complete)
    hls_path     TEXT,
    duration_s   REAL,
    renditions   TEXT NOT NULL DEFAULT '[]',   -- JSON [{"name","width","height","bandwidth"}]
    audio_only   INTEGER NOT NULL DEFAULT 0,
    warnings     TEXT NOT NULL DEFAULT '[]',
    published_at TEXT,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);

CREATE TABLE jobs (
    id           INTEGER PRIMARY KEY,
    kind         TEXT NOT NULL CHECK (kind IN ('transcode')),
    lecture_id   INTEGER NOT NULL REFERENCES lectures (id) ON DELETE CASCADE,
    input_path   TEXT NOT NULL,                 -- relative to the media root
    state        TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done', 'failed')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    max_attempts INTEGER NOT NULL DEFAULT 3,
    progress     REAL NOT NULL DEFAULT 0,
    eta_s        REAL,
    error        TEXT,
    worker       TEXT,
    heartbeat_at TEXT,
    started_at   TEXT,
    finished_at  TEXT,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL
);
CREATE INDEX jobs_queue ON jobs (state, id);
CREATE INDEX jobs_lecture ON jobs (lecture_id, id);

-- Watched time per account and lecture: the union of watched ranges (JSON [[from, to], ...]),
-- plus the last reported position and time, from which the next range is inferred.
CREATE TABLE watch_progress (
    user_id       INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    lecture_id    INTEGER NOT NULL REFERENCES lectures (id) ON DELETE CASCADE,
    ranges        TEXT NOT NULL DEFAULT '[]',
    watched_s     REAL NOT NULL DEFAULT 0,
    last_position REAL NOT NULL DEFAULT 0,
    last_report   TEXT NOT NULL,
    first_seen    TEXT NOT NULL,
    PRIMARY KEY (user_id, lecture_id)
);

-- Full-text search over titles and summaries; trigram tokenizer so Chinese text matches.
CREATE VIRTUAL TABLE lecture_search USING fts5 (title, summary, lecturer, tokenize = 'trigram');

-- Live lectures become lectures: one row per live (a publisher that reconnects within the
-- grace period continues the same live, as a new period), the periods, viewer samples for
-- the organizer, 'enrolled' access for lectures, and the 'live_archive' job kind.
--
-- Changing a CHECK constraint in SQLite means rebuilding the table. sqlx runs SQLite
-- migrations inside a transaction, where `PRAGMA foreign_keys = OFF` has no effect, and
-- dropping `lectures` while foreign keys are on would cascade its jobs and watch progress
-- away. So the children are copied aside and dropped first, then `lectures` is rebuilt, then
-- the children are recreated (with their final names: nothing is renamed) and refilled.

CREATE TEMP TABLE jobs_copy AS SELECT * FROM jobs;
CREATE TEMP TABLE watch_copy AS SELECT * FROM watch_progress;
CREATE TEMP TABLE lectures_copy AS SELECT * FROM lectures;
DROP TABLE jobs;
DROP TABLE watch_progress;
DROP TABLE lectures;

CREATE TABLE lectures (
    id           INTEGER PRIMARY KEY,
    session_id   INTEGER NOT NULL UNIQUE REFERENCES lecture_sessions (id) ON DELETE CASCADE,
    visibility   TEXT NOT NULL DEFAULT 'registered'
                 CHECK (visibility IN ('public', 'registered', 'enrolled')),
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
INSERT INTO lectures (id, session_id, visibility, hls_path, duration_s, renditions, audio_only,
    warnings, published_at, created_at, updated_at)
  SELECT id, session_id, visibility, hls_path, duration_s, renditions, audio_only, warnings,
    published_at, created_at, updated_at FROM lectures_copy;

-- One live of a session: 'live' while a publisher streams, 'grace' between a disconnect and
-- the end of the grace period, 'archiving' once the replay job is queued, 'archived' when it
-- is published; 'interrupted' when the server stopped during the live (archived after restart).
CREATE TABLE lives (
    id            INTEGER PRIMARY KEY,
    session_id    INTEGER NOT NULL REFERENCES lecture_sessions (id) ON DELETE CASCADE,
    lecture_id    INTEGER NOT NULL REFERENCES lectures (id) ON DELETE CASCADE,
    state         TEXT NOT NULL
                  CHECK (state IN ('live', 'grace', 'archiving', 'archived', 'interrupted')),
    -- relative to the media root: live/{session_id}/{live_id}
    dir           TEXT NOT NULL,
    started_at    TEXT NOT NULL,
    ended_at      TEXT,
    peak_viewers  INTEGER NOT NULL DEFAULT 0,
    updated_at    TEXT NOT NULL
);
CREATE INDEX lives_session ON lives (session_id, id);
CREATE INDEX lives_state ON lives (state);

CREATE TABLE live_periods (
    live_id      INTEGER NOT NULL REFERENCES lives (id) ON DELETE CASCADE,
    period       INTEGER NOT NULL,
    protocol     TEXT NOT NULL CHECK (protocol IN ('rtmp', 'srt')),
    format       TEXT NOT NULL CHECK (format IN ('flv', 'mpegts')),
    started_at   TEXT NOT NULL,
    ended_at     TEXT,
    PRIMARY KEY (live_id, period)
);

CREATE TABLE live_viewer_samples (
    live_id  INTEGER NOT NULL REFERENCES lives (id) ON DELETE CASCADE,
    at       TEXT NOT NULL,
    viewers  INTEGER NOT NULL,
    PRIMARY KEY (live_id, at)
);

CREATE TABLE jobs (
    id           INTEGER PRIMARY KEY,
    kind         TEXT NOT NULL CHECK (kind IN ('transcode', 'live_archive')),
    lecture_id   INTEGER NOT NULL REFERENCES lectures (id) ON DELETE CASCADE,
    -- transcode: the upload; live_archive: the live's folder (both relative to the media root)
    input_path   TEXT NOT NULL,
    live_id      INTEGER REFERENCES lives (id) ON DELETE SET NULL,
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
INSERT INTO jobs (id, kind, lecture_id, input_path, state, attempts, max_attempts, progress,
    eta_s, error, worker, heartbeat_at, started_at, finished_at, created_at, updated_at)
  SELECT id, kind, lecture_id, input_path, state, attempts, max_attempts, progress, eta_s, error,
    worker, heartbeat_at, started_at, finished_at, created_at, updated_at FROM jobs_copy;
CREATE INDEX jobs_queue ON jobs (state, id);
CREATE INDEX jobs_lecture ON jobs (lecture_id, id);

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
INSERT INTO watch_progress SELECT * FROM watch_copy;

DROP TABLE jobs_copy;
DROP TABLE watch_copy;
DROP TABLE lectures_copy;

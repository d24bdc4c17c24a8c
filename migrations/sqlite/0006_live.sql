-- Live lectures: each session's secret stream key, the keys it had before a rotation (so a
-- publisher presenting one is told the key was replaced), and the log of refused publish
-- attempts the organizer sees.

CREATE TABLE live_stream_keys (
    session_id  INTEGER PRIMARY KEY REFERENCES lecture_sessions(id) ON DELETE CASCADE,
    stream_key  TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE UNIQUE INDEX live_stream_keys_stream_key_key ON live_stream_keys (stream_key);

CREATE TABLE live_retired_keys (
    stream_key  TEXT PRIMARY KEY,
    session_id  INTEGER NOT NULL REFERENCES lecture_sessions(id) ON DELETE CASCADE,
    retired_at  TEXT NOT NULL
);
CREATE INDEX live_retired_keys_session ON live_retired_keys (session_id);

CREATE TABLE live_refusals (
    id          INTEGER PRIMARY KEY,
    -- absent when the key named no session
    session_id  INTEGER REFERENCES lecture_sessions(id) ON DELETE CASCADE,
    protocol    TEXT NOT NULL CHECK (protocol IN ('rtmp', 'srt')),
    reason      TEXT NOT NULL,
    remote      TEXT NOT NULL,
    refused_at  TEXT NOT NULL
);
CREATE INDEX live_refusals_session ON live_refusals (session_id, refused_at);

-- Issue 17: captions and chapters per lecture, stored as checked WebVTT (SRT uploads are
-- converted). One track of each kind per lecture; a new upload replaces the old one.
CREATE TABLE lecture_tracks (
    lecture_id    INTEGER NOT NULL REFERENCES lectures (id) ON DELETE CASCADE,
    kind          TEXT NOT NULL CHECK (kind IN ('subtitles', 'chapters')),
    language      TEXT NOT NULL DEFAULT 'zh',
    vtt           TEXT NOT NULL,
    cues          INTEGER NOT NULL,
    source_format TEXT NOT NULL CHECK (source_format IN ('webvtt', 'srt')),
    uploaded_by   INTEGER REFERENCES users (id) ON DELETE SET NULL,
    uploaded_at   TEXT NOT NULL,
    PRIMARY KEY (lecture_id, kind)
);

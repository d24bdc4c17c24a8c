-- Legal health check: questionnaire versions (so every report can be recomputed exactly) and
-- check-ups (one open draft per enterprise; submitted ones are reports).

CREATE TABLE questionnaires (
    version   TEXT PRIMARY KEY,
    source    TEXT NOT NULL,      -- the TOML text of that version
    loaded_at TEXT NOT NULL
);

CREATE TABLE checkups (
    id            INTEGER PRIMARY KEY,
    enterprise_id INTEGER NOT NULL REFERENCES enterprises (user_id) ON DELETE CASCADE,
    version       TEXT NOT NULL REFERENCES questionnaires (version),
    industry      TEXT NOT NULL,  -- the enterprise's section when it answered
    answers       TEXT NOT NULL,  -- JSON {item_id: option_id}
    status        TEXT NOT NULL CHECK (status IN ('draft', 'submitted')),
    overall_level TEXT CHECK (overall_level IN ('low', 'medium', 'high')),
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL,
    submitted_at  TEXT
);
CREATE UNIQUE INDEX checkups_one_draft ON checkups (enterprise_id) WHERE status = 'draft';
CREATE INDEX checkups_enterprise ON checkups (enterprise_id, status, id);

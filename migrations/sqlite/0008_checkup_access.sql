-- Confidentiality of the legal health check: the enterprise's consent to the notice before it
-- starts, a log of every opening of a report by someone other than its enterprise, and report
-- ids that are never reused once an enterprise deletes a report.
--
-- `checkups.id` was `INTEGER PRIMARY KEY`, which SQLite reuses after the row with the highest
-- id is deleted: a deleted report's address (/checkup/reports/7 in an organizer's notes or a
-- lawyer's e-mail) would then open someone else's newer report. AUTOINCREMENT never hands out
-- an id twice, and adding it means rebuilding the table. Nothing references `checkups` yet,
-- so dropping it cascades nothing; the rows are copied aside first and keep their ids.

CREATE TEMP TABLE checkups_copy AS SELECT * FROM checkups;
DROP TABLE checkups;

CREATE TABLE checkups (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
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
INSERT INTO checkups (id, enterprise_id, version, industry, answers, status, overall_level,
                      created_at, updated_at, submitted_at)
  SELECT id, enterprise_id, version, industry, answers, status, overall_level,
         created_at, updated_at, submitted_at FROM checkups_copy;
DROP TABLE checkups_copy;
CREATE UNIQUE INDEX checkups_one_draft ON checkups (enterprise_id) WHERE status = 'draft';
CREATE INDEX checkups_enterprise ON checkups (enterprise_id, status, id);

-- The enterprise read the notice (who reads the report, how long it is kept, a self-check and
-- not legal advice) and confirmed it before answering questionnaire `version`. `notice` is
-- the revision of the notice text it saw; the first confirmation of a revision is kept.
CREATE TABLE checkup_consents (
    id            INTEGER PRIMARY KEY,
    enterprise_id INTEGER NOT NULL REFERENCES enterprises (user_id) ON DELETE CASCADE,
    version       TEXT NOT NULL REFERENCES questionnaires (version),
    notice        TEXT NOT NULL,
    consented_at  TEXT NOT NULL,
    UNIQUE (enterprise_id, version, notice)
);

-- Every opening of a report (page or API) by an account other than the report's enterprise.
-- Only the account id and the role it had are stored, no name: the page joins the account's
-- current display name when the enterprise reads its log. The viewer is not a foreign key so
-- that the entry outlives a removed staff account; the entries go with their report.
CREATE TABLE checkup_access (
    id          INTEGER PRIMARY KEY,
    checkup_id  INTEGER NOT NULL REFERENCES checkups (id) ON DELETE CASCADE,
    viewer_id   INTEGER NOT NULL,
    viewer_role TEXT NOT NULL CHECK (viewer_role IN ('organizer', 'lawyer', 'enterprise')),
    accessed_at TEXT NOT NULL
);
CREATE INDEX checkup_access_checkup ON checkup_access (checkup_id, id);

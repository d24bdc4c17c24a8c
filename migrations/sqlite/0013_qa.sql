-- 企问律答 and legal advisors (issue 16): enterprises' questions routed to lawyers by topic and
-- industry, public Q&A entries made from answered threads, 5+1 advisor groups, and the 回访
-- follow-up that a high-risk check-up opens. Topics are check-up dimension ids
-- (questionnaire.toml `[[dimensions]] id`), industries GB/T 4754 sections (one letter).
-- Lists are join tables rather than JSON so that the same queries run on PostgreSQL.

-- Size of the enterprise (中小企业划型): advisor groups are for small and micro enterprises.
-- NULL: not stated yet.
ALTER TABLE enterprises ADD COLUMN size TEXT CHECK (size IN ('micro', 'small', 'medium', 'large'));

-- What a lawyer account answers: firm, how advised enterprises reach them, topics, industries.
CREATE TABLE lawyer_profiles (
    user_id    INTEGER PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
    firm       TEXT NOT NULL DEFAULT '',
    -- shown to the enterprises of the lawyer's advisor groups only (e.g. office phone)
    contact    TEXT NOT NULL DEFAULT '',
    bio        TEXT NOT NULL DEFAULT '',
    -- a lawyer who is away gets no new questions
    accepting  INTEGER NOT NULL DEFAULT 1 CHECK (accepting IN (0, 1)),
    updated_at TEXT NOT NULL
);
CREATE TABLE lawyer_topics (
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    topic   TEXT NOT NULL,
    PRIMARY KEY (user_id, topic)
);
-- No row for a lawyer: every industry.
CREATE TABLE lawyer_industries (
    user_id  INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    industry TEXT NOT NULL CHECK (length(industry) = 1),
    PRIMARY KEY (user_id, industry)
);

-- A question thread. AUTOINCREMENT: a deleted thread's address never opens another's.
CREATE TABLE questions (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    enterprise_id      INTEGER NOT NULL REFERENCES enterprises (user_id) ON DELETE CASCADE,
    title              TEXT NOT NULL,
    topic              TEXT NOT NULL,
    -- the enterprise's section when it asked
    industry           TEXT NOT NULL,
    session_id         INTEGER REFERENCES lecture_sessions (id) ON DELETE SET NULL,
    -- asked from a finding of this report (item id in `finding`)
    checkup_id         INTEGER REFERENCES checkups (id) ON DELETE SET NULL,
    finding            TEXT,
    status             TEXT NOT NULL DEFAULT 'pending'
                       CHECK (status IN ('pending', 'assigned', 'answered', 'followup', 'closed')),
    assigned_lawyer_id INTEGER REFERENCES users (id) ON DELETE SET NULL,
    -- 'advisor' | 'match' | 'organizer'
    assigned_by        TEXT CHECK (assigned_by IN ('advisor', 'match', 'organizer')),
    assigned_at        TEXT,
    -- the lecturer marked it answered during the live lecture
    answered_live_at   TEXT,
    first_answered_at  TEXT,
    -- the overdue flag was raised (and the organizer told) at
    overdue_at         TEXT,
    closed_at          TEXT,
    created_at         TEXT NOT NULL,
    updated_at         TEXT NOT NULL
);
CREATE INDEX questions_enterprise ON questions (enterprise_id, id);
CREATE INDEX questions_lawyer ON questions (assigned_lawyer_id, status);
CREATE INDEX questions_status ON questions (status, created_at);
CREATE INDEX questions_session ON questions (session_id, id);

-- The messages of a thread: the question, answers, requests for details, follow-ups.
-- `author_id` is not a foreign key so that a thread outlives a removed staff account.
CREATE TABLE question_messages (
    id          INTEGER PRIMARY KEY,
    question_id INTEGER NOT NULL REFERENCES questions (id) ON DELETE CASCADE,
    author_id   INTEGER NOT NULL,
    author_role TEXT NOT NULL CHECK (author_role IN ('enterprise', 'lawyer', 'organizer')),
    -- 'question' (first message or a follow-up), 'answer', 'request' (asks for details),
    -- 'note' (organizer)
    kind        TEXT NOT NULL CHECK (kind IN ('question', 'answer', 'request', 'note')),
    body        TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE INDEX question_messages_thread ON question_messages (question_id, id);

-- A public Q&A entry: an edited, de-identified copy of an answered thread. The thread itself
-- stays private. 'proposed' waits for an organizer's approval (a lawyer proposed it).
CREATE TABLE qa_entries (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    question_id  INTEGER REFERENCES questions (id) ON DELETE SET NULL,
    title        TEXT NOT NULL,
    -- Markdown, rendered safely
    body         TEXT NOT NULL,
    industry     TEXT CHECK (industry IS NULL OR length(industry) = 1),
    topic        TEXT NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('proposed', 'published', 'withdrawn')),
    proposed_by  INTEGER,
    approved_by  INTEGER,
    demo         INTEGER NOT NULL DEFAULT 0 CHECK (demo IN (0, 1)),
    created_at   TEXT NOT NULL,
    published_at TEXT,
    updated_at   TEXT NOT NULL
);
CREATE INDEX qa_entries_list ON qa_entries (status, industry, topic);
-- Lectures an entry links to (besides those found by topic).
CREATE TABLE qa_entry_sessions (
    entry_id   INTEGER NOT NULL REFERENCES qa_entries (id) ON DELETE CASCADE,
    session_id INTEGER NOT NULL REFERENCES lecture_sessions (id) ON DELETE CASCADE,
    PRIMARY KEY (entry_id, session_id)
);
-- Chinese full-text search of published entries, as the archive's `lecture_search`: rowid is
-- the entry id; the use case keeps it in step with `qa_entries` in the same transaction.
CREATE VIRTUAL TABLE qa_search USING fts5 (title, body, tokenize = 'trigram');

-- 5+1 advisor groups: one or two lawyers for up to five small or micro enterprises (the
-- limits are settings). An enterprise is in at most one group.
CREATE TABLE advisor_groups (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    created_at TEXT NOT NULL
);
CREATE TABLE advisor_group_lawyers (
    group_id  INTEGER NOT NULL REFERENCES advisor_groups (id) ON DELETE CASCADE,
    lawyer_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, lawyer_id)
);
CREATE INDEX advisor_group_lawyers_lawyer ON advisor_group_lawyers (lawyer_id);
CREATE TABLE advisor_group_enterprises (
    group_id      INTEGER NOT NULL REFERENCES advisor_groups (id) ON DELETE CASCADE,
    enterprise_id INTEGER NOT NULL UNIQUE REFERENCES enterprises (user_id) ON DELETE CASCADE,
    PRIMARY KEY (group_id, enterprise_id)
);

-- 回访: a check-up report at 高 (or with a red line) opens one follow-up. `levels` is a
-- snapshot of the report's levels — overall, per dimension, red-line count — never the
-- answers, so the advisor sees what to talk about, not the admissions.
CREATE TABLE followups (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    enterprise_id     INTEGER NOT NULL REFERENCES enterprises (user_id) ON DELETE CASCADE,
    checkup_id        INTEGER UNIQUE REFERENCES checkups (id) ON DELETE SET NULL,
    levels            TEXT NOT NULL,
    -- NULL: the organizer's queue (no advisor)
    advisor_id        INTEGER REFERENCES users (id) ON DELETE SET NULL,
    status            TEXT NOT NULL DEFAULT 'open'
                      CHECK (status IN ('open', 'contacted', 'rectifying', 'rectified', 'not_rectified', 'closed')),
    due_on            TEXT NOT NULL,            -- YYYY-MM-DD in the chamber's zone
    opened_at         TEXT NOT NULL,
    assigned_at       TEXT,
    first_contact_at  TEXT,
    outcome_at        TEXT,
    -- the enterprise retook the check-up after 已整改: the new report
    retake_checkup_id INTEGER REFERENCES checkups (id) ON DELETE SET NULL,
    retaken_at        TEXT,
    closed_at         TEXT
);
CREATE INDEX followups_advisor ON followups (advisor_id, status);
CREATE INDEX followups_enterprise ON followups (enterprise_id, id);
CREATE TABLE followup_contacts (
    id          INTEGER PRIMARY KEY,
    followup_id INTEGER NOT NULL REFERENCES followups (id) ON DELETE CASCADE,
    author_id   INTEGER NOT NULL,
    outcome     TEXT NOT NULL CHECK (outcome IN ('contacted', 'rectifying', 'rectified', 'not_rectified')),
    note        TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL
);
CREATE INDEX followup_contacts_followup ON followup_contacts (followup_id, id);

-- The legal-education month: programs, lecturers, sessions.

CREATE TABLE programs (
    id             INTEGER PRIMARY KEY,
    title          TEXT NOT NULL,
    summary        TEXT NOT NULL DEFAULT '',
    starts_on      TEXT NOT NULL,           -- YYYY-MM-DD, inclusive
    ends_on        TEXT NOT NULL,           -- YYYY-MM-DD, inclusive
    timezone       TEXT NOT NULL,           -- IANA name, e.g. Asia/Shanghai
    slots          TEXT NOT NULL,           -- JSON [{weekday, start "HH:MM", minutes}]
    blackout_dates TEXT NOT NULL,           -- JSON ["YYYY-MM-DD"]
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL
);

CREATE TABLE lecturers (
    id                 INTEGER PRIMARY KEY,
    name               TEXT NOT NULL,
    firm               TEXT NOT NULL,
    bio                TEXT NOT NULL DEFAULT '',
    available_weekdays TEXT,                -- JSON [1..7]; NULL = every day
    unavailable_dates  TEXT NOT NULL DEFAULT '[]',
    -- the lawyer's login, when the lecturer has one (sees own sessions and rosters)
    user_id            INTEGER REFERENCES users (id) ON DELETE SET NULL,
    UNIQUE (name, firm)
);

CREATE TABLE lecture_sessions (
    id                INTEGER PRIMARY KEY,
    program_id        INTEGER NOT NULL REFERENCES programs (id) ON DELETE CASCADE,
    title             TEXT NOT NULL,
    summary           TEXT NOT NULL DEFAULT '',
    category          TEXT NOT NULL,
    target_industries TEXT NOT NULL DEFAULT '[]',   -- JSON ["E", "C"]; empty = all
    lecturer_id       INTEGER NOT NULL REFERENCES lecturers (id),
    minutes           INTEGER NOT NULL CHECK (minutes > 0),
    capacity          INTEGER NOT NULL CHECK (capacity >= 0),
    -- seats one enterprise may take in one sign-up
    max_seats_per_enterprise INTEGER NOT NULL DEFAULT 5 CHECK (max_seats_per_enterprise > 0),
    -- confirmed seats, kept in the same transaction as the registrations (see db/registrations.rs)
    confirmed_seats   INTEGER NOT NULL DEFAULT 0 CHECK (confirmed_seats >= 0),
    signup_opens_at   TEXT,                          -- NULL = from publication
    signup_closes_at  TEXT,                          -- NULL = until the session starts
    stream_url        TEXT,
    starts_at         TEXT,                          -- UTC; NULL = not placed yet
    status            TEXT NOT NULL DEFAULT 'scheduled' CHECK (status IN ('scheduled', 'cancelled')),
    -- iCalendar SEQUENCE: raised on every change so subscribed calendars update
    sequence          INTEGER NOT NULL DEFAULT 0,
    created_at        TEXT NOT NULL,
    updated_at        TEXT NOT NULL
);
CREATE INDEX lecture_sessions_program ON lecture_sessions (program_id, starts_at);
CREATE INDEX lecture_sessions_lecturer ON lecture_sessions (lecturer_id);

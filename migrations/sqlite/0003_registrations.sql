-- Sign-ups: one active registration per enterprise and session; the waitlist is ordered by id.

CREATE TABLE registrations (
    id             INTEGER PRIMARY KEY,
    session_id     INTEGER NOT NULL REFERENCES lecture_sessions (id) ON DELETE CASCADE,
    enterprise_id  INTEGER NOT NULL REFERENCES enterprises (user_id) ON DELETE CASCADE,
    seats          INTEGER NOT NULL CHECK (seats > 0),
    attendees      TEXT NOT NULL DEFAULT '[]',   -- JSON ["name", ...]
    status         TEXT NOT NULL CHECK (status IN ('confirmed', 'waitlisted', 'cancelled', 'removed')),
    created_at     TEXT NOT NULL,
    confirmed_at   TEXT,
    ended_at       TEXT,
    end_reason     TEXT
);
CREATE UNIQUE INDEX registrations_active ON registrations (session_id, enterprise_id)
    WHERE status IN ('confirmed', 'waitlisted');
CREATE INDEX registrations_queue ON registrations (session_id, status, id);
CREATE INDEX registrations_enterprise ON registrations (enterprise_id, status);

-- Issue 17: verifiable learning certificates.
-- When an account's replay watching first reached the attendance share (the certificate's date
-- of attendance); NULL for rows from before, and for attendance reached only while live (then
-- the last report's day is the date).
ALTER TABLE watch_progress ADD COLUMN attended_at TEXT;

-- Every certificate opened by its enterprise or an organizer, found by its verification code
-- (an HMAC of lecture and enterprise under the site's secret: not guessable, the same each
-- time). The public page /certificates/{code} shows these facts and nothing else; deleting the
-- enterprise's account or the lecture deletes the row, and the code no longer verifies.
CREATE TABLE certificates (
    code          TEXT PRIMARY KEY,
    lecture_id    INTEGER NOT NULL REFERENCES lectures (id) ON DELETE CASCADE,
    enterprise_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    attended_on   TEXT NOT NULL,
    percent       INTEGER NOT NULL,
    issued_at     TEXT NOT NULL,
    UNIQUE (lecture_id, enterprise_id)
);

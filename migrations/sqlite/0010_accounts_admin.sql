-- Staff accounts that organizers manage, privacy consent at registration, per-session roster
-- masking and the audit log of organizer actions (issue 15).

-- A disabled account cannot log in and has no sessions; NULL = active.
ALTER TABLE users ADD COLUMN disabled_at TEXT;
-- The last successful login (shown on /admin/accounts).
ALTER TABLE users ADD COLUMN last_login_at TEXT;

-- The privacy notice the enterprise agreed to at registration, and when. NULL for accounts
-- registered before the notice existed.
ALTER TABLE enterprises ADD COLUMN privacy_notice_version TEXT;
ALTER TABLE enterprises ADD COLUMN privacy_consent_at TEXT;

-- Lawyers see a roster's mobile numbers masked (138****0000) unless an organizer allowed the
-- full numbers for that session; organizers always see them.
ALTER TABLE lecture_sessions ADD COLUMN roster_full_mobiles INTEGER NOT NULL DEFAULT 0
    CHECK (roster_full_mobiles IN (0, 1));

-- Who did what, when: organizer actions written by the use cases after they succeed. `detail`
-- is a JSON object without personal data (no mobiles, e-mails, codes or passwords).
CREATE TABLE audit_log (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    at            TEXT NOT NULL,
    -- the account that acted; kept as a number when the account is gone
    actor_user_id INTEGER,
    action        TEXT NOT NULL,
    target_type   TEXT NOT NULL,
    target_id     INTEGER,
    detail        TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_action ON audit_log (action, id);
CREATE INDEX audit_log_actor ON audit_log (actor_user_id, id);

-- Credit-code disputes (issue 15): a company whose 统一社会信用代码 another account registered
-- files a claim with its business licence; an organizer rejects it, freezes the holder, or
-- hands the code over to a new account for the claimant.

CREATE TABLE claims (
    id             INTEGER PRIMARY KEY,
    uscc           TEXT NOT NULL,
    company_name   TEXT NOT NULL,
    contact_name   TEXT NOT NULL,
    -- at least one way to reach the claimant (it has no account while the claim is open)
    mobile         TEXT,
    email          TEXT,
    -- the contact that makes a claim "the same" for the one-open-claim rule: the mobile when
    -- given, else the e-mail
    contact_key    TEXT NOT NULL,
    statement      TEXT NOT NULL,
    -- the licence file's random name under DATA/claims/ and its type by magic bytes
    licence_file   TEXT NOT NULL,
    licence_type   TEXT NOT NULL CHECK (licence_type IN ('image/jpeg', 'image/png', 'application/pdf')),
    -- SHA-256 of the private status link's secret; the secret itself is never stored
    token_hash     TEXT NOT NULL UNIQUE,
    state          TEXT NOT NULL DEFAULT 'pending'
                   CHECK (state IN ('pending', 'rejected', 'transferred')),
    reject_reason  TEXT,
    -- the account that held the code when the claim was filed
    holder_user_id INTEGER REFERENCES users (id) ON DELETE SET NULL,
    -- the account created for the claimant at the hand-over
    new_user_id    INTEGER REFERENCES users (id) ON DELETE SET NULL,
    -- the one-time password setup of that account: valid until, used at
    activate_until TEXT,
    activated_at   TEXT,
    created_at     TEXT NOT NULL,
    decided_at     TEXT,
    decided_by     INTEGER
);
CREATE UNIQUE INDEX claims_one_open ON claims (uscc, contact_key) WHERE state = 'pending';
CREATE INDEX claims_state ON claims (state, id);

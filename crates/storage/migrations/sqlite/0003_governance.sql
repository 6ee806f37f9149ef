-- Governance (issue 13): protected labels, and the audit log of every change, hash-chained.
-- Existing databases get these tables when they open; they start with an empty log.

-- The labels of a prompt that only an administrator may move, remove or roll back. A label may
-- be protected before it is set, so this does not reference pm_labels.
CREATE TABLE pm_protected_labels (
    prompt_id TEXT NOT NULL REFERENCES pm_prompts (id) ON DELETE CASCADE,
    label     TEXT NOT NULL,
    PRIMARY KEY (prompt_id, label)
) WITHOUT ROWID;

CREATE TRIGGER pm_protected_labels_insert_logged AFTER INSERT ON pm_protected_labels
BEGIN INSERT INTO pm_changes (prompt_id) VALUES (NEW.prompt_id); END;
CREATE TRIGGER pm_protected_labels_delete_logged AFTER DELETE ON pm_protected_labels
BEGIN INSERT INTO pm_changes (prompt_id) VALUES (OLD.prompt_id); END;

-- The audit log, append-only: written in the transaction of the change it records, numbered
-- 1, 2, 3, … without gaps, each entry carrying the hash of the one before (see
-- prompt_manager_core::audit for the encoding). `at` is the exact text that was hashed (RFC 3339,
-- microseconds); `before_state` / `after_state` are JSON. prompt_id has no foreign key: the
-- entries of a deleted prompt stay.
CREATE TABLE pm_audit (
    seq          INTEGER NOT NULL PRIMARY KEY,
    at           TEXT    NOT NULL,
    actor        TEXT    NOT NULL,
    action       TEXT    NOT NULL,
    prompt_id    TEXT,
    label        TEXT,
    before_state TEXT,
    after_state  TEXT,
    forced       BOOLEAN NOT NULL,
    prev_hash    TEXT    NOT NULL,
    hash         TEXT    NOT NULL
);

CREATE INDEX pm_audit_prompt ON pm_audit (prompt_id, seq);

-- The head of the chain: the last entry's number and hash, one row. Writers read and update it
-- in their transaction (SQLite has one writer at a time).
CREATE TABLE pm_audit_head (
    id   INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash TEXT    NOT NULL
);

INSERT INTO pm_audit_head (id, seq, hash)
VALUES (1, 0, 'sha256:0000000000000000000000000000000000000000000000000000000000000000');

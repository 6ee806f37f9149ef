-- Governance (issue 13): protected labels, and the audit log of every change, hash-chained.
-- Existing databases get these tables when they connect; they start with an empty log.

-- The labels of a prompt that only an administrator may move, remove or roll back. A label may
-- be protected before it is set, so this does not reference pm_labels.
CREATE TABLE pm_protected_labels (
    prompt_id TEXT COLLATE "C" NOT NULL REFERENCES pm_prompts (id) ON DELETE CASCADE,
    label     TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (prompt_id, label)
);

CREATE TRIGGER pm_protected_labels_notify AFTER INSERT OR UPDATE OR DELETE ON pm_protected_labels
    FOR EACH ROW EXECUTE FUNCTION pm_notify_change();

-- The audit log, append-only: written in the transaction of the change it records, numbered
-- 1, 2, 3, … without gaps, each entry carrying the hash of the one before (see
-- prompt_manager_core::audit for the encoding). `at` is the exact text that was hashed (RFC 3339,
-- microseconds); `before_state` / `after_state` are JSON text. prompt_id has no foreign key: the
-- entries of a deleted prompt stay.
CREATE TABLE pm_audit (
    seq          BIGINT           NOT NULL PRIMARY KEY,
    at           TEXT             NOT NULL,
    actor        TEXT             NOT NULL,
    action       TEXT             NOT NULL,
    prompt_id    TEXT COLLATE "C",
    label        TEXT COLLATE "C",
    before_state TEXT,
    after_state  TEXT,
    forced       BOOLEAN          NOT NULL,
    prev_hash    TEXT             NOT NULL,
    hash         TEXT             NOT NULL
);

CREATE INDEX pm_audit_prompt ON pm_audit (prompt_id, seq);

-- The head of the chain: the last entry's number and hash, one row. Every writer locks it
-- (SELECT … FOR UPDATE) as the last step of its transaction and updates it, so appenders on
-- any number of connections and instances take turns and the numbers stay gap-free: a
-- transaction that rolls back releases the row without having moved it.
CREATE TABLE pm_audit_head (
    id   INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
    seq  BIGINT  NOT NULL,
    hash TEXT    NOT NULL
);

INSERT INTO pm_audit_head (id, seq, hash)
VALUES (1, 0, 'sha256:0000000000000000000000000000000000000000000000000000000000000000');

-- The first schema of the SQLite store. Tables are prefixed `pm_` so they can share a database.
-- Timestamps are RFC 3339 text in UTC with microseconds (`2025-01-31T12:00:00.123456Z`): readable
-- with the sqlite3 shell, and ordered as text. Versions are semver text; their order is computed
-- in Rust (text order would put 10.0.0 before 9.0.0), and the latest one is kept in pm_prompts.

-- One row per prompt: its status and what a listing shows of its latest version.
CREATE TABLE pm_prompts (
    id             TEXT    NOT NULL PRIMARY KEY,
    status         TEXT    NOT NULL,
    format         TEXT    NOT NULL,
    description    TEXT,
    latest_version TEXT    NOT NULL,
    version_count  INTEGER NOT NULL,
    created_at     TEXT    NOT NULL,
    updated_at     TEXT    NOT NULL
) WITHOUT ROWID;

CREATE INDEX pm_prompts_status ON pm_prompts (status, id);

-- Every version, immutable; `prompt` is the Prompt as JSON.
CREATE TABLE pm_versions (
    prompt_id    TEXT NOT NULL REFERENCES pm_prompts (id) ON DELETE CASCADE,
    version      TEXT NOT NULL,
    prompt       TEXT NOT NULL,
    changelog    TEXT NOT NULL,
    author       TEXT,
    created_at   TEXT NOT NULL,
    parent       TEXT,
    content_hash TEXT NOT NULL,
    PRIMARY KEY (prompt_id, version)
);

-- Where each label points now.
CREATE TABLE pm_labels (
    prompt_id TEXT NOT NULL REFERENCES pm_prompts (id) ON DELETE CASCADE,
    label     TEXT NOT NULL,
    version   TEXT NOT NULL,
    PRIMARY KEY (prompt_id, label),
    FOREIGN KEY (prompt_id, version) REFERENCES pm_versions (prompt_id, version) ON DELETE CASCADE
) WITHOUT ROWID;

-- Every label move, in the order recorded.
CREATE TABLE pm_label_events (
    seq          INTEGER PRIMARY KEY AUTOINCREMENT,
    prompt_id    TEXT NOT NULL REFERENCES pm_prompts (id) ON DELETE CASCADE,
    label        TEXT NOT NULL,
    from_version TEXT,
    to_version   TEXT,
    kind         TEXT NOT NULL,
    actor        TEXT,
    at           TEXT NOT NULL
);

CREATE INDEX pm_label_events_prompt ON pm_label_events (prompt_id, seq);

-- The tags of each prompt's latest version, keyed by tag so that listing by tag uses the index.
CREATE TABLE pm_tags (
    tag       TEXT NOT NULL,
    prompt_id TEXT NOT NULL REFERENCES pm_prompts (id) ON DELETE CASCADE,
    PRIMARY KEY (tag, prompt_id)
) WITHOUT ROWID;

CREATE INDEX pm_tags_prompt ON pm_tags (prompt_id);

-- The first schema of the PostgreSQL store, created in the schema the store was opened with
-- (its search_path). Tables are prefixed `pm_` so they can share a schema. Text keys use the "C"
-- collation: ids then sort byte by byte, as Rust compares strings (and as the other stores list
-- them), whatever the database's locale. Versions are semver text; their order is computed in
-- Rust (text order would put 10.0.0 before 9.0.0), and the latest one is kept in pm_prompts.

-- One row per prompt: its status and what a listing shows of its latest version. Writers lock
-- this row (SELECT … FOR UPDATE) for the whole transaction, which serialises compare-and-set
-- saves and label moves of one prompt.
CREATE TABLE pm_prompts (
    id             TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    status         TEXT             NOT NULL,
    format         TEXT             NOT NULL,
    description    TEXT,
    latest_version TEXT COLLATE "C" NOT NULL,
    version_count  BIGINT           NOT NULL,
    -- The latest version's tags as a JSON array, so a listing reads no other table for them
    -- (pm_tags holds the same tags, indexed, for filtering).
    tags           TEXT             NOT NULL DEFAULT '[]',
    created_at     TIMESTAMPTZ      NOT NULL,
    updated_at     TIMESTAMPTZ      NOT NULL
);

CREATE INDEX pm_prompts_status ON pm_prompts (status, id);

-- Every version, immutable; `prompt` is the Prompt as JSON text (kept as written, so it reads
-- back byte for byte).
CREATE TABLE pm_versions (
    prompt_id    TEXT COLLATE "C" NOT NULL REFERENCES pm_prompts (id) ON DELETE CASCADE,
    version      TEXT COLLATE "C" NOT NULL,
    prompt       TEXT             NOT NULL,
    changelog    TEXT             NOT NULL,
    author       TEXT,
    created_at   TIMESTAMPTZ      NOT NULL,
    parent       TEXT,
    content_hash TEXT             NOT NULL,
    PRIMARY KEY (prompt_id, version)
);

-- Where each label points now.
CREATE TABLE pm_labels (
    prompt_id TEXT COLLATE "C" NOT NULL REFERENCES pm_prompts (id) ON DELETE CASCADE,
    label     TEXT COLLATE "C" NOT NULL,
    version   TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (prompt_id, label),
    FOREIGN KEY (prompt_id, version) REFERENCES pm_versions (prompt_id, version) ON DELETE CASCADE
);

-- Every label move, in the order recorded.
CREATE TABLE pm_label_events (
    seq          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    prompt_id    TEXT COLLATE "C" NOT NULL REFERENCES pm_prompts (id) ON DELETE CASCADE,
    label        TEXT COLLATE "C" NOT NULL,
    from_version TEXT,
    to_version   TEXT,
    kind         TEXT             NOT NULL,
    actor        TEXT,
    at           TIMESTAMPTZ      NOT NULL
);

CREATE INDEX pm_label_events_prompt ON pm_label_events (prompt_id, seq);

-- The tags of each prompt's latest version, keyed by tag so that listing by tag uses the index.
CREATE TABLE pm_tags (
    tag       TEXT COLLATE "C" NOT NULL,
    prompt_id TEXT COLLATE "C" NOT NULL REFERENCES pm_prompts (id) ON DELETE CASCADE,
    PRIMARY KEY (tag, prompt_id)
);

CREATE INDEX pm_tags_prompt ON pm_tags (prompt_id);

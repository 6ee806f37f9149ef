-- Usage records (issue 15): additive aggregates of renders and of what callers reported about
-- them, per prompt × version × label × time bucket. Each instance adds its batches with
-- `INSERT … ON CONFLICT DO UPDATE SET x = x + excluded.x`, so instances sharing a database add up
-- exactly. A flush writes minute rows and their hour and day roll-ups (bucket = minute, hour,
-- day; start = unix seconds of the bucket). label is '' for renders by version or requirement.
-- d00…d23 are the render-time histogram (prompt_manager_core::usage::DURATION_BUCKETS); costs are
-- integer nano-dollars. No foreign key: the records of a deleted prompt stay, as its audit does.
CREATE TABLE pm_usage (
    prompt_id                  TEXT    NOT NULL,
    version                    TEXT    NOT NULL,
    label                      TEXT    NOT NULL,
    bucket                     TEXT    NOT NULL,
    start                      INTEGER NOT NULL,
    renders                    INTEGER NOT NULL DEFAULT 0,
    errors                     INTEGER NOT NULL DEFAULT 0,
    duration_ns                INTEGER NOT NULL DEFAULT 0,
    d00                        INTEGER NOT NULL DEFAULT 0,
    d01                        INTEGER NOT NULL DEFAULT 0,
    d02                        INTEGER NOT NULL DEFAULT 0,
    d03                        INTEGER NOT NULL DEFAULT 0,
    d04                        INTEGER NOT NULL DEFAULT 0,
    d05                        INTEGER NOT NULL DEFAULT 0,
    d06                        INTEGER NOT NULL DEFAULT 0,
    d07                        INTEGER NOT NULL DEFAULT 0,
    d08                        INTEGER NOT NULL DEFAULT 0,
    d09                        INTEGER NOT NULL DEFAULT 0,
    d10                        INTEGER NOT NULL DEFAULT 0,
    d11                        INTEGER NOT NULL DEFAULT 0,
    d12                        INTEGER NOT NULL DEFAULT 0,
    d13                        INTEGER NOT NULL DEFAULT 0,
    d14                        INTEGER NOT NULL DEFAULT 0,
    d15                        INTEGER NOT NULL DEFAULT 0,
    d16                        INTEGER NOT NULL DEFAULT 0,
    d17                        INTEGER NOT NULL DEFAULT 0,
    d18                        INTEGER NOT NULL DEFAULT 0,
    d19                        INTEGER NOT NULL DEFAULT 0,
    d20                        INTEGER NOT NULL DEFAULT 0,
    d21                        INTEGER NOT NULL DEFAULT 0,
    d22                        INTEGER NOT NULL DEFAULT 0,
    d23                        INTEGER NOT NULL DEFAULT 0,
    output_bytes               INTEGER NOT NULL DEFAULT 0,
    input_tokens               INTEGER NOT NULL DEFAULT 0,
    input_tokens_exact_renders INTEGER NOT NULL DEFAULT 0,
    input_tokens_renders       INTEGER NOT NULL DEFAULT 0,
    input_cost                 INTEGER NOT NULL DEFAULT 0,
    priced_renders             INTEGER NOT NULL DEFAULT 0,
    usage_reports              INTEGER NOT NULL DEFAULT 0,
    output_tokens              INTEGER NOT NULL DEFAULT 0,
    output_cost                INTEGER NOT NULL DEFAULT 0,
    actual_cost                INTEGER NOT NULL DEFAULT 0,
    actual_cost_reports        INTEGER NOT NULL DEFAULT 0,
    model_latency_ms           INTEGER NOT NULL DEFAULT 0,
    model_latency_reports      INTEGER NOT NULL DEFAULT 0,
    feedback                   INTEGER NOT NULL DEFAULT 0,
    successes                  INTEGER NOT NULL DEFAULT 0,
    failures                   INTEGER NOT NULL DEFAULT 0,
    scores                     INTEGER NOT NULL DEFAULT 0,
    score_sum                  REAL NOT NULL DEFAULT 0,
    score_sum_squares          REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (prompt_id, bucket, start, version, label)
) WITHOUT ROWID;

-- Failed renders per error code, in the same buckets.
CREATE TABLE pm_usage_errors (
    prompt_id TEXT    NOT NULL,
    version   TEXT    NOT NULL,
    label     TEXT    NOT NULL,
    bucket    TEXT    NOT NULL,
    start     INTEGER NOT NULL,
    kind      TEXT    NOT NULL,
    renders   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (prompt_id, bucket, start, version, label, kind)
) WITHOUT ROWID;

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
    start                      BIGINT NOT NULL,
    renders                    BIGINT NOT NULL DEFAULT 0,
    errors                     BIGINT NOT NULL DEFAULT 0,
    duration_ns                BIGINT NOT NULL DEFAULT 0,
    d00                        BIGINT NOT NULL DEFAULT 0,
    d01                        BIGINT NOT NULL DEFAULT 0,
    d02                        BIGINT NOT NULL DEFAULT 0,
    d03                        BIGINT NOT NULL DEFAULT 0,
    d04                        BIGINT NOT NULL DEFAULT 0,
    d05                        BIGINT NOT NULL DEFAULT 0,
    d06                        BIGINT NOT NULL DEFAULT 0,
    d07                        BIGINT NOT NULL DEFAULT 0,
    d08                        BIGINT NOT NULL DEFAULT 0,
    d09                        BIGINT NOT NULL DEFAULT 0,
    d10                        BIGINT NOT NULL DEFAULT 0,
    d11                        BIGINT NOT NULL DEFAULT 0,
    d12                        BIGINT NOT NULL DEFAULT 0,
    d13                        BIGINT NOT NULL DEFAULT 0,
    d14                        BIGINT NOT NULL DEFAULT 0,
    d15                        BIGINT NOT NULL DEFAULT 0,
    d16                        BIGINT NOT NULL DEFAULT 0,
    d17                        BIGINT NOT NULL DEFAULT 0,
    d18                        BIGINT NOT NULL DEFAULT 0,
    d19                        BIGINT NOT NULL DEFAULT 0,
    d20                        BIGINT NOT NULL DEFAULT 0,
    d21                        BIGINT NOT NULL DEFAULT 0,
    d22                        BIGINT NOT NULL DEFAULT 0,
    d23                        BIGINT NOT NULL DEFAULT 0,
    output_bytes               BIGINT NOT NULL DEFAULT 0,
    input_tokens               BIGINT NOT NULL DEFAULT 0,
    input_tokens_exact_renders BIGINT NOT NULL DEFAULT 0,
    input_tokens_renders       BIGINT NOT NULL DEFAULT 0,
    input_cost                 BIGINT NOT NULL DEFAULT 0,
    priced_renders             BIGINT NOT NULL DEFAULT 0,
    usage_reports              BIGINT NOT NULL DEFAULT 0,
    output_tokens              BIGINT NOT NULL DEFAULT 0,
    output_cost                BIGINT NOT NULL DEFAULT 0,
    actual_cost                BIGINT NOT NULL DEFAULT 0,
    actual_cost_reports        BIGINT NOT NULL DEFAULT 0,
    model_latency_ms           BIGINT NOT NULL DEFAULT 0,
    model_latency_reports      BIGINT NOT NULL DEFAULT 0,
    feedback                   BIGINT NOT NULL DEFAULT 0,
    successes                  BIGINT NOT NULL DEFAULT 0,
    failures                   BIGINT NOT NULL DEFAULT 0,
    scores                     BIGINT NOT NULL DEFAULT 0,
    score_sum                  DOUBLE PRECISION NOT NULL DEFAULT 0,
    score_sum_squares          DOUBLE PRECISION NOT NULL DEFAULT 0,
    PRIMARY KEY (prompt_id, bucket, start, version, label)
);

-- Failed renders per error code, in the same buckets.
CREATE TABLE pm_usage_errors (
    prompt_id TEXT    NOT NULL,
    version   TEXT    NOT NULL,
    label     TEXT    NOT NULL,
    bucket    TEXT    NOT NULL,
    start     BIGINT NOT NULL,
    kind      TEXT    NOT NULL,
    renders   BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (prompt_id, bucket, start, version, label, kind)
);

//! Usage records: rows added twice add up field by field (error kinds and score sums too), a
//! batch may name a key twice, queries select one prompt, bucket width and range, and pruning
//! deletes only older rows of one width. A store that keeps no usage says so with `Unsupported`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use prompt_manager_core::NanoUsd;
use prompt_manager_core::usage::{Bucket, UsageCounts, UsageKey, UsageQuery, UsageRow};

use super::*;

fn counts(renders: u64, errors: u64, score: f64) -> UsageCounts {
    let mut c = UsageCounts::default();
    c.renders = renders;
    c.errors = errors;
    if errors > 0 {
        c.error_kinds.insert("invalid_variables".into(), errors);
    }
    c.duration_buckets[4] = renders;
    c.duration_ns = renders * 1_000;
    c.input_cost = NanoUsd(renders * 7);
    c.scores = 1;
    c.score_sum = score;
    c.score_sum_squares = score * score;
    c
}

/// Rows added by several writers add up exactly; queries and pruning select what they say.
pub async fn usage_rows_add_up(store: &dyn Store) {
    // A prompt id and a time of this run, far in the past, so reruns on a database never meet.
    let run = Utc::now().timestamp_nanos_opt().unwrap_or_default().unsigned_abs() % 100_000;
    let id = PromptId::new(format!("conformance/usage/run-{run}")).unwrap();
    let t0 = Bucket::Hour.floor(86_400 * 365 + run as i64 * 3_600);
    let key = |label: Option<&str>| UsageKey {
        prompt_id: id.clone(),
        version: version("1.0.0"),
        label: label.map(|l| LabelName::new(l).unwrap()),
    };
    let row = |label: Option<&str>, bucket: Bucket, start: i64, c: UsageCounts| UsageRow {
        key: key(label),
        bucket,
        start,
        counts: c,
    };
    let first = vec![
        row(Some("production"), Bucket::Minute, t0, counts(3, 1, 2.0)),
        row(None, Bucket::Minute, t0, counts(2, 0, 1.0)),
        row(Some("production"), Bucket::Minute, t0 + 60, counts(5, 0, 4.0)),
        row(Some("production"), Bucket::Hour, t0, counts(8, 1, 6.0)),
    ];
    if !store.records_usage() {
        let err = store.add_usage(&first).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unsupported, "{err}");
        return;
    }
    ok(store.add_usage(&first).await, "adding usage rows");
    // A second writer: the same keys again, one of them twice in the batch.
    let second = vec![
        row(Some("production"), Bucket::Minute, t0, counts(1, 1, 3.0)),
        row(Some("production"), Bucket::Minute, t0, counts(1, 0, 0.5)),
        row(Some("production"), Bucket::Hour, t0, counts(2, 1, 3.5)),
    ];
    ok(store.add_usage(&second).await, "adding usage rows again");
    ok(store.add_usage(&[]).await, "adding no rows");

    let query = |bucket, from, to| UsageQuery {
        prompt_id: id.clone(),
        bucket,
        from,
        to,
    };
    let mut minutes = ok(store.usage(&query(Bucket::Minute, t0, t0 + 120)).await, "reading usage");
    minutes.sort_by(|a, b| (a.start, &a.key).cmp(&(b.start, &b.key)));
    assert_eq!(minutes.len(), 3, "three minute rows: {minutes:#?}");
    let production = minutes
        .iter()
        .find(|r| r.start == t0 && r.key == key(Some("production")))
        .expect("the first minute of production");
    let mut expected = counts(3, 1, 2.0);
    expected.add(&counts(1, 1, 3.0));
    expected.add(&counts(1, 0, 0.5));
    assert_eq!(production.counts, expected, "minute rows add up field by field");
    assert_eq!(production.counts.error_kinds["invalid_variables"], 2);
    assert_eq!(production.counts.renders, 5);
    let unlabelled = minutes
        .iter()
        .find(|r| r.key.label.is_none())
        .expect("the unlabelled row");
    assert_eq!(unlabelled.counts, counts(2, 0, 1.0));

    let only_first = ok(store.usage(&query(Bucket::Minute, t0, t0 + 60)).await, "reading usage");
    assert_eq!(only_first.len(), 2, "`to` is excluded");
    let hours = ok(store.usage(&query(Bucket::Hour, t0, t0 + 3_600)).await, "reading usage");
    assert_eq!(hours.len(), 1);
    assert_eq!(hours[0].counts.renders, 10);
    assert_eq!(hours[0].counts.score_sum, 9.5);
    let other = PromptId::new(format!("conformance/usage/other-{run}")).unwrap();
    let none = ok(
        store
            .usage(&UsageQuery {
                prompt_id: other,
                bucket: Bucket::Minute,
                from: t0,
                to: t0 + 120,
            })
            .await,
        "reading usage of another prompt",
    );
    assert!(none.is_empty());

    let pruned = ok(store.prune_usage(Bucket::Minute, t0 + 60).await, "pruning usage");
    assert!(pruned >= 2, "the two rows of the first minute are pruned, got {pruned}");
    let left = ok(store.usage(&query(Bucket::Minute, t0, t0 + 120)).await, "reading usage");
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].start, t0 + 60);
    let hours = ok(store.usage(&query(Bucket::Hour, t0, t0 + 3_600)).await, "reading usage");
    assert_eq!(hours.len(), 1, "pruning minutes keeps hours");
}

//! Usage records in the bucket: `usage/<width>/<prompt>/<first>-<last>-<token>.json`, one object
//! per prompt and bucket width of each [`add_usage`](prompt_manager_core::StorageBackend::add_usage)
//! call, holding its rows; `<prompt>` is the SHA-256 of the id (ids hold `/`), `<first>` and
//! `<last>` the range of bucket starts in the object, written so that names sort by time.
//!
//! Rows are added by writing objects, never by changing one, so writers on many instances add
//! up without coordinating, and a read sums the rows of the objects whose range meets the query.
//! Pruning deletes the objects wholly before the cutoff and rewrites the ones that straddle it:
//! the newer rows first, under a name that follows from the old object's, then the old object;
//! until that delete, a read counts the newer rows twice (a prune run again finishes it).

use std::collections::{BTreeMap, BTreeSet};

use futures_util::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectMeta, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use prompt_manager_core::usage::{Bucket, UsageCounts, UsageKey, UsageQuery, UsageRow};
use prompt_manager_core::{Error, PromptId, Result, sha256_hex};

use super::{BACKEND, Inner};

/// A bucket start as a name that sorts as the number does, negative ones included.
fn ordered(start: i64) -> String {
    format!("{:020}", (start as u64) ^ (1 << 63))
}

fn unordered(name: &str) -> Option<i64> {
    name.parse::<u64>().ok().map(|n| (n ^ (1 << 63)) as i64)
}

/// The first and last bucket start an object's name says it holds.
fn range(meta: &ObjectMeta) -> Option<(i64, i64)> {
    let name = meta.location.filename()?.strip_suffix(".json")?;
    let mut parts = name.splitn(3, '-');
    Some((unordered(parts.next()?)?, unordered(parts.next()?)?))
}

impl Inner {
    fn usage_dir(&self, bucket: Bucket, id: Option<&PromptId>) -> Path {
        let dir = self.prefix.clone().join("usage").join(bucket.as_str());
        match id {
            Some(id) => dir.join(sha256_hex(id.as_str().as_bytes())),
            None => dir,
        }
    }

    async fn usage_objects(&self, dir: &Path) -> Result<Vec<ObjectMeta>> {
        self.objects
            .list(Some(dir))
            .try_collect()
            .await
            .map_err(|e| self.failed("listing usage records", e))
    }

    async fn read_rows(&self, path: Path) -> Result<Vec<UsageRow>> {
        self.get_json(&path).await
    }

    /// Writes `rows` (one prompt, one width) as a new object named with `token`; an object
    /// already there under that name is this write's own (a retried put), so it counts as done.
    async fn write_rows(&self, bucket: Bucket, id: &PromptId, rows: &[&UsageRow], token: &str) -> Result<()> {
        let (Some(first), Some(last)) = (rows.iter().map(|r| r.start).min(), rows.iter().map(|r| r.start).max()) else {
            return Ok(());
        };
        let path = self
            .usage_dir(bucket, Some(id))
            .join(format!("{}-{}-{token}.json", ordered(first), ordered(last)));
        let bytes = serde_json::to_vec(rows)
            .map_err(|e| Error::backend(BACKEND, format!("usage rows cannot be written: {e}")))?;
        let put = PutOptions {
            mode: PutMode::Create,
            ..PutOptions::default()
        };
        match self.objects.put_opts(&path, PutPayload::from(bytes), put).await {
            Ok(_) | Err(object_store::Error::AlreadyExists { .. } | object_store::Error::Precondition { .. }) => Ok(()),
            Err(e) => Err(self.failed(&format!("writing {}", self.shown(&path)), e)),
        }
    }

    /// One object per prompt and width. A failure before any object was written is an error
    /// (nothing was added: the caller may send the rows again); after one was, the rest are
    /// dropped with a warning, so that no row is ever counted twice.
    pub(super) async fn add_usage(&self, rows: &[UsageRow]) -> Result<()> {
        let mut groups: BTreeMap<(Bucket, &PromptId), Vec<&UsageRow>> = BTreeMap::new();
        for row in rows {
            groups.entry((row.bucket, &row.key.prompt_id)).or_default().push(row);
        }
        let token = self.token();
        let mut written = 0;
        for ((bucket, id), rows) in &groups {
            match self.write_rows(*bucket, id, rows, &token).await {
                Ok(()) => written += 1,
                Err(e) if written == 0 => return Err(e),
                Err(e) => {
                    tracing::warn!(
                        store = %self.location,
                        error = %e,
                        dropped = groups.len() - written,
                        "usage records were partly written; the rest are dropped rather than risk counting them twice"
                    );
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    pub(super) async fn usage(&self, query: &UsageQuery) -> Result<Vec<UsageRow>> {
        let dir = self.usage_dir(query.bucket, Some(&query.prompt_id));
        let wanted: Vec<Path> = self
            .usage_objects(&dir)
            .await?
            .into_iter()
            .filter(|meta| range(meta).is_some_and(|(first, last)| last >= query.from && first < query.to))
            .map(|meta| meta.location)
            .collect();
        let mut sums: BTreeMap<(i64, UsageKey), UsageCounts> = BTreeMap::new();
        for chunk in wanted.chunks(8) {
            for rows in futures_util::future::join_all(chunk.iter().cloned().map(|p| self.read_rows(p))).await {
                for row in rows? {
                    if row.key.prompt_id == query.prompt_id && (query.from..query.to).contains(&row.start) {
                        sums.entry((row.start, row.key)).or_default().add(&row.counts);
                    }
                }
            }
        }
        Ok(sums
            .into_iter()
            .map(|((start, key), counts)| UsageRow {
                key,
                bucket: query.bucket,
                start,
                counts,
            })
            .collect())
    }

    /// Deletes the rows of `bucket` that start before `before`: the objects wholly before it,
    /// and the older rows of the objects that straddle it (rewritten with the newer ones first).
    /// Returns how many distinct rows (prompt, version, label, start) went.
    pub(super) async fn prune_usage(&self, bucket: Bucket, before: i64) -> Result<u64> {
        let mut gone: BTreeSet<(i64, UsageKey)> = BTreeSet::new();
        for meta in self.usage_objects(&self.usage_dir(bucket, None)).await? {
            let Some((first, last)) = range(&meta) else { continue };
            // The rewrite's name follows from the object's, so a prune that is interrupted
            // between writing it and deleting the object finds it (and does not add it twice)
            // when it runs again.
            let token = meta
                .location
                .filename()
                .and_then(|n| n.strip_suffix(".json"))
                .and_then(|n| n.splitn(3, '-').nth(2))
                .map_or_else(|| self.token(), |t| format!("{t}.kept"));
            if first >= before {
                continue;
            }
            let rows = self.read_rows(meta.location.clone()).await?;
            let (old, new): (Vec<&UsageRow>, Vec<&UsageRow>) = rows.iter().partition(|r| r.start < before);
            if last >= before
                && let Some(row) = new.first()
            {
                self.write_rows(bucket, &row.key.prompt_id, &new, &token).await?;
            }
            self.objects
                .delete(&meta.location)
                .await
                .map_err(|e| self.failed(&format!("deleting {}", self.shown(&meta.location)), e))?;
            gone.extend(old.into_iter().map(|r| (r.start, r.key.clone())));
        }
        Ok(gone.len() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_are_named_in_their_order() {
        let starts = [i64::MIN, -86_400, -1, 0, 1, 60, 1_700_000_000, i64::MAX];
        let names: Vec<String> = starts.iter().map(|s| ordered(*s)).collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
        for start in starts {
            assert_eq!(unordered(&ordered(start)), Some(start));
        }
    }
}

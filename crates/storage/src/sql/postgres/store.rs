//! The store traits of [`PostgresStore`]: saves (which lock or create the prompt's row first)
//! and the trait methods, which run the shared reads and writes (`sql::reads`, `sql::writes`,
//! `sql::audit`) in transactions retried when PostgreSQL aborts them. Connecting, migrating
//! and the change feed are in the parent.

use super::*;
use crate::sql::usage::{self, Usage};
use prompt_manager_core::usage::{Bucket, UsageQuery, UsageRow};

/// Tags as the JSON array kept in `pm_prompts.tags`.
fn tags_json(tags: &std::collections::BTreeSet<String>) -> String {
    serde_json::to_string(tags).unwrap_or_else(|_| "[]".to_owned())
}

/// Locks the prompt's row until the transaction ends and returns its latest version and
/// `updated_at`; `None` when the prompt does not exist.
async fn lock_prompt(conn: &mut PgConnection, id: &PromptId) -> Result<Option<(Version, DateTime<Utc>)>, Failure> {
    let row = sqlx::query("SELECT latest_version, updated_at FROM pm_prompts WHERE id = $1 FOR UPDATE")
        .bind(id.as_str())
        .fetch_optional(&mut *conn)
        .await?;
    let Some(row) = row else { return Ok(None) };
    let latest = DECODE.version(id, "latest version", &row.try_get::<String, _>("latest_version")?)?;
    Ok(Some((latest, row.try_get("updated_at")?)))
}

/// The state a save builds on: a prompt this transaction created, or an existing one (locked
/// and checked), with its `updated_at`.
enum Base {
    Created,
    Existing { latest: Version, updated_at: DateTime<Utc> },
}

type Gov = Governance<PostgresDialect>;
type Write = Writes<PostgresDialect>;
type Use = Usage<PostgresDialect>;

/// Locks the prompt or, when it does not exist, creates its row. A concurrent create of the
/// same id makes the insert wait for the other transaction; when that one commits, the insert
/// does nothing and the prompt is read (and locked) as an existing one, so the checks see it.
async fn lock_or_create(conn: &mut PgConnection, request: &SaveRequest, now: DateTime<Utc>) -> Result<Base, Failure> {
    let version = &request.version;
    let id = &version.prompt.id;
    // More than one round only if the prompt is deleted and created again meanwhile.
    for _ in 0..3 {
        if let Some((latest, updated_at)) = lock_prompt(conn, id).await? {
            rules::check_save(request, Some(&latest))?;
            return Ok(Base::Existing { latest, updated_at });
        }
        rules::check_save(request, None)?;
        let inserted = sqlx::query(
            "INSERT INTO pm_prompts \
             (id, status, format, description, latest_version, version_count, tags, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, 1, $6, $7, $7) ON CONFLICT (id) DO NOTHING",
        )
        .bind(id.as_str())
        .bind(request.status.as_str())
        .bind(version.prompt.format.as_str())
        .bind(version.prompt.metadata.description.as_deref())
        .bind(version.version.to_string())
        .bind(tags_json(&version.prompt.metadata.tags))
        .bind(now)
        .execute(&mut *conn)
        .await?;
        if inserted.rows_affected() == 1 {
            return Ok(Base::Created);
        }
    }
    Err(Error::backend(
        BACKEND,
        format!("saving `{id}`: the prompt was created and deleted by others while this save waited; try again"),
    )
    .into())
}

/// One save inside the caller's transaction: checks, then writes the prompt row, the version,
/// the labels and their events, and the tags. Returns the label events and the audit records
/// to append (last, after every prompt lock: see `Gov::append`).
async fn save_in(
    conn: &mut PgConnection,
    request: &SaveRequest,
    now: DateTime<Utc>,
) -> Result<(Vec<LabelEvent>, Vec<AuditRecord>), Failure> {
    check_storable(request)?;
    let version = &request.version;
    let id = &version.prompt.id;
    let number = &version.version;
    let prompt = prompt_json(version)?;
    let metadata = &version.prompt.metadata;

    let mut labels = BTreeMap::new();
    let mut splits = BTreeMap::new();
    let mut previous = None;
    match lock_or_create(conn, request, now).await? {
        Base::Created => {}
        Base::Existing { latest, updated_at } => {
            previous = Some(latest);
            if !request.labels.is_empty() {
                rules::check_save_protection(request, &Gov::protected_in(conn, id).await?)?;
                (labels, splits) = Reads::<PostgresDialect>::targets_in(conn, id).await?;
            }
            sqlx::query(
                "UPDATE pm_prompts SET format = $2, description = $3, latest_version = $4, \
                 version_count = version_count + 1, updated_at = $5, tags = $6 WHERE id = $1",
            )
            .bind(id.as_str())
            .bind(version.prompt.format.as_str())
            .bind(metadata.description.as_deref())
            .bind(number.to_string())
            .bind(advance(updated_at, now))
            .bind(tags_json(&metadata.tags))
            .execute(&mut *conn)
            .await?;
            sqlx::query("DELETE FROM pm_tags WHERE prompt_id = $1")
                .bind(id.as_str())
                .execute(&mut *conn)
                .await?;
        }
    }
    let events = rules::move_labels(&mut labels, &mut splits, request, now);
    let records = rules::save_records(request, previous.as_ref(), &events);
    sqlx::query(
        "INSERT INTO pm_versions (prompt_id, version, prompt, changelog, author, created_at, parent, content_hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(id.as_str())
    .bind(number.to_string())
    .bind(prompt)
    .bind(version.changelog.as_str())
    .bind(version.author.as_deref())
    .bind(version.created_at)
    .bind(version.parent.as_ref().map(Version::to_string))
    .bind(version.content_hash.0.as_str())
    .execute(&mut *conn)
    .await?;
    for event in &events {
        Write::record_event(conn, id, event).await?;
    }
    if !metadata.tags.is_empty() {
        let tags: Vec<&str> = metadata.tags.iter().map(String::as_str).collect();
        sqlx::query("INSERT INTO pm_tags (tag, prompt_id) SELECT unnest($1::text[]), $2")
            .bind(tags)
            .bind(id.as_str())
            .execute(&mut *conn)
            .await?;
    }
    Ok((events, records))
}

#[async_trait]
impl StorageBackend for PostgresStore {
    fn backend_name(&self) -> &'static str {
        BACKEND
    }

    async fn save(&self, request: SaveRequest) -> Result<Vec<LabelEvent>> {
        let now = Utc::now();
        let result = retrying!(async {
            let mut tx = self.pool.begin().await?;
            let (events, records) = save_in(&mut tx, &request, now).await?;
            Gov::append(&mut tx, records, now).await?;
            tx.commit().await?;
            Ok::<_, Failure>(events)
        });
        result.map_err(|f| failed(f, saving(&request)))
    }

    async fn save_all(&self, requests: Vec<SaveRequest>) -> Result<Vec<LabelEvent>> {
        if requests.is_empty() {
            return Ok(Vec::new());
        }
        let now = Utc::now();
        // The existing prompts of the batch are locked first, in id order, so that two batches
        // touching the same prompts wait for each other instead of deadlocking.
        let mut ids: Vec<&str> = requests.iter().map(|r| r.version.prompt.id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        let mut current = 0;
        let result = retrying!(async {
            let mut tx = self.pool.begin().await?;
            sqlx::query("SELECT id FROM pm_prompts WHERE id = ANY($1) ORDER BY id FOR UPDATE")
                .bind(&ids)
                .fetch_all(&mut *tx)
                .await?;
            let mut events = Vec::new();
            let mut records = Vec::new();
            for (i, request) in requests.iter().enumerate() {
                current = i;
                let (new_events, new_records) = save_in(&mut tx, request, now).await?;
                events.extend(new_events);
                records.extend(new_records);
            }
            Gov::append(&mut tx, records, now).await?;
            tx.commit().await?;
            Ok::<_, Failure>(events)
        });
        result.map_err(|f| {
            let doing = requests.get(current).map_or_else(String::new, saving);
            failed(
                f,
                format_args!(
                    "{doing} (request {} of {} in a batch; nothing was saved)",
                    current + 1,
                    requests.len()
                ),
            )
        })
    }

    async fn load(&self, id: &PromptId, version: Option<&Version>) -> Result<Arc<PromptVersion>> {
        Reads::<PostgresDialect>::new(&self.pool)
            .load(id, version)
            .await
            .map_err(|e| in_database(e, &self.location))
    }

    async fn delete(&self, id: &PromptId, request: DeleteRequest) -> Result<()> {
        let now = Utc::now();
        let result = retrying!(async {
            let mut tx = self.pool.begin().await?;
            Write::delete_in(&mut tx, id, &request, now).await?;
            tx.commit().await?;
            Ok::<_, Failure>(())
        });
        result.map_err(|f| failed(f, format_args!("deleting `{id}`")))
    }

    async fn list(&self, query: &ListQuery) -> Result<Page<PromptSummary>> {
        query.validate()?;
        let limit = query.limit.unwrap_or(usize::MAX);
        let nul_in_filter = [query.id_prefix.as_deref(), query.search.as_deref()]
            .into_iter()
            .flatten()
            .chain(query.tags.iter().map(String::as_str))
            .any(|text| text.contains('\0'));
        if limit == 0 || nul_in_filter {
            // As MemoryStore for a zero limit: no item fits, and no cursor can say "from the
            // start". No id, tag or description holds a NUL (which PostgreSQL text cannot even
            // compare).
            return Ok(Page {
                items: Vec::new(),
                next_cursor: None,
            });
        }
        let mut sql = QueryBuilder::<Postgres>::new(concat!(summary_select!(), " WHERE TRUE"));
        if let Some(prefix) = query.id_prefix.as_deref().filter(|p| !p.is_empty()) {
            sql.push(" AND p.id >= ").push_bind(prefix.to_owned());
            if let Some(end) = prefix_successor(prefix) {
                sql.push(" AND p.id < ").push_bind(end);
            }
        }
        if let Some(cursor) = &query.cursor {
            // Ids hold no NUL, so "after `ab\0c`" is "after `ab`".
            let cursor = cursor.split('\0').next().unwrap_or_default();
            sql.push(" AND p.id > ").push_bind(cursor.to_owned());
        }
        if let Some(status) = query.status {
            sql.push(" AND p.status = ").push_bind(status.as_str());
        }
        if let Some(label) = &query.label {
            // Answered by the primary key (prompt_id, label) of pm_labels.
            sql.push(" AND EXISTS (SELECT 1 FROM pm_labels l WHERE l.prompt_id = p.id AND l.label = ")
                .push_bind(label.as_str().to_owned())
                .push(")");
        }
        if let Some(needle) = query.folded_search() {
            // `lower` under the C collation folds ASCII only, as `fold_for_search` does, whatever
            // the database's locale; `strpos` has no wildcards, so `%`, `_` and `\` are literal
            // with nothing to escape.
            sql.push(" AND (strpos(lower(p.id COLLATE \"C\"), ")
                .push_bind(needle.clone())
                .push(") > 0 OR strpos(lower(p.description COLLATE \"C\"), ")
                .push_bind(needle.clone())
                .push(
                    ") > 0 OR EXISTS (SELECT 1 FROM pm_tags t WHERE t.prompt_id = p.id \
                     AND strpos(lower(t.tag COLLATE \"C\"), ",
                )
                .push_bind(needle)
                .push(") > 0))");
        }
        let tags = query.distinct_tags();
        if !tags.is_empty() {
            // One subquery for every tag (an array of them), not one per tag: the statement's
            // size stays the same however many tags are asked for.
            let count = tags.len() as i64;
            let tags: Vec<String> = tags.into_iter().map(str::to_owned).collect();
            sql.push(" AND p.id IN (SELECT t.prompt_id FROM pm_tags t WHERE t.tag = ANY(")
                .push_bind(tags)
                .push("::text[]) GROUP BY t.prompt_id HAVING count(DISTINCT t.tag) = ")
                .push_bind(count)
                .push(")");
        }
        sql.push(" ORDER BY p.id");
        if query.limit.is_some() {
            sql.push(" LIMIT ").push_bind(fetch_limit(limit));
        }
        let rows = sql
            .build()
            .fetch_all(&self.pool)
            .await
            .map_err(|e| sql_error(BACKEND, format_args!("listing prompts in {}", self.location), e))?;
        summary_page::<PostgresDialect>(&rows, limit)
    }

    async fn exists(&self, id: &PromptId) -> Result<bool> {
        Reads::<PostgresDialect>::new(&self.pool).exists(id).await
    }

    async fn summary(&self, id: &PromptId) -> Result<PromptSummary> {
        Reads::<PostgresDialect>::new(&self.pool).summary(id).await
    }

    async fn set_status(&self, id: &PromptId, change: StatusChange) -> Result<()> {
        let now = Utc::now();
        let result = retrying!(async {
            let mut tx = self.pool.begin().await?;
            Write::set_status_in(&mut tx, id, &change, now).await?;
            tx.commit().await?;
            Ok::<_, Failure>(())
        });
        result.map_err(|f| failed(f, format_args!("setting the status of `{id}` to {}", change.status)))
    }

    async fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>> {
        Gov::read(&self.pool, query).await
    }

    async fn append_audit(&self, record: AuditRecord) -> Result<AuditEntry> {
        rules::check_external(&record)?;
        for text in [record.actor.as_deref()] {
            if text.is_some_and(|t| t.contains('\0')) {
                return Err(Error::InvalidQuery {
                    reason: "actor: contains a NUL character, which PostgreSQL cannot store".into(),
                });
            }
        }
        let now = Utc::now();
        let result = retrying!(async {
            let mut tx = self.pool.begin().await?;
            let entries = Gov::append(&mut tx, vec![record.clone()], now).await?;
            tx.commit().await?;
            Ok::<_, Failure>(entries)
        });
        let entries = result.map_err(|f| failed(f, "appending to the audit log"))?;
        entries
            .into_iter()
            .next()
            .ok_or_else(|| Error::backend(BACKEND, "appending an audit entry produced none"))
    }

    fn records_usage(&self) -> bool {
        true
    }

    async fn add_usage(&self, rows: &[UsageRow]) -> Result<()> {
        if rows.is_empty() {
            return Ok(());
        }
        let statements = usage::upserts(rows);
        let result = retrying!(async {
            let mut tx = self.pool.begin().await?;
            Use::add(&mut tx, &statements).await?;
            tx.commit().await?;
            Ok::<_, Failure>(())
        });
        result.map_err(|f| failed(f, "adding usage records"))
    }

    async fn usage(&self, query: &UsageQuery) -> Result<Vec<UsageRow>> {
        Use::read(&self.pool, query).await
    }

    async fn prune_usage(&self, bucket: Bucket, before: i64) -> Result<u64> {
        let result = retrying!(async {
            let mut tx = self.pool.begin().await?;
            let deleted = Use::prune(&mut tx, bucket, before).await?;
            tx.commit().await?;
            Ok::<_, Failure>(deleted)
        });
        result.map_err(|f| failed(f, "pruning usage records"))
    }

    fn watch(&self, listener: Arc<dyn ChangeListener>) -> bool {
        let (pool, schema, location) = (self.pool.clone(), Arc::clone(&self.schema), Arc::clone(&self.location));
        self.feed
            .watch(listener, |all| change_feed(pool, schema, location, all))
    }
}

#[async_trait]
impl VersionStore for PostgresStore {
    async fn list_versions(&self, id: &PromptId) -> Result<Vec<VersionInfo>> {
        let run = async {
            let rows = sqlx::query(
                "SELECT v.version, v.changelog, v.author, v.created_at, v.parent, v.content_hash \
                 FROM pm_prompts p LEFT JOIN pm_versions v ON v.prompt_id = p.id WHERE p.id = $1",
            )
            .bind(id.as_str())
            .fetch_all(&self.pool)
            .await?;
            if rows.is_empty() {
                return Err(Error::prompt_not_found(id).into());
            }
            let mut infos = Vec::with_capacity(rows.len());
            for row in &rows {
                let Some(version) = row.try_get::<Option<String>, _>("version")? else {
                    continue;
                };
                infos.push(InfoRow {
                    version,
                    changelog: row.try_get("changelog")?,
                    author: row.try_get("author")?,
                    created_at: row.try_get("created_at")?,
                    parent: row.try_get("parent")?,
                    content_hash: row.try_get("content_hash")?,
                });
            }
            Ok::<_, Failure>(DECODE.history(id, infos)?)
        };
        run.await
            .map_err(|f| f.into_error(BACKEND, format_args!("listing the versions of `{id}`")))
    }

    async fn labels(&self, id: &PromptId) -> Result<BTreeMap<LabelName, Version>> {
        Reads::<PostgresDialect>::new(&self.pool).labels(id).await
    }

    async fn get_label(&self, id: &PromptId, label: &LabelName) -> Result<Version> {
        Reads::<PostgresDialect>::new(&self.pool).get_label(id, label).await
    }

    async fn resolve(&self, reference: &PromptRef) -> Result<Resolution> {
        Reads::<PostgresDialect>::new(&self.pool)
            .resolve(reference)
            .await
            .map_err(|e| in_database(e, &self.location))
    }

    async fn set_label(&self, id: &PromptId, change: LabelChange) -> Result<Option<LabelEvent>> {
        self.assign_label(id, change.into()).await
    }

    async fn assign_label(
        &self,
        id: &PromptId,
        change: prompt_manager_core::AssignmentChange,
    ) -> Result<Option<LabelEvent>> {
        let now = Utc::now();
        let result = retrying!(async {
            let mut tx = self.pool.begin().await?;
            let event = Write::set_label_in(&mut tx, id, &change, now).await?;
            if event.is_some() {
                tx.commit().await?;
            }
            Ok::<_, Failure>(event)
        });
        result.map_err(|f| failed(f, format_args!("moving label {} of `{id}`", change.label)))
    }

    async fn set_protection(&self, id: &PromptId, change: ProtectionChange) -> Result<bool> {
        let now = Utc::now();
        let result = retrying!(async {
            let mut tx = self.pool.begin().await?;
            let changed = Write::set_protection_in(&mut tx, id, &change, now).await?;
            if changed {
                tx.commit().await?;
            }
            Ok::<_, Failure>(changed)
        });
        result.map_err(|f| failed(f, format_args!("protecting label {} of `{id}`", change.label)))
    }

    async fn label_history(&self, id: &PromptId, label: Option<&LabelName>) -> Result<Vec<LabelEvent>> {
        Reads::<PostgresDialect>::new(&self.pool).label_history(id, label).await
    }
}

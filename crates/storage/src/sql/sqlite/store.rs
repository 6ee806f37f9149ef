//! The store traits of [`SqliteStore`]: the dialect the shared SQL runs with, saves (the SQL
//! that is SQLite's own) and the trait methods, which run the shared reads and writes
//! (`sql::reads`, `sql::writes`, `sql::audit`) in `BEGIN IMMEDIATE` transactions. Opening,
//! migrating and the change log are in the parent.

use super::*;
use crate::sql::usage::{self, Usage};
use prompt_manager_core::usage::{Bucket, UsageQuery, UsageRow};

type Gov = Governance<SqliteDialect>;
type Write = Writes<SqliteDialect>;
type Use = Usage<SqliteDialect>;

/// How the shared reads ([`Reads`]) decode this backend's rows.
struct SqliteDialect;

impl Dialect for SqliteDialect {
    type Db = Sqlite;
    const BACKEND: &'static str = BACKEND;
    const DECODE: Decoder = DECODE;
    const SUMMARY_BY_ID: &'static str = concat!(summary_select!(), " WHERE p.id = $1");
    // A write transaction holds SQLite's only write lock already.
    const AUDIT_HEAD: &'static str = "SELECT seq, hash FROM pm_audit_head WHERE id = 1";
    const LOCK_PROMPT: &'static str =
        "SELECT status, latest_version, version_count, updated_at FROM pm_prompts WHERE id = $1";
    type Time = String;

    fn time(at: DateTime<Utc>) -> String {
        timestamp(at)
    }

    fn updated_at(id: &str, row: &SqliteRow) -> Result<DateTime<Utc>, Failure> {
        Ok(parse_timestamp(
            id,
            "updated_at",
            &row.try_get::<String, _>("updated_at")?,
        )?)
    }

    fn version_row(id: &str, row: &<Sqlite as sqlx::Database>::Row) -> Result<Option<VersionRow>, Failure> {
        version_row(id, row)
    }

    fn rows_affected(result: &<Sqlite as sqlx::Database>::QueryResult) -> u64 {
        result.rows_affected()
    }

    fn event_row(id: &str, row: &<Sqlite as sqlx::Database>::Row) -> Result<EventRow, Failure> {
        event_row(id, row)
    }

    fn summary_row(row: &<Sqlite as sqlx::Database>::Row) -> Result<SummaryRow, Failure> {
        summary_row(row)
    }
}

fn version_row(id: &str, row: &SqliteRow) -> Result<Option<VersionRow>, Failure> {
    let Some(version) = row.try_get::<Option<String>, _>("version")? else {
        return Ok(None);
    };
    Ok(Some(VersionRow {
        version,
        prompt: row.try_get("prompt")?,
        changelog: row.try_get("changelog")?,
        author: row.try_get("author")?,
        created_at: parse_timestamp(id, "created_at", &row.try_get::<String, _>("created_at")?)?,
        parent: row.try_get("parent")?,
        content_hash: row.try_get("content_hash")?,
    }))
}

fn summary_row(row: &SqliteRow) -> Result<SummaryRow, Failure> {
    let id: String = row.try_get("id")?;
    let created_at = parse_timestamp(&id, "created_at", &row.try_get::<String, _>("created_at")?)?;
    let updated_at = parse_timestamp(&id, "updated_at", &row.try_get::<String, _>("updated_at")?)?;
    Ok(SummaryRow {
        status: row.try_get("status")?,
        format: row.try_get("format")?,
        description: row.try_get("description")?,
        latest_version: row.try_get("latest_version")?,
        version_count: row.try_get("version_count")?,
        created_at,
        updated_at,
        tags_json: row.try_get("tags")?,
        labels_json: row.try_get("labels")?,
        protected_json: row.try_get("protected")?,
        splits_json: row.try_get("splits")?,
        id,
    })
}

fn event_row(id: &str, row: &SqliteRow) -> Result<EventRow, Failure> {
    Ok(EventRow {
        label: row.try_get("label")?,
        from_version: row.try_get("from_version")?,
        to_version: row.try_get("to_version")?,
        from_split: row.try_get("from_split")?,
        to_split: row.try_get("to_split")?,
        kind: row.try_get("kind")?,
        actor: row.try_get("actor")?,
        at: parse_timestamp(id, "at", &row.try_get::<String, _>("at")?)?,
    })
}

/// The latest version and `updated_at` of a prompt, `None` when it does not exist.
async fn current_state(
    conn: &mut SqliteConnection,
    id: &PromptId,
) -> Result<Option<(Version, DateTime<Utc>)>, Failure> {
    let row = sqlx::query("SELECT latest_version, updated_at FROM pm_prompts WHERE id = $1")
        .bind(id.as_str())
        .fetch_optional(&mut *conn)
        .await?;
    let Some(row) = row else { return Ok(None) };
    let latest = DECODE.version(id, "latest version", &row.try_get::<String, _>("latest_version")?)?;
    let updated_at = parse_timestamp(id, "updated_at", &row.try_get::<String, _>("updated_at")?)?;
    Ok(Some((latest, updated_at)))
}

/// One save inside the caller's write transaction: checks, then writes the prompt row, the
/// version, the labels and their events, and the tags. Returns the label events and the audit
/// records to append.
async fn save_in(
    conn: &mut SqliteConnection,
    request: &SaveRequest,
    now: DateTime<Utc>,
) -> Result<(Vec<LabelEvent>, Vec<AuditRecord>), Failure> {
    let version = &request.version;
    let id = &version.prompt.id;
    let number = &version.version;
    // A prompt that cannot be stored is refused before anything is read (as PostgreSQL does).
    let prompt = prompt_json(version)?;
    let current = current_state(conn, id).await?;
    let latest = current.as_ref().map(|(latest, _)| latest);
    rules::check_save(request, latest)?;
    if current.is_some() && !request.labels.is_empty() {
        rules::check_save_protection(request, &Gov::protected_in(conn, id).await?)?;
    }
    let (mut labels, mut splits) = match (&current, request.labels.is_empty()) {
        (Some(_), false) => Reads::<SqliteDialect>::targets_in(conn, id).await?,
        _ => (BTreeMap::new(), BTreeMap::new()),
    };
    let events = rules::move_labels(&mut labels, &mut splits, request, now);
    let records = rules::save_records(request, latest, &events);
    let metadata = &version.prompt.metadata;

    match &current {
        None => {
            sqlx::query(
                "INSERT INTO pm_prompts \
                 (id, status, format, description, latest_version, version_count, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, 1, $6, $6)",
            )
            .bind(id.as_str())
            .bind(request.status.as_str())
            .bind(version.prompt.format.as_str())
            .bind(metadata.description.as_deref())
            .bind(number.to_string())
            .bind(timestamp(now))
            .execute(&mut *conn)
            .await?;
        }
        Some((_, updated_at)) => {
            sqlx::query(
                "UPDATE pm_prompts SET format = $2, description = $3, latest_version = $4, \
                 version_count = version_count + 1, updated_at = $5 WHERE id = $1",
            )
            .bind(id.as_str())
            .bind(version.prompt.format.as_str())
            .bind(metadata.description.as_deref())
            .bind(number.to_string())
            .bind(timestamp(advance(*updated_at, now)))
            .execute(&mut *conn)
            .await?;
            sqlx::query("DELETE FROM pm_tags WHERE prompt_id = $1")
                .bind(id.as_str())
                .execute(&mut *conn)
                .await?;
        }
    }
    sqlx::query(
        "INSERT INTO pm_versions (prompt_id, version, prompt, changelog, author, created_at, parent, content_hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(id.as_str())
    .bind(number.to_string())
    .bind(prompt)
    .bind(version.changelog.as_str())
    .bind(version.author.as_deref())
    .bind(timestamp(version.created_at))
    .bind(version.parent.as_ref().map(Version::to_string))
    .bind(version.content_hash.0.as_str())
    .execute(&mut *conn)
    .await?;
    for event in &events {
        Write::record_event(conn, id, event).await?;
    }
    for tag in &metadata.tags {
        sqlx::query("INSERT INTO pm_tags (tag, prompt_id) VALUES ($1, $2)")
            .bind(tag.as_str())
            .bind(id.as_str())
            .execute(&mut *conn)
            .await?;
    }
    Ok((events, records))
}

#[async_trait]
impl StorageBackend for SqliteStore {
    fn backend_name(&self) -> &'static str {
        BACKEND
    }

    async fn save(&self, request: SaveRequest) -> Result<Vec<LabelEvent>> {
        let now = Utc::now();
        let run = async {
            let mut tx = self.begin_write().await?;
            let (events, records) = save_in(&mut tx, &request, now).await?;
            Gov::append(&mut tx, records, now).await?;
            tx.commit().await?;
            Ok::<_, Failure>(events)
        };
        run.await.map_err(|f| f.into_error(BACKEND, saving(&request)))
    }

    async fn save_all(&self, requests: Vec<SaveRequest>) -> Result<Vec<LabelEvent>> {
        if requests.is_empty() {
            return Ok(Vec::new());
        }
        let now = Utc::now();
        // Which request failed, to name it if the driver fails.
        let mut current = 0;
        let run = async {
            let mut tx = self.begin_write().await?;
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
        };
        let result = run.await;
        result.map_err(|f| {
            let doing = requests.get(current).map_or_else(String::new, saving);
            f.into_error(
                BACKEND,
                format_args!(
                    "{doing} (request {} of {} in a batch; nothing was saved)",
                    current + 1,
                    requests.len()
                ),
            )
        })
    }

    async fn load(&self, id: &PromptId, version: Option<&Version>) -> Result<Arc<PromptVersion>> {
        Reads::<SqliteDialect>::new(&self.pool)
            .load(id, version)
            .await
            .map_err(|e| in_database(e, &self.location()))
    }

    async fn delete(&self, id: &PromptId, request: DeleteRequest) -> Result<()> {
        let now = Utc::now();
        let run = async {
            let mut tx = self.begin_write().await?;
            Write::delete_in(&mut tx, id, &request, now).await?;
            tx.commit().await?;
            Ok::<_, Failure>(())
        };
        run.await
            .map_err(|f| f.into_error(BACKEND, format_args!("deleting `{id}`")))
    }

    async fn list(&self, query: &ListQuery) -> Result<Page<PromptSummary>> {
        query.validate()?;
        let limit = query.limit.unwrap_or(usize::MAX);
        if limit == 0 {
            // As MemoryStore: no item fits, and no cursor can say "from the start".
            return Ok(Page {
                items: Vec::new(),
                next_cursor: None,
            });
        }
        let mut sql = QueryBuilder::<Sqlite>::new(concat!(summary_select!(), " WHERE 1 = 1"));
        if let Some(prefix) = query.id_prefix.as_deref().filter(|p| !p.is_empty()) {
            sql.push(" AND p.id >= ").push_bind(prefix.to_owned());
            if let Some(end) = prefix_successor(prefix) {
                sql.push(" AND p.id < ").push_bind(end);
            }
        }
        if let Some(cursor) = &query.cursor {
            sql.push(" AND p.id > ").push_bind(cursor.clone());
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
            // SQLite's `lower` (without ICU) folds ASCII only, as `fold_for_search` does; `instr`
            // has no wildcards, so `%`, `_` and `\` are literal with nothing to escape.
            sql.push(" AND (instr(lower(p.id), ")
                .push_bind(needle.clone())
                .push(") > 0 OR instr(lower(p.description), ")
                .push_bind(needle.clone())
                .push(") > 0 OR EXISTS (SELECT 1 FROM pm_tags t WHERE t.prompt_id = p.id AND instr(lower(t.tag), ")
                .push_bind(needle)
                .push(") > 0))");
        }
        let tags = query.distinct_tags();
        if !tags.is_empty() {
            // One subquery for every tag (a JSON array of them), not one per tag: SQLite refuses
            // an expression tree deeper than 1,000, and a bound parameter list has its own limit.
            let json = serde_json::to_string(&tags).unwrap_or_else(|_| "[]".to_owned());
            sql.push(
                " AND p.id IN (SELECT t.prompt_id FROM pm_tags t \
                 WHERE t.tag IN (SELECT j.value FROM json_each(",
            )
            .push_bind(json)
            .push(") j) GROUP BY t.prompt_id HAVING count(DISTINCT t.tag) = ")
            .push_bind(tags.len() as i64)
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
            .map_err(|e| sql_error(BACKEND, format_args!("listing prompts in {}", self.location()), e))?;
        summary_page::<SqliteDialect>(&rows, limit)
    }

    async fn exists(&self, id: &PromptId) -> Result<bool> {
        Reads::<SqliteDialect>::new(&self.pool).exists(id).await
    }

    async fn summary(&self, id: &PromptId) -> Result<PromptSummary> {
        Reads::<SqliteDialect>::new(&self.pool).summary(id).await
    }

    async fn set_status(&self, id: &PromptId, change: StatusChange) -> Result<()> {
        let now = Utc::now();
        let run = async {
            let mut tx = self.begin_write().await?;
            Write::set_status_in(&mut tx, id, &change, now).await?;
            tx.commit().await?;
            Ok::<_, Failure>(())
        };
        run.await.map_err(|f| {
            f.into_error(
                BACKEND,
                format_args!("setting the status of `{id}` to {}", change.status),
            )
        })
    }

    async fn audit(&self, query: &AuditQuery) -> Result<Vec<AuditEntry>> {
        Gov::read(&self.pool, query).await
    }

    async fn append_audit(&self, record: AuditRecord) -> Result<AuditEntry> {
        rules::check_external(&record)?;
        let now = Utc::now();
        let run = async {
            let mut tx = self.begin_write().await?;
            let entries = Gov::append(&mut tx, vec![record], now).await?;
            tx.commit().await?;
            Ok::<_, Failure>(entries)
        };
        let entries = run
            .await
            .map_err(|f| f.into_error(BACKEND, "appending to the audit log"))?;
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
        let run = async {
            let mut tx = self.begin_write().await?;
            Use::add(&mut tx, &statements).await?;
            tx.commit().await?;
            Ok::<_, Failure>(())
        };
        run.await.map_err(|f| f.into_error(BACKEND, "adding usage records"))
    }

    async fn usage(&self, query: &UsageQuery) -> Result<Vec<UsageRow>> {
        Use::read(&self.pool, query).await
    }

    async fn prune_usage(&self, bucket: Bucket, before: i64) -> Result<u64> {
        let run = async {
            let mut tx = self.begin_write().await?;
            let deleted = Use::prune(&mut tx, bucket, before).await?;
            tx.commit().await?;
            Ok::<_, Failure>(deleted)
        };
        run.await.map_err(|f| f.into_error(BACKEND, "pruning usage records"))
    }

    fn watch(&self, listener: Arc<dyn ChangeListener>) -> bool {
        let (pool, path, reader) = (self.pool.clone(), self.path.clone(), Arc::clone(&self.reader));
        self.feed.watch(listener, |all| {
            let _ = reader.listener.set(all);
            watch_change_log(pool, path, reader)
        })
    }

    fn catch_up_needed(&self) -> bool {
        self.reader.behind()
    }

    async fn catch_up(&self) {
        self.reader.read_after(&self.pool, &self.path).await;
    }
}

#[async_trait]
impl VersionStore for SqliteStore {
    async fn list_versions(&self, id: &PromptId) -> Result<Vec<VersionInfo>> {
        let run = async {
            // One row holding every version as JSON: rows cross from SQLite's worker thread one
            // message at a time, which costs more than the query for a long history.
            let row = sqlx::query(
                "SELECT (SELECT json_group_array(json_array(v.version, v.changelog, v.author, v.created_at, \
                 v.parent, v.content_hash)) FROM pm_versions v WHERE v.prompt_id = p.id) AS versions \
                 FROM pm_prompts p WHERE p.id = $1",
            )
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await?;
            let Some(row) = row else {
                return Err(Error::prompt_not_found(id).into());
            };
            let json: String = row.try_get("versions")?;
            type Info = (String, String, Option<String>, String, Option<String>, String);
            let rows: Vec<Info> = serde_json::from_str(&json)
                .map_err(|e| DECODE.corrupt(id, format_args!("the version list is unreadable: {e}")))?;
            let mut infos = Vec::with_capacity(rows.len());
            for (version, changelog, author, created_at, parent, content_hash) in rows {
                infos.push(InfoRow {
                    version,
                    changelog,
                    author,
                    created_at: parse_timestamp(id, "created_at", &created_at)?,
                    parent,
                    content_hash,
                });
            }
            Ok::<_, Failure>(DECODE.history(id, infos)?)
        };
        run.await
            .map_err(|f| f.into_error(BACKEND, format_args!("listing the versions of `{id}`")))
    }

    async fn labels(&self, id: &PromptId) -> Result<BTreeMap<LabelName, Version>> {
        Reads::<SqliteDialect>::new(&self.pool).labels(id).await
    }

    async fn get_label(&self, id: &PromptId, label: &LabelName) -> Result<Version> {
        Reads::<SqliteDialect>::new(&self.pool).get_label(id, label).await
    }

    async fn resolve(&self, reference: &PromptRef) -> Result<Resolution> {
        Reads::<SqliteDialect>::new(&self.pool)
            .resolve(reference)
            .await
            .map_err(|e| in_database(e, &self.location()))
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
        let run = async {
            let mut tx = self.begin_write().await?;
            let event = Write::set_label_in(&mut tx, id, &change, now).await?;
            if event.is_some() {
                tx.commit().await?;
            }
            Ok::<_, Failure>(event)
        };
        run.await
            .map_err(|f| f.into_error(BACKEND, format_args!("moving label {} of `{id}`", change.label)))
    }

    async fn set_protection(&self, id: &PromptId, change: ProtectionChange) -> Result<bool> {
        let now = Utc::now();
        let run = async {
            let mut tx = self.begin_write().await?;
            let changed = Write::set_protection_in(&mut tx, id, &change, now).await?;
            if changed {
                tx.commit().await?;
            }
            Ok::<_, Failure>(changed)
        };
        run.await
            .map_err(|f| f.into_error(BACKEND, format_args!("protecting label {} of `{id}`", change.label)))
    }

    async fn label_history(&self, id: &PromptId, label: Option<&LabelName>) -> Result<Vec<LabelEvent>> {
        Reads::<SqliteDialect>::new(&self.pool).label_history(id, label).await
    }
}

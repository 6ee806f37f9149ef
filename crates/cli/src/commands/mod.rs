//! The commands, one module each, and what they share: the [`Context`] (printer, config, the
//! store opened on first use) and the one `match` that dispatches them ([`run`]).

pub(crate) mod audit;
#[cfg(feature = "remote")]
pub(crate) mod bundle;
pub(crate) mod completions;
pub(crate) mod cost;
pub(crate) mod create;
pub(crate) mod dependents;
pub(crate) mod diff;
pub(crate) mod export;
pub(crate) mod history;
pub(crate) mod import;
pub(crate) mod init;
pub(crate) mod keys;
pub(crate) mod label;
pub(crate) mod lint;
pub(crate) mod list;
pub(crate) mod render;
pub(crate) mod rollback;
pub(crate) mod serve;
pub(crate) mod show;
pub(crate) mod stats;
pub(crate) mod status;
pub(crate) mod sync;
pub(crate) mod update;
pub(crate) mod usage;
pub(crate) mod verify;
pub(crate) mod webhooks;

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use anyhow::Context as _;
use prompt_manager::cost::{PriceSource, PriceTable};
use prompt_manager::{Error, ListQuery, PromptManager, library, redact_url};

use crate::cli::{Cli, Command};
use crate::config::{self, ConfigFile, DEFAULT_STORE};
use crate::error::{Outcome, closest, domain_error, hinted, missing_prompt};
use crate::output::Printer;

/// Runs one command.
pub(crate) async fn run(ctx: &Context, command: Command) -> anyhow::Result<Outcome> {
    match command {
        Command::Init(args) => init::run(ctx, args).await,
        Command::Create(args) => create::run(ctx, args).await,
        Command::Update(args) => update::run(ctx, args).await,
        Command::Show(args) => show::run(ctx, args).await,
        Command::List(args) => list::run(ctx, args).await,
        Command::History(args) => history::run(ctx, args).await,
        Command::Diff(args) => diff::run(ctx, args).await,
        Command::Label(command) => label::run(ctx, command).await,
        Command::Rollback(args) => rollback::run(ctx, args).await,
        Command::Archive(args) => status::archive(ctx, args).await,
        Command::Status(args) => status::run(ctx, args).await,
        Command::Render(args) => render::run(ctx, args).await,
        Command::Cost(args) => cost::run(ctx, args).await,
        Command::Lint(args) => lint::run(ctx, args).await,
        Command::Verify(args) => verify::run(ctx, args).await,
        Command::Import(args) => import::run(ctx, args).await,
        Command::Export(args) => export::run(ctx, args).await,
        Command::Completions(args) => completions::run(ctx, args),
        Command::Serve(args) => serve::run(ctx, args).await,
        Command::Keys(command) => keys::run(ctx, command).await,
        Command::Audit(args) => audit::run(ctx, args).await,
        Command::Dependents(args) => dependents::run(ctx, args).await,
        Command::Stats(args) => stats::run(ctx, args).await,
        Command::Sync(command) => sync::run(ctx, command).await,
        Command::Webhooks(command) => webhooks::run(ctx, command).await,
        Command::Usage(args) => usage::report_usage(ctx, args).await,
        Command::Feedback(args) => usage::report_feedback(ctx, args).await,
        #[cfg(feature = "remote")]
        Command::Bundle(command) => bundle::run(ctx, command).await,
    }
}

/// Where the store URL came from, for `--verbose` and error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StoreSource {
    /// `--store` or `PROMPT_MANAGER_STORE`.
    Flag,
    /// `store` in prompt-manager.toml.
    Config,
    /// The built-in default.
    Default,
}

/// What every command can use.
#[derive(Debug)]
pub(crate) struct Context {
    /// Prints results and messages.
    pub(crate) printer: Printer,
    /// The config file, when one was found.
    pub(crate) config: Option<ConfigFile>,
    /// The store URL to use.
    pub(crate) store_url: String,
    /// Where it came from.
    pub(crate) store_source: StoreSource,
    /// The manager, opened on first use.
    manager: OnceLock<PromptManager>,
    /// The price table: shipped, with the config file's `[prices]` over it.
    prices: OnceLock<Arc<PriceTable>>,
    /// The `http://` store, when the store is one: what it served from its copies.
    #[cfg(feature = "remote")]
    remote: OnceLock<prompt_manager::RemoteStore>,
}

impl Context {
    /// Reads the config file and settles the store URL and output format.
    pub(crate) fn new(cli: &Cli) -> anyhow::Result<Self> {
        let cwd = std::env::current_dir().context("cannot read the current folder")?;
        // An empty PROMPT_MANAGER_STORE (exported but unset in a script) names no store.
        let flag_store = cli.store.as_deref().filter(|s| !s.trim().is_empty());
        let config = match config::discover(&cwd) {
            Ok(config) => config,
            // A broken prompt-manager.toml must not block the commands that do not need it:
            // `init --force` replaces it, `completions` reads nothing, and `--store` overrides it.
            Err(e) if flag_store.is_some() || matches!(cli.command, Command::Init(_) | Command::Completions(_)) => {
                let printer = Printer::new(cli.output.unwrap_or_default(), cli.quiet, cli.verbose);
                printer.note(&format!(
                    "{} ignoring {}: {e:#}",
                    printer.paint_err("warning:", crate::output::Style::Warning),
                    config::CONFIG_FILE
                ));
                None
            }
            Err(e) => return Err(e),
        };
        let format = cli
            .output
            .or_else(|| config.as_ref().and_then(|c| c.config.defaults.output))
            .unwrap_or_default();
        let printer = Printer::new(format, cli.quiet, cli.verbose);
        let (store_url, store_source) = match (flag_store, config.as_ref().and_then(ConfigFile::store_url)) {
            (Some(url), _) => (url.to_owned(), StoreSource::Flag),
            (None, Some(url)) => (url, StoreSource::Config),
            (None, None) => (DEFAULT_STORE.to_owned(), StoreSource::Default),
        };
        if let Some(config) = &config {
            printer.debug(&format!("config: {}", config.path.display()));
        }
        Ok(Context {
            printer,
            config,
            store_url,
            store_source,
            manager: OnceLock::new(),
            prices: OnceLock::new(),
            #[cfg(feature = "remote")]
            remote: OnceLock::new(),
        })
    }

    /// The price table the manager uses: the shipped one, with the config file's `[prices]`
    /// over it (a refused price names the file and the model).
    pub(crate) fn prices(&self) -> anyhow::Result<Arc<PriceTable>> {
        if let Some(prices) = self.prices.get() {
            return Ok(prices.clone());
        }
        let table = PriceTable::shipped();
        if let Some(config) = &self.config {
            table.apply(&config.config.prices, PriceSource::Config).map_err(|e| {
                hinted(
                    anyhow::anyhow!("{}: [prices]: {e}", config.path.display()),
                    "prices are US dollars per million tokens: [prices.\"model\"] input = 2.5, output = 10.0",
                )
            })?;
        }
        Ok(self.prices.get_or_init(|| Arc::new(table)).clone())
    }

    /// The manager on the store, opened on first use.
    pub(crate) async fn pm(&self) -> anyhow::Result<&PromptManager> {
        if let Some(pm) = self.manager.get() {
            return Ok(pm);
        }
        let url = &self.store_url;
        self.printer
            .debug(&format!("store: {} (from {})", redact_url(url), self.source_name()));
        let store = self.open_store(url).await.map_err(|e| {
            let hint = match &e {
                Error::FeatureMissing { feature, .. } => format!(
                    "this prompt-manager was built without {feature}; install one with it: \
                     cargo install prompt-manager-cli --features {feature}"
                ),
                _ => format!(
                    "the store URL came from {}; check it, or pass another with --store URL \
                     (dir://PATH, sqlite://PATH, postgres://user@host/db, s3://BUCKET/PREFIX, http://HOST:PORT)",
                    self.source_name()
                ),
            };
            hinted(
                anyhow::Error::new(e).context(format!("cannot open store `{}`", redact_url(url))),
                hint,
            )
        })?;
        // A one-shot command reads and exits: no change-feed listener (SQLite's poller,
        // PostgreSQL's LISTEN connection). `serve` builds its own manager, which listens.
        let records_usage = store.records_usage();
        let mut builder = prompt_manager::builder()
            .store(store)
            .watch_store(false)
            .prices(self.prices()?);
        // Renders are recorded where the store keeps usage (SQLite, PostgreSQL), and flushed
        // before the command exits (`flush_usage`). A command renders a few times and exits: its
        // renders' tokens are estimated, rather than loading a tokenizer (a second) to exit.
        if records_usage {
            builder = builder.usage(prompt_manager::UsageConfig::default().with_token_samples(0));
        }
        // Every write is recorded with who made it (versions, label moves, the audit log):
        // the configured author, else `$USER@hostname`, never blank.
        let configured = self.config.as_ref().and_then(|c| c.config.defaults.author.clone());
        builder = builder.actor(configured.filter(|a| !a.trim().is_empty()).unwrap_or_else(local_actor));
        let pm = builder.build().context("cannot set up the prompt manager")?;
        Ok(self.manager.get_or_init(|| pm))
    }

    /// Opens the store; an `http://` store keeps the server's answers in the user's cache folder
    /// (unless its URL names a `cache`), so that a render of a reference seen before works while
    /// the server is down.
    async fn open_store(&self, url: &str) -> prompt_manager::Result<Arc<dyn prompt_manager::Store>> {
        #[cfg(feature = "remote")]
        if url.starts_with("http://") || url.starts_with("https://") {
            let mut remote = prompt_manager::RemoteStore::connect(url)?;
            if remote.disk_cache().is_none()
                && let Some(dir) = server_cache_dir(remote.base_url())
            {
                self.printer.debug(&format!("cache: {}", dir.display()));
                remote = remote.with_disk_cache(prompt_manager::DiskCache::new(dir));
            }
            let _ = self.remote.set(remote.clone());
            return Ok(Arc::new(remote));
        }
        prompt_manager::open_store(url).await
    }

    /// Says on stderr which reads were served from a copy (the disk cache, a bundle) because the
    /// server could not answer, and from when: the output may be stale.
    pub(crate) fn report_copies(&self) {
        #[cfg(feature = "remote")]
        if let Some(remote) = self.remote.get() {
            for copy in remote.copies_served() {
                let kind = match copy.source {
                    prompt_manager::remote::Source::Bundle => "the bundle's copy",
                    _ => "a cached copy",
                };
                self.printer.err(&format!(
                    "{} served {kind} of {} from {} ({}): {}\n",
                    self.printer.paint_err("warning:", crate::output::Style::Warning),
                    copy.what,
                    copy.saved_at.format("%Y-%m-%d %H:%M:%S UTC"),
                    copy.path.display(),
                    copy.reason
                ));
            }
        }
    }

    /// Writes what the command recorded to the store (renders, reports); a failure is a warning.
    pub(crate) async fn flush_usage(&self) {
        let Some(pm) = self.manager.get() else { return };
        if let Err(e) = pm.flush_usage().await {
            self.printer.note(&format!(
                "warning: the usage records of this command were not saved: {e}"
            ));
        }
    }

    /// The store URL without secrets, for bundles.
    #[cfg(feature = "remote")]
    pub(crate) fn store_url_redacted(&self) -> String {
        redact_url(&self.store_url)
    }

    fn source_name(&self) -> String {
        match self.store_source {
            StoreSource::Flag => "--store or $PROMPT_MANAGER_STORE".to_owned(),
            StoreSource::Config => self
                .config
                .as_ref()
                .map_or_else(|| config::CONFIG_FILE.to_owned(), |c| c.path.display().to_string()),
            StoreSource::Default => format!("the default ({DEFAULT_STORE})"),
        }
    }

    /// Adds what to do to an error: the closest ids for an unknown prompt; for a version that
    /// fails its content hash check, how to repair it.
    pub(crate) async fn explain(&self, error: anyhow::Error) -> anyhow::Error {
        if matches!(domain_error(&error), Some(Error::ContentHashMismatch(_))) {
            return hinted(
                error,
                "a saved version is immutable: restore its file or row (from git or a backup), or put the \
                 change in a new version (a new <version>.yaml file without `content_hash`, or `prompt-manager \
                 update`); `prompt-manager verify` checks the whole store",
            );
        }
        let Some(id) = missing_prompt(&error).cloned() else {
            return error;
        };
        let Some(pm) = self.manager.get() else {
            return error;
        };
        let ids = all_ids(pm).await.unwrap_or_default();
        let suggestions = closest(id.as_str(), ids.iter().map(String::as_str));
        let hint = if suggestions.is_empty() {
            if ids.is_empty() {
                format!(
                    "the store {} holds no prompts; create one with `prompt-manager create`",
                    redact_url(&self.store_url)
                )
            } else {
                "see the prompts with `prompt-manager list`".to_owned()
            }
        } else {
            let quoted: Vec<String> = suggestions.iter().map(|s| format!("`{s}`")).collect();
            format!("did you mean {}?", quoted.join(" or "))
        };
        hinted(error, hint)
    }

    /// The folder that relative paths given in the config file are relative to.
    pub(crate) fn config_dir(&self) -> Option<&Path> {
        self.config.as_ref().map(ConfigFile::dir)
    }
}

/// Every prompt id in the store.
pub(crate) async fn all_ids(pm: &PromptManager) -> anyhow::Result<Vec<String>> {
    Ok(list_all(pm, ListQuery::default())
        .await?
        .into_iter()
        .map(|s| s.id.to_string())
        .collect())
}

/// Every prompt matching a query, across pages.
pub(crate) async fn list_all(
    pm: &PromptManager,
    mut query: ListQuery,
) -> anyhow::Result<Vec<prompt_manager::PromptSummary>> {
    let mut items = Vec::new();
    query.limit = Some(500);
    loop {
        let page = pm.list(&query).await?;
        items.extend(page.items);
        match page.next_cursor {
            Some(cursor) => query.cursor = Some(cursor),
            None => return Ok(items),
        }
    }
}

/// Reads a file or stdin (`-`), naming it in errors: a regular file or stdin of at most
/// [`MAX_FILE_BYTES`](prompt_manager::library::MAX_FILE_BYTES) (see `read_text_file`).
pub(crate) fn read_input(path: &Path) -> anyhow::Result<String> {
    if path == Path::new("-") {
        return library::read_text(std::io::stdin().lock()).context("cannot read stdin");
    }
    read_file(path)
}

/// Reads a file the user named (a regular file within the size limit), naming it in errors.
pub(crate) fn read_file(path: &Path) -> anyhow::Result<String> {
    library::read_text_file(path).with_context(|| format!("cannot read {}", path.display()))
}

/// A path given relative to the config file when it came from there.
pub(crate) fn from_config_dir(ctx: &Context, path: &str) -> PathBuf {
    match ctx.config_dir() {
        Some(dir) if Path::new(path).is_relative() => dir.join(path),
        _ => PathBuf::from(path),
    }
}

/// `a=1.0.0, b=2.0.0` for a label map.
pub(crate) fn labels_text<K: std::fmt::Display, V: std::fmt::Display>(
    labels: impl IntoIterator<Item = (K, V)>,
) -> String {
    labels
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A prompt's labels as `production=1.1.0, canary=[1.1.0=90 1.2.0=10]`: a split label shows its
/// variants and weights.
pub(crate) fn summary_labels_text(summary: &prompt_manager::PromptSummary) -> String {
    labels_text(summary.labels.iter().map(|(label, version)| {
        let target = match summary.splits.get(label) {
            Some(split) => format!("[{split}]"),
            None => version.to_string(),
        };
        (label, target)
    }))
}

/// Who the command line writes as when the configuration names no author: `$USER@hostname`.
pub(crate) fn local_actor() -> String {
    let user = ["USER", "USERNAME", "LOGNAME"]
        .into_iter()
        .find_map(|name| std::env::var(name).ok().filter(|v| !v.trim().is_empty()))
        .unwrap_or_else(|| "unknown".to_owned());
    let host = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned());
    format!("{}@{host}", user.trim())
}

/// A timestamp as people read it in tables (UTC, to the second).
pub(crate) fn when(at: &chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// The disk cache folder of the server at `base`: `$PROMPT_MANAGER_CACHE_DIR`, else the user's
/// cache folder (`$XDG_CACHE_HOME` or `~/.cache`, `~/Library/Caches` on macOS,
/// `%LOCALAPPDATA%` on Windows) under `prompt-manager/servers/`, one folder per server. `None`
/// when no folder is known (no home), or with `PROMPT_MANAGER_CACHE_DIR=off`.
#[cfg(feature = "remote")]
fn server_cache_dir(base: &str) -> Option<PathBuf> {
    let root = match std::env::var_os("PROMPT_MANAGER_CACHE_DIR").filter(|v| !v.is_empty()) {
        Some(v) if v == "off" => return None,
        Some(dir) => PathBuf::from(dir),
        None => user_cache_dir()?.join("prompt-manager"),
    };
    let name: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    Some(root.join("servers").join(name))
}

#[cfg(feature = "remote")]
fn user_cache_dir() -> Option<PathBuf> {
    let from = |var: &str| std::env::var_os(var).filter(|v| !v.is_empty()).map(PathBuf::from);
    if cfg!(windows) {
        return from("LOCALAPPDATA");
    }
    if cfg!(target_os = "macos") {
        return from("HOME").map(|home| home.join("Library/Caches"));
    }
    from("XDG_CACHE_HOME").or_else(|| from("HOME").map(|home| home.join(".cache")))
}

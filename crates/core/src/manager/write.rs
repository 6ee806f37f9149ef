//! Writing prompts: create, update, imports (`save_all`), and the handle that writes as another
//! actor. Label moves, status changes and deletion are in `labels`.

use std::sync::Arc;

use chrono::Utc;
use semver::Version;

use crate::error::{Error, NotFound, Result};
use crate::id::{LabelName, PromptId};
use crate::model::{Bump, LabelEvent, LabelEventKind, Prompt, PromptStatus, PromptVersion};
use crate::store::{Expect, SaveRequest};

use super::{
    CreateOptions, MAX_UPDATE_ATTEMPTS, PromptManager, SaveOutcome, UpdateOptions, operation_span, record_prompt,
};

impl PromptManager {
    /// Creates a prompt as version `1.0.0`, status `draft`.
    pub async fn create(&self, prompt: Prompt) -> Result<Arc<PromptVersion>> {
        self.create_with(prompt, CreateOptions::default())
            .await
            .map(|o| o.version)
    }

    /// Creates a prompt with options. The template must compile and its includes resolve.
    pub async fn create_with(&self, prompt: Prompt, options: CreateOptions) -> Result<SaveOutcome> {
        Self::traced(operation_span!("prompt_manager.create"), async move {
            record_prompt(&prompt.id);
            prompt.validate()?;
            let version = options.version.unwrap_or_else(|| Version::new(1, 0, 0));
            let content_hash = prompt.content_hash();
            self.check_compiles(&prompt, &version, &content_hash).await?;
            let new = PromptVersion {
                prompt,
                version,
                changelog: options.changelog.unwrap_or_else(|| "Initial version".into()),
                author: options.author.or_else(|| self.actor_name()),
                // Microseconds: what every store keeps (SQL timestamps), so a write answers what a read returns.
                created_at: chrono::SubsecRound::trunc_subsecs(Utc::now(), 6),
                parent: None,
                content_hash,
            };
            self.commit(new, Expect::Absent, options.status, options.labels).await
        })
        .await
    }

    /// Saves new content as a new version with a bump and a changelog. Identical content returns
    /// the latest version unchanged (`created == false`).
    pub async fn update(&self, prompt: Prompt, bump: Bump, changelog: impl Into<String>) -> Result<SaveOutcome> {
        self.update_with(prompt, UpdateOptions::new(bump, changelog)).await
    }

    /// Saves new content with options.
    ///
    /// With [`UpdateOptions::expected`] the save is compare-and-set on the latest version: if it
    /// is another one, [`Error::VersionConflict`] names both and nothing is written. Without it,
    /// the update applies on top of whatever is latest when it is saved: a concurrent write that
    /// lands between reading the latest version and saving is retried against the new latest,
    /// up to [`MAX_UPDATE_ATTEMPTS`] times (each lost race means another write succeeded), after
    /// which [`Error::UpdateContended`] says so — never a conflict with an expectation the caller
    /// did not state.
    pub async fn update_with(&self, prompt: Prompt, options: UpdateOptions) -> Result<SaveOutcome> {
        Self::traced(operation_span!("prompt_manager.update"), async move {
            record_prompt(&prompt.id);
            prompt.validate()?;
            let mut attempts = 0;
            loop {
                attempts += 1;
                match self.update_once(&prompt, &options).await {
                    // Only a race on the expectation this method made up is retried; the
                    // caller's own expectation is the caller's to retry.
                    Err(Error::VersionConflict { .. }) if options.expected.is_none() => {
                        if attempts >= MAX_UPDATE_ATTEMPTS {
                            return Err(Error::UpdateContended {
                                id: prompt.id.clone(),
                                attempts,
                            });
                        }
                        tracing::debug!(id = %prompt.id, attempts, "an update lost a race; retrying on the new latest version");
                    }
                    other => return other,
                }
            }
        })
        .await
    }

    /// One attempt of [`update_with`](Self::update_with): read the latest version, derive the new
    /// one from it, save it compare-and-set on that latest version.
    async fn update_once(&self, prompt: &Prompt, options: &UpdateOptions) -> Result<SaveOutcome> {
        let id = prompt.id.clone();
        let latest = match self.inner.store.load(&id, None).await {
            Err(Error::NotFound(NotFound::Prompt(_))) => {
                return Err(Error::NotFound(NotFound::Prompt(id)));
            }
            other => other?,
        };
        if let Some(expected) = &options.expected
            && *expected != latest.version
        {
            return Err(Error::VersionConflict {
                id,
                what: "latest version".into(),
                expected: Some(expected.clone()),
                actual: Some(latest.version.clone()),
            });
        }
        let content_hash = prompt.content_hash();
        if content_hash == latest.content_hash && options.labels.is_empty() {
            return Ok(SaveOutcome {
                version: latest,
                created: false,
                labels: Vec::new(),
            });
        }
        if content_hash == latest.content_hash {
            // Same content, but labels to move: move them to the existing version.
            let mut events = Vec::new();
            for label in &options.labels {
                if let Some(event) = self
                    .move_label(
                        &id,
                        label.clone(),
                        Some(latest.version.clone()),
                        Expect::Any,
                        LabelEventKind::Set,
                    )
                    .await?
                {
                    events.push(event);
                }
            }
            return Ok(SaveOutcome {
                version: latest,
                created: false,
                labels: events,
            });
        }
        let version = options
            .bump
            .apply(&latest.version)
            .ok_or_else(|| Error::InvalidPrompt {
                id: id.to_string(),
                reason: format!(
                    "a {} bump of {} overflows the version number",
                    options.bump, latest.version
                ),
            })?;
        self.check_compiles(prompt, &version, &content_hash).await?;
        let new = PromptVersion {
            prompt: prompt.clone(),
            version,
            changelog: options.changelog.clone(),
            author: options.author.clone().or_else(|| self.actor_name()),
            // Microseconds: what every store keeps (SQL timestamps), so a write answers what a read returns.
            created_at: chrono::SubsecRound::trunc_subsecs(Utc::now(), 6),
            parent: Some(latest.version.clone()),
            content_hash,
        };
        self.commit(
            new,
            Expect::Version(latest.version.clone()),
            PromptStatus::default(),
            options.labels.clone(),
        )
        .await
    }

    /// Saves a new version (compare-and-set on `expected`), then invalidates the registry and
    /// tells the observers — in that order, so no render can see the store older than the cache.
    async fn commit(
        &self,
        new: PromptVersion,
        expected: Expect,
        status: PromptStatus,
        labels: Vec<LabelName>,
    ) -> Result<SaveOutcome> {
        let labels = self
            .inner
            .store
            .save(SaveRequest {
                version: new.clone(),
                expected,
                status,
                labels,
                actor: self.actor_name(),
                authority: self.authority,
            })
            .await?;
        self.inner.changed(&new.prompt.id);
        let span = tracing::Span::current();
        span.record("gen_ai.prompt.version", tracing::field::display(&new.version));
        span.record("gen_ai.prompt.content_hash", new.content_hash.0.as_str());
        let version = Arc::new(new);
        self.each_observer(|o| o.on_version_created(&version));
        for event in &labels {
            self.each_observer(|o| o.on_label_moved(&version.prompt.id, event));
        }
        Ok(SaveOutcome {
            version,
            created: true,
            labels,
        })
    }

    /// Saves many versions, of one or many prompts, as one unit: an import. Every template is
    /// checked first (syntax only: includes may name prompts of the same batch), then the store
    /// applies the batch all-or-nothing ([`StorageBackend::save_all`](crate::StorageBackend::save_all)), then the cache forgets
    /// every prompt the batch touched and the observers hear of each version and label move.
    ///
    /// The requests are taken as they are: their version numbers, expectations, statuses and
    /// labels are the caller's (an importer computes them against the store's state).
    pub async fn save_all(&self, requests: Vec<SaveRequest>) -> Result<Vec<LabelEvent>> {
        Self::traced(
            operation_span!("prompt_manager.save_all", batch = requests.len()),
            async move {
                for request in &requests {
                    let version = &request.version;
                    version.prompt.validate()?;
                    let name = format!("{}@{}", version.prompt.id, version.version);
                    let engine = self.engine_of(&version.prompt)?;
                    for (part, source) in version.prompt.template.named_sources(&name) {
                        engine.validate(&part, source)?;
                    }
                }
                // Which labels each request moves, to tell observers which prompt an event belongs to
                // (events come back in request order, so a cursor pairs them).
                let moved: Vec<(Arc<PromptVersion>, Vec<LabelName>)> = requests
                    .iter()
                    .map(|r| (Arc::new(r.version.clone()), r.labels.clone()))
                    .collect();
                let events = self.inner.store.save_all(requests).await?;
                for (version, _) in &moved {
                    self.inner.changed(&version.prompt.id);
                }
                for (version, _) in &moved {
                    self.each_observer(|o| o.on_version_created(version));
                }
                let mut cursor = 0;
                for event in &events {
                    while let Some((version, labels)) = moved.get(cursor) {
                        if event.to.as_ref() == Some(&version.version) && labels.contains(&event.label) {
                            self.each_observer(|o| o.on_label_moved(&version.prompt.id, event));
                            break;
                        }
                        cursor += 1;
                    }
                }
                Ok(events)
            },
        )
        .await
    }

    /// Who this manager records as the author and actor of its writes, when set.
    pub fn actor(&self) -> Option<&str> {
        self.actor.as_deref()
    }

    /// A handle on the same manager (store, caches, observers, plugins) that records `actor` as
    /// the author of the versions and the actor of the label moves it writes — for a server that
    /// writes on behalf of many callers (an API key's name) through one manager. Cheap: two
    /// reference counts.
    pub fn acting_as(&self, actor: impl Into<String>) -> PromptManager {
        PromptManager {
            inner: Arc::clone(&self.inner),
            actor: Some(Arc::from(actor.into())),
            authority: self.authority,
        }
    }

    pub(super) fn actor_name(&self) -> Option<String> {
        self.actor.as_deref().map(str::to_owned)
    }

    /// Forgets what the manager cached about `id`, so that the next render reads the store.
    ///
    /// Writes through this manager keep the cache exact by themselves, and so do writes of other
    /// processes or instances on a store that reports them ([`StorageBackend::watch`](crate::StorageBackend::watch):
    /// PostgreSQL and SQLite do). Call this after the store was changed behind the manager's back
    /// otherwise: by hand or by another process in a `dir://` folder.
    pub fn refresh(&self, id: &PromptId) {
        self.inner.changed(id);
    }

    /// Tells `listener` of every change this manager sees: [`changed`](crate::ChangeListener::changed)
    /// after each write through it (or a clone of it, or a manager made from it with
    /// [`acting_as`](Self::acting_as) or [`with_authority`](Self::with_authority)), after
    /// [`refresh`](Self::refresh), and for each change its store's feed reports from other
    /// processes or instances when the store has one; [`lost`](crate::ChangeListener::lost) when
    /// that feed was interrupted and changes may have been missed.
    ///
    /// The listener is called on the writing task and must be quick (hand the id to a channel).
    /// A change may be reported twice: the write here, then the store's feed echoing it.
    pub fn subscribe_changes(&self, listener: Arc<dyn crate::ChangeListener>) {
        self.inner
            .subscribers
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .push(listener);
    }
}

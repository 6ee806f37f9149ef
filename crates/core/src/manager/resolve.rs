//! Resolving a reference to a compiled version: the registry on a hit; on a miss, the store
//! lookup (by label, exact version, semver requirement or latest), compiling, and the includes a
//! template pulls in, followed through the registry with their cycle and depth checks.

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use semver::Version;

use crate::engine::{CompileUnit, CompiledTemplate, IncludedTemplate, TemplateEngine};
use crate::error::{Error, Result};
use crate::id::{LabelName, PromptId};
use crate::model::{
    ContentHash, Prompt, PromptStatus, PromptVersion, Split, Template, TemplateSyntax, context_seed, version_hash,
};
use crate::reference::PromptRef;
use crate::render::{CompiledSplit, Resolved, VariantInfo};

use super::{MAX_INCLUDE_DEPTH, PromptManager};

/// Every resolution gets its own id: the rendered-output cache keys on it.
static RESOLUTION_IDS: AtomicU64 = AtomicU64::new(1);

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Includes collected for one compile: sources by reference, and dependency generations.
#[derive(Default)]
struct IncludeSet {
    templates: Vec<IncludedTemplate>,
    seen: HashSet<String>,
    deps: Vec<(PromptId, u64)>,
    /// The includer's syntax, which every include must share.
    syntax: TemplateSyntax,
}

impl PromptManager {
    /// Resolves a reference through the registry, loading and compiling on a miss.
    pub(super) async fn resolve(&self, reference: &str) -> Result<Arc<Resolved>> {
        if let Some(hit) = self.inner.registry.get(reference) {
            return Ok(hit);
        }
        let registry = &self.inner.registry;
        let parsed = PromptRef::parse(reference)?;
        // Taken before reading the store: a write that lands meanwhile invalidates this entry,
        // and the registry then refuses to cache what was read.
        let entry = registry.entry(&parsed.id);
        let loaded = match self.inner.store.resolve(&parsed).await {
            Ok(found) => match self.compile_version(&found.version).await {
                Ok(compiled) => match (&found.split, parsed.label()) {
                    (Some(split), Some(label)) => self
                        .compile_split(&found, split, label, &compiled)
                        .await
                        .map(|split| (found, compiled, Some(split))),
                    _ => Ok((found, compiled, None)),
                },
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        let (found, (compiled, mut deps), split) = match loaded {
            Ok(done) => done,
            Err(e) => {
                registry.forget_if_unused(&parsed.id, &entry);
                return Err(e);
            }
        };
        let (version, status) = (found.version, found.status);
        if status == PromptStatus::Deprecated {
            tracing::warn!(
                prompt = %version.prompt.id,
                version = %version.version,
                "prompt `{}` is deprecated; move callers to its replacement",
                version.prompt.id
            );
        }
        if let Some(split) = &split {
            // A variant's includes are the split's: the registry re-resolves the label when one moves.
            for variant in &split.variants {
                for dep in &variant.deps {
                    if !deps.contains(dep) {
                        deps.push(dep.clone());
                    }
                }
            }
        }
        let resolved = Arc::new(Resolved {
            id: RESOLUTION_IDS.fetch_add(1, Ordering::Relaxed),
            name: version.reference(),
            label: parsed.label().cloned(),
            version,
            status,
            compiled,
            deps,
            split,
            variant: None,
            render_key: Default::default(),
        });
        registry.insert(&entry, reference, resolved.clone());
        Ok(resolved)
    }

    /// Loads and compiles every variant of a split label (the primary's compiled template is
    /// `primary`), each as a resolution carrying the label, for the registry to cache with it.
    async fn compile_split(
        &self,
        found: &crate::store::Resolution,
        split: &Split,
        label: &LabelName,
        primary: &(Arc<dyn CompiledTemplate>, Vec<(PromptId, u64)>),
    ) -> Result<Box<CompiledSplit>> {
        let id = &found.version.prompt.id;
        let total = split.total_weight();
        let mut variants = Vec::with_capacity(split.variants().len());
        for variant in split.variants() {
            let (version, (compiled, deps)) = if variant.version == found.version.version {
                (found.version.clone(), primary.clone())
            } else {
                let version = match self.inner.store.load(id, Some(&variant.version)).await {
                    Err(Error::NotFound(crate::error::NotFound::Version(..))) => {
                        return Err(Error::NotFound(crate::error::NotFound::LabelTarget(
                            id.clone(),
                            label.clone(),
                            variant.version.clone(),
                        )));
                    }
                    other => other?,
                };
                let compiled = self.compile_version(&version).await?;
                (version, compiled)
            };
            variants.push(Arc::new(Resolved {
                id: RESOLUTION_IDS.fetch_add(1, Ordering::Relaxed),
                name: version.reference(),
                label: Some(label.clone()),
                version,
                status: found.status,
                compiled,
                deps,
                split: None,
                variant: Some(VariantInfo {
                    label: label.clone(),
                    weight: variant.weight,
                    total,
                }),
                render_key: Default::default(),
            }));
        }
        Ok(Box::new(CompiledSplit {
            seed: context_seed(id.as_str(), label.as_str()),
            version_hashes: split.variants().iter().map(|v| version_hash(&v.version)).collect(),
            weights: split.variants().iter().map(|v| v.weight).collect(),
            total,
            variants,
        }))
    }

    /// Finds the version a reference names, and the prompt's status: one call to the store
    /// ([`VersionStore::resolve`](crate::VersionStore::resolve)), which a SQL store answers with
    /// one query.
    pub(super) async fn lookup(&self, reference: &PromptRef) -> Result<(Arc<PromptVersion>, PromptStatus)> {
        let found = self.inner.store.resolve(reference).await?;
        Ok((found.version, found.status))
    }

    /// Compiles a version, resolving its includes; include-free templates are shared by content.
    async fn compile_version(
        &self,
        version: &PromptVersion,
    ) -> Result<(Arc<dyn CompiledTemplate>, Vec<(PromptId, u64)>)> {
        let prompt = &version.prompt;
        let name = version.reference();
        let parts = prompt.template.named_sources(&name);
        // Scanning for includes is cheap and does I/O only when there are some.
        let engine = self.engine_of(prompt)?;
        let includes = self.collect_includes(prompt, &name, &parts).await?;
        let registry = &self.inner.registry;
        let include_free = includes.templates.is_empty();
        if include_free && let Some(compiled) = registry.compiled(&name, &version.content_hash) {
            return Ok((compiled, Vec::new()));
        }
        let compiled = compile_parts(engine.as_ref(), prompt, &name, &parts, &includes.templates)?;
        if include_free {
            registry.insert_compiled(&name, version.content_hash.clone(), compiled.clone());
        }
        Ok((compiled, includes.deps))
    }

    /// Checks that a prompt about to be saved as `version` compiles with its includes.
    /// An include-free template is kept, so the version's first render does not compile it again.
    pub(super) async fn check_compiles(&self, prompt: &Prompt, version: &Version, hash: &ContentHash) -> Result<()> {
        let name = format!("{}@{}", prompt.id, version);
        let parts = prompt.template.named_sources(&name);
        let engine = self.engine_of(prompt)?;
        let includes = self.collect_includes(prompt, &name, &parts).await?;
        let compiled = compile_parts(engine.as_ref(), prompt, &name, &parts, &includes.templates)?;
        // What every render would refuse (an unknown filter, a mutating method) is refused now,
        // with its place; stored versions are only compiled, so older ones keep loading.
        for (part, source) in &parts {
            engine.check(part, source)?;
        }
        if includes.templates.is_empty() {
            self.inner.registry.insert_compiled(&name, hash.clone(), compiled);
        }
        Ok(())
    }

    async fn collect_includes(&self, root: &Prompt, name: &str, parts: &[(String, &str)]) -> Result<IncludeSet> {
        let mut set = IncludeSet {
            syntax: root.syntax,
            ..IncludeSet::default()
        };
        let engine = self.engine_of(root)?;
        for (part, source) in parts {
            let mut path = vec![(root.id.clone(), name.to_owned())];
            for child in engine.includes(part, source)? {
                self.visit_include(child, part, &mut path, &mut set).await?;
            }
        }
        Ok(set)
    }

    fn visit_include<'a>(
        &'a self,
        reference: String,
        includer: &'a str,
        path: &'a mut Vec<(PromptId, String)>,
        set: &'a mut IncludeSet,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let in_include = |e: Error| match e {
                Error::NotFound(_) | Error::InvalidReference { .. } | Error::InvalidId { .. } => Error::InvalidPrompt {
                    id: includer.to_owned(),
                    reason: format!("its include of `{reference}` failed: {e}"),
                },
                other => other,
            };
            let parsed = PromptRef::parse(&reference).map_err(in_include)?;
            if let Some(start) = path.iter().position(|(id, _)| *id == parsed.id) {
                let mut cycle: Vec<String> = path[start..].iter().map(|(_, r)| r.clone()).collect();
                cycle.push(reference);
                return Err(Error::IncludeCycle { cycle });
            }
            if set.seen.contains(&reference) {
                return Ok(());
            }
            if path.len() > MAX_INCLUDE_DEPTH {
                return Err(Error::RenderLimit {
                    template: includer.to_owned(),
                    limit: format!("its includes nest deeper than {MAX_INCLUDE_DEPTH} levels (at `{reference}`)"),
                });
            }
            let generation = self.inner.registry.entry(&parsed.id).generation;
            let (version, status) = self.lookup(&parsed).await.map_err(in_include)?;
            if status == PromptStatus::Archived {
                return Err(Error::Archived { id: parsed.id });
            }
            let Template::Text(source) = &version.prompt.template else {
                return Err(Error::Unsupported(format!(
                    "`{reference}` is a chat prompt and cannot be included; only text prompts can"
                )));
            };
            if version.prompt.syntax != set.syntax {
                return Err(Error::InvalidPrompt {
                    id: includer.to_owned(),
                    reason: format!(
                        "it is a {} template and includes `{reference}`, a {} one; an include must be written in its includer's syntax",
                        set.syntax, version.prompt.syntax
                    ),
                });
            }
            let exact = version.reference();
            path.push((parsed.id.clone(), reference.clone()));
            for child in self.engine_for(set.syntax)?.includes(&exact, source)? {
                self.visit_include(child, &exact, path, set).await?;
            }
            path.pop();
            set.seen.insert(reference.clone());
            set.deps.push((parsed.id, generation));
            set.templates.push(IncludedTemplate {
                reference,
                resolved: exact,
                source: source.clone(),
            });
            Ok(())
        })
    }
}

/// Compiles the named parts of one version of `prompt` with the engine.
fn compile_parts(
    engine: &dyn TemplateEngine,
    prompt: &Prompt,
    name: &str,
    parts: &[(String, &str)],
    includes: &[IncludedTemplate],
) -> Result<Arc<dyn CompiledTemplate>> {
    let sources: Vec<&str> = parts.iter().map(|(_, s)| *s).collect();
    let part_names: Vec<&str> = parts.iter().map(|(n, _)| n.as_str()).collect();
    engine.compile(CompileUnit {
        name,
        sources: &sources,
        part_names: &part_names,
        includes,
        messages: prompt.format.is_chat(),
    })
}

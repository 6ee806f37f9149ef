//! Every manager operation runs in a `tracing` span named `prompt_manager.<operation>`, with the
//! prompt's id, version, label and content hash (GenAI-style names) and the outcome as fields.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use prompt_manager::{Prompt, Variables};
use tracing::Subscriber;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::layer::{Context, Layer, SubscriberExt};

/// Every span in creation order (name and fields as text), and where each live span id points
/// (the registry reuses the ids of closed spans).
#[derive(Default, Debug)]
struct Recorded {
    spans: Vec<(String, BTreeMap<String, String>)>,
    live: BTreeMap<u64, usize>,
}

type Spans = Arc<Mutex<Recorded>>;

/// A layer that keeps every span's name and recorded fields (the registry under it tracks which
/// span is current, as any real subscriber does).
struct Recorder {
    spans: Spans,
}

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

impl<S: Subscriber> Layer<S> for Recorder {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, _: Context<'_, S>) {
        let mut fields = BTreeMap::new();
        attrs.record(&mut Fields(&mut fields));
        let mut recorded = self.spans.lock().unwrap();
        let index = recorded.spans.len();
        recorded.spans.push((attrs.metadata().name().to_owned(), fields));
        recorded.live.insert(id.into_u64(), index);
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, _: Context<'_, S>) {
        let mut recorded = self.spans.lock().unwrap();
        if let Some(&index) = recorded.live.get(&id.into_u64()) {
            values.record(&mut Fields(&mut recorded.spans[index].1));
        }
    }
}

fn find<'a>(recorded: &'a Recorded, name: &str) -> Vec<&'a BTreeMap<String, String>> {
    recorded
        .spans
        .iter()
        .filter(|(n, _)| n == name)
        .map(|(_, f)| f)
        .collect()
}

#[test]
fn operations_are_spans_with_prompt_fields_and_outcome() {
    let spans: Spans = Arc::default();
    let recorder = tracing_subscriber::registry().with(Recorder { spans: spans.clone() });
    tracing::subscriber::with_default(recorder, || {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        runtime.block_on(async {
            let pm = prompt_manager::in_memory();
            pm.create(Prompt::text("greeting", "Hello {{ name }}!").unwrap())
                .await
                .unwrap();
            pm.set_label("greeting", "production", "1.0.0").await.unwrap();
            let vars = Variables::new().with("name", "Ada");
            pm.render("greeting@production", &vars).await.unwrap();
            assert!(pm.render("greeting@production", &Variables::new()).await.is_err());
            assert!(pm.get("missing").await.is_err());
        });
    });
    let spans = spans.lock().unwrap();

    let create = find(&spans, "prompt_manager.create");
    assert_eq!(create.len(), 1, "{spans:?}");
    assert_eq!(create[0]["gen_ai.prompt.name"], "greeting", "{spans:?}");
    assert!(create[0].contains_key("gen_ai.prompt.version"), "{spans:?}");
    assert_eq!(create[0]["gen_ai.prompt.version"], "1.0.0");
    assert!(create[0]["gen_ai.prompt.content_hash"].starts_with("sha256:"));
    assert_eq!(create[0]["outcome"], "ok");

    let label = find(&spans, "prompt_manager.set_label");
    assert_eq!(label[0]["gen_ai.prompt.label"], "production");

    let renders = find(&spans, "prompt_manager.render");
    assert_eq!(renders.len(), 2);
    let ok = renders[0];
    assert!(ok.contains_key("gen_ai.prompt.name"), "{renders:?}");
    assert_eq!(ok["reference"], "greeting@production");
    assert_eq!(ok["gen_ai.prompt.name"], "greeting");
    assert_eq!(ok["gen_ai.prompt.version"], "1.0.0");
    assert_eq!(ok["gen_ai.prompt.label"], "production");
    assert_eq!(ok["outcome"], "ok");
    assert_eq!(renders[1]["outcome"], "invalid_variables");

    let get = find(&spans, "prompt_manager.get");
    assert_eq!(get[0]["outcome"], "not_found");
}

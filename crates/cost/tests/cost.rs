//! The counter's model mapping and chat rule, and the price table: the shipped data, lookups,
//! overrides, refusals and cost arithmetic.

#![allow(clippy::expect_used, clippy::unwrap_used, missing_docs)]

use std::collections::BTreeMap;

use prompt_manager_core::{ChatMessage, NanoUsd, Price, PriceBook, RenderOutput, Role, TokenCounter, TokenMethod};
use prompt_manager_cost::{Counter, Encoding, PriceSource, PriceTable, encoding_for_model, estimate_text};

#[test]
fn openai_models_map_to_their_encodings() {
    let o200k = [
        "gpt-4o",
        "gpt-4o-mini",
        "gpt-4o-2024-08-06",
        "chatgpt-4o-latest",
        "gpt-4.1",
        "gpt-4.1-nano-2025-04-14",
        "o1",
        "o1-mini",
        "o3",
        "o3-mini-2025-01-31",
        "o4-mini",
        "gpt-5",
        "gpt-5-mini",
        "gpt-5.1-codex",
        "GPT-4o",
        "openai/gpt-4o",
        "ft:gpt-4o-mini:acme::abc123",
    ];
    for model in o200k {
        assert_eq!(encoding_for_model(model), Some(Encoding::O200kBase), "{model}");
    }
    let cl100k = [
        "gpt-4",
        "gpt-4-0613",
        "gpt-4-turbo",
        "gpt-4-32k",
        "gpt-3.5-turbo",
        "gpt-3.5-turbo-0125",
        "gpt-35-turbo",
        "text-embedding-3-small",
        "text-embedding-3-large",
        "text-embedding-ada-002",
    ];
    for model in cl100k {
        assert_eq!(encoding_for_model(model), Some(Encoding::Cl100kBase), "{model}");
    }
    for model in [
        "claude-sonnet-4-5",
        "gemini-2.5-pro",
        "llama-3.1-70b",
        "",
        "gpt",
        "o2",
        "davinci",
    ] {
        assert_eq!(encoding_for_model(model), None, "{model}");
    }
}

#[test]
fn other_models_are_estimated_and_say_so() {
    let counter = Counter::new();
    let text = RenderOutput::Text("Hello there, how are you today?".into());
    for model in [
        Some("claude-sonnet-4-5"),
        Some("gemini-2.5-flash"),
        Some("my-model"),
        None,
    ] {
        let count = counter.count(model, &text);
        assert_eq!(count.method, TokenMethod::Estimate, "{model:?}");
        assert_eq!(count.tokens, estimate_text("Hello there, how are you today?"));
    }
    // The estimate: letters per 6, punctuation per 2, single spaces free.
    assert_eq!(estimate_text(""), 0);
    assert_eq!(estimate_text(" "), 1);
    assert_eq!(estimate_text("Hello, world!"), 1 + 1 + 1 + 1);
    assert_eq!(estimate_text("日本"), 2);
    assert_eq!(estimate_text("1234567"), 3);
    // A default model counts a prompt that names none.
    let count = Counter::with_default_model("gpt-4o").count(None, &text);
    #[cfg(feature = "openai-tokens")]
    assert_eq!(count.method, TokenMethod::Exact("o200k_base"));
    #[cfg(not(feature = "openai-tokens"))]
    assert_eq!(count.method, TokenMethod::Estimate);
}

#[cfg(feature = "openai-tokens")]
#[test]
fn chat_renders_carry_openais_per_message_overhead() {
    let counter = Counter::new();
    let messages = vec![
        ChatMessage::new(Role::System, "You are terse."),
        ChatMessage::new(Role::User, "Hi"),
    ];
    let text = |t: &str| counter.count_text(Some("gpt-4o"), t).tokens;
    let expected = 3 + (3 + text("system") + text("You are terse.")) + (3 + text("user") + text("Hi"));
    let count = counter.count(Some("gpt-4o"), &RenderOutput::Messages(messages.clone()));
    assert_eq!(count.tokens, expected);
    assert_eq!(count.method, TokenMethod::Exact("o200k_base"));
    // A name costs one token more than its text; a tool call its id, name and arguments.
    let mut named = messages.clone();
    named[1].name = Some("ada".into());
    assert_eq!(
        counter.count_messages(Some("gpt-4o"), &named).tokens,
        expected + 1 + text("ada")
    );
    let mut with_call = messages;
    with_call.push(
        ChatMessage::new(Role::Assistant, "").with_tool_calls([prompt_manager_core::ToolCall::new(
            "call_1",
            "lookup",
            serde_json::json!({"id": 7}),
        )]),
    );
    let call = text("call_1") + text("lookup") + text("{\"id\":7}");
    assert_eq!(
        counter.count_messages(Some("gpt-4o"), &with_call).tokens,
        expected + 3 + text("assistant") + call
    );
    // Known values: tiktoken counts "Hello, world!" as 4 tokens in both encodings.
    assert_eq!(counter.count_text(Some("gpt-4"), "Hello, world!").tokens, 4);
    assert_eq!(
        counter.count_text(Some("gpt-4"), "Hello, world!").method,
        TokenMethod::Exact("cl100k_base")
    );
}

#[test]
fn the_shipped_table_parses_and_is_dated() {
    let table = PriceTable::shipped();
    assert_eq!(table.as_of(), "2026-03-21");
    let entries = table.list();
    assert!(entries.len() >= 40, "{} entries", entries.len());
    for entry in &entries {
        assert_eq!(entry.source, PriceSource::Shipped);
        assert!(entry.price.input >= 0.0 && entry.price.output >= 0.0, "{entry:?}");
    }
    // Each provider is there.
    for model in [
        "gpt-4o",
        "gpt-5",
        "o3",
        "claude-sonnet-4-5",
        "claude-haiku-4-5",
        "gemini-2.5-pro",
        "gemini-2.5-flash",
    ] {
        assert!(table.price(model).is_some(), "{model}");
    }
    assert_eq!(
        table.price("gpt-4o-mini"),
        Some(Price {
            input: 0.15,
            output: 0.60,
            cached_input: Some(0.075)
        })
    );
    // As the trait lists them.
    assert_eq!(PriceBook::entries(&table).len(), entries.len());
}

#[test]
fn lookups_try_the_exact_name_then_without_snapshot_suffixes() {
    let table = PriceTable::shipped();
    let matched = |model: &str| table.lookup(model).map(|m| m.model);
    assert_eq!(matched("gpt-4o-mini-2024-07-18").as_deref(), Some("gpt-4o-mini"));
    assert_eq!(
        matched("claude-sonnet-4-5-20250929").as_deref(),
        Some("claude-sonnet-4-5")
    );
    assert_eq!(
        matched("claude-3-7-sonnet-latest").as_deref(),
        Some("claude-3-7-sonnet")
    );
    assert_eq!(
        matched("claude-3-5-haiku-20241022").as_deref(),
        Some("claude-3-5-haiku")
    );
    assert_eq!(matched("gemini-2.0-flash-001").as_deref(), Some("gemini-2.0-flash"));
    assert_eq!(
        matched("gemini-2.5-flash-preview-05-20").as_deref(),
        Some("gemini-2.5-flash")
    );
    assert_eq!(matched("openai/gpt-4.1-2025-04-14").as_deref(), Some("gpt-4.1"));
    assert_eq!(matched("GPT-4-0613").as_deref(), Some("gpt-4"));
    // An exact entry wins over its family.
    assert_eq!(table.price("gpt-4o-2024-05-13").map(|p| p.input), Some(5.0));
    assert_eq!(table.price("gpt-4o-2024-08-06").map(|p| p.input), Some(2.5));
}

#[test]
fn unknown_models_have_no_price_never_zero() {
    let table = PriceTable::shipped();
    for model in [
        "my-model",
        "gpt-4o-mini-custom",
        "claude-sonnet-9",
        "",
        "   ",
        "ft:gpt-4o-mini:acme::x",
        "gpt-4o-",
    ] {
        assert_eq!(table.price(model), None, "{model}");
    }
    assert_eq!(PriceTable::empty().price("gpt-4o"), None);
}

#[test]
fn overrides_replace_or_add_and_bad_prices_change_nothing() {
    let table = PriceTable::shipped();
    let mine = Price {
        input: 1.0,
        output: 2.0,
        cached_input: None,
    };
    table.set("my-model", mine, PriceSource::Runtime).unwrap();
    assert_eq!(table.price("my-model"), Some(mine));
    assert_eq!(table.lookup("my-model").unwrap().source, PriceSource::Runtime);
    // Through the trait, as the server does.
    let book: &dyn PriceBook = &table;
    book.set_price("gpt-4o", mine).unwrap();
    assert_eq!(book.price("gpt-4o-2024-08-06"), Some(mine));

    let before = table.list();
    for bad in [
        Price { input: -1.0, ..mine },
        Price {
            output: f64::NAN,
            ..mine
        },
        Price {
            input: f64::INFINITY,
            ..mine
        },
        Price {
            cached_input: Some(-0.1),
            ..mine
        },
    ] {
        let err = book.set_price("gpt-4o-mini", bad).unwrap_err().to_string();
        assert!(err.contains("finite, non-negative"), "{err}");
    }
    assert!(book.set_price("", mine).is_err());
    assert!(book.set_price("a\nb", mine).is_err());
    // A batch with one bad price sets none of them.
    let overrides = BTreeMap::from([
        ("aaa-model".to_owned(), mine),
        ("zzz-model".to_owned(), Price { input: -5.0, ..mine }),
    ]);
    let err = table.apply(&overrides, PriceSource::Config).unwrap_err().to_string();
    assert!(err.contains("zzz-model"), "{err}");
    assert_eq!(table.list(), before);
    let good = BTreeMap::from([("aaa-model".to_owned(), mine)]);
    table.apply(&good, PriceSource::Config).unwrap();
    assert_eq!(table.lookup("AAA-model").unwrap().source, PriceSource::Config);

    // A read-only book refuses politely.
    #[derive(Debug)]
    struct Fixed;
    impl PriceBook for Fixed {
        fn price(&self, _: &str) -> Option<Price> {
            None
        }
    }
    assert!(
        Fixed
            .set_price("x", mine)
            .unwrap_err()
            .to_string()
            .contains("cannot change")
    );
    assert!(Fixed.entries().is_empty());
}

#[test]
fn tables_from_toml_are_checked() {
    let good = "as_of = \"2026-01-01\"\n[models]\n\"m\" = { input = 1.5, output = 3 }\n";
    let table = PriceTable::from_toml(good, PriceSource::Config).unwrap();
    assert_eq!(table.price("m").map(|p| p.output), Some(3.0));
    for bad in [
        "as_of = \"x\"\n[models]\n\"m\" = { input = -1.0, output = 3.0 }\n",
        "as_of = \"x\"\n[models]\n\"m\" = { input = 1.0 }\n",
        "as_of = \"x\"\n[models]\n\"m\" = { input = 1.0, output = 1.0, cache = 0.1 }\n",
        "not toml",
    ] {
        assert!(PriceTable::from_toml(bad, PriceSource::Config).is_err(), "{bad}");
    }
}

#[test]
fn costs_are_exact_nano_dollars() {
    let table = PriceTable::shipped();
    let price = table.price("gpt-4o").unwrap();
    assert_eq!(price.input_cost(1_000), NanoUsd(2_500_000)); // $0.0025
    assert_eq!(price.output_cost(500), NanoUsd(5_000_000)); // $0.005
    assert_eq!(price.cached_input_cost(1_000), NanoUsd(1_250_000));
    let sonnet = table.price("claude-sonnet-4-5").unwrap();
    // 1,234 input tokens at $3/M and 567 output at $15/M: 3,702,000 + 8,505,000 nano-dollars.
    let total = sonnet.input_cost(1_234).saturating_add(sonnet.output_cost(567));
    assert_eq!(total, NanoUsd(12_207_000));
    assert_eq!(total.to_string(), "$0.0122");
    // Summing many small costs is exact.
    let per_render = table.price("gpt-5-nano").unwrap().input_cost(37);
    let thousand = (0..1000).fold(NanoUsd(0), |sum, _| sum.saturating_add(per_render));
    assert_eq!(thousand, NanoUsd(per_render.0 * 1000));
}

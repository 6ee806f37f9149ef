//! The registry, and the optional rendered-output cache, are never stale for writes through the
//! manager: while readers render by label on other threads (filling the caches), every write is
//! visible to the very next render.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use prompt_manager::{Bump, Prompt, PromptManager, PromptStatus, RenderCacheConfig, Variables};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn writes_are_seen_at_once_under_concurrent_renders() {
    writes_are_seen_at_once(prompt_manager::in_memory()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn writes_are_seen_at_once_with_the_rendered_output_cache() {
    let pm = prompt_manager::builder()
        .render_cache(RenderCacheConfig::default())
        .build()
        .unwrap();
    writes_are_seen_at_once(pm.clone()).await;
    let stats = pm.cache_stats();
    assert!(
        stats.render_hits > 0,
        "the readers were served from the cache: {stats:?}"
    );
    assert!(stats.rendered_entries > 0, "{stats:?}");
}

/// An include moved under a label is followed by the cached output of the prompt including it.
#[tokio::test]
async fn a_cached_output_follows_its_includes() {
    let pm = prompt_manager::builder()
        .render_cache(RenderCacheConfig::default())
        .build()
        .unwrap();
    pm.create(Prompt::text("shared/tone", "Be brief.").unwrap())
        .await
        .unwrap();
    pm.set_label("shared/tone", "production", "1.0.0").await.unwrap();
    pm.create(Prompt::text("answer", "{% include \"shared/tone@production\" %} Answer.").unwrap())
        .await
        .unwrap();
    let vars = Variables::new();
    assert_eq!(pm.render("answer", &vars).await.unwrap(), "Be brief. Answer.");
    assert_eq!(pm.render("answer", &vars).await.unwrap(), "Be brief. Answer.");
    assert_eq!(pm.cache_stats().render_hits, 1);
    pm.update(Prompt::text("shared/tone", "Be warm.").unwrap(), Bump::Minor, "warmer")
        .await
        .unwrap();
    pm.set_label("shared/tone", "production", "1.1.0").await.unwrap();
    assert_eq!(pm.render("answer", &vars).await.unwrap(), "Be warm. Answer.");
}

async fn writes_are_seen_at_once(pm: PromptManager) {
    pm.create(Prompt::text("hot", "v1.0.0").unwrap()).await.unwrap();
    for minor in 1..=20 {
        pm.update(
            Prompt::text("hot", format!("v1.{minor}.0")).unwrap(),
            Bump::Minor,
            "next",
        )
        .await
        .unwrap();
    }
    pm.set_label("hot", "production", "1.0.0").await.unwrap();

    let stop = Arc::new(AtomicBool::new(false));
    // Readers that have rendered once: the writes start when all four run (on a loaded machine
    // the writer could otherwise finish before a reader is first scheduled).
    let running = Arc::new(AtomicUsize::new(0));
    let mut readers = Vec::new();
    for _ in 0..4 {
        let pm = pm.clone();
        let stop = stop.clone();
        let running = running.clone();
        readers.push(tokio::spawn(async move {
            let mut renders = 0u64;
            while !stop.load(Ordering::Relaxed) {
                for reference in ["hot@production", "hot", "hot@^1"] {
                    // Archived moments may refuse; anything else must succeed.
                    if let Err(e) = pm.render(reference, &Variables::new()).await {
                        assert_eq!(e.code(), "archived", "{e}");
                    }
                }
                renders += 1;
                if renders == 1 {
                    running.fetch_add(1, Ordering::AcqRel);
                }
                tokio::task::yield_now().await;
            }
            renders
        }));
    }

    while running.load(Ordering::Acquire) < 4 {
        tokio::time::sleep(std::time::Duration::from_millis(1)).await;
    }
    let vars = Variables::new();
    for round in 0..200u64 {
        let minor = (round * 7) % 21;
        let version = format!("1.{minor}.0");
        pm.set_label("hot", "production", &version).await.unwrap();
        assert_eq!(
            pm.render("hot@production", &vars).await.unwrap(),
            format!("v{version}"),
            "round {round}"
        );
        if round % 50 == 49 {
            pm.archive("hot").await.unwrap();
            assert!(pm.render("hot@production", &vars).await.is_err(), "archived at once");
            pm.set_status("hot", PromptStatus::Active).await.unwrap();
            assert!(pm.render("hot@production", &vars).await.is_ok(), "restored at once");
        }
    }
    pm.update(Prompt::text("hot", "v2.0.0").unwrap(), Bump::Major, "major")
        .await
        .unwrap();
    assert_eq!(pm.render("hot", &vars).await.unwrap(), "v2.0.0");
    assert_eq!(pm.render("hot@^1", &vars).await.unwrap(), "v1.20.0");

    stop.store(true, Ordering::Relaxed);
    let mut total = 0;
    for reader in readers {
        total += reader.await.unwrap();
    }
    assert!(total >= 4, "every reader rendered during the writes: {total}");
}

//! The global logging setup, in a process of its own: the first call installs it, a second is an
//! error and not a panic.

use prompt_manager_observability::{InitError, LogFormat, LoggingObserver, init_logging};

#[test]
fn a_second_setup_is_an_error_not_a_panic() {
    assert!(matches!(
        init_logging(LogFormat::Json, "info,=[bad"),
        Err(InitError::Filter { .. })
    ));
    init_logging(LogFormat::Json, "info").unwrap();
    let again = init_logging(LogFormat::Human, "debug");
    assert!(matches!(again, Err(InitError::AlreadySet(_))), "{again:?}");
    // Logging still works after the refused call.
    let _ = LoggingObserver::new();
    tracing::info!("still logging");
}

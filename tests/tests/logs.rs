//! Nothing secret reaches a log line: passwords, hashes and tokens pass through every flow below
//! while all log output, at debug level, is captured and searched.

use capecontrol_tests::{body_json, call, string, token, TestStack, STRONG_PASSWORD};
use std::io::Write;
use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn no_password_hash_or_token_appears_in_any_log_line() {
    let captured = Captured::default();
    let writer = captured.clone();
    tracing_subscriber::fmt()
        .json()
        .with_env_filter("debug")
        .with_writer(move || writer.clone())
        .init();

    let stack = TestStack::with_settings(|s| s.refresh_grace = time::Duration::seconds(1))
        .await
        .expect("stack");
    let login = call::signed_in(&stack.state, "quiet@example.com").await;
    let refresh = token(&login, "refresh_token");
    let access = token(&login, "access_token");
    let next = body_json(&call::refresh(&stack.state, &refresh).await);
    assert_eq!(
        call::login(&stack.state, "quiet@example.com", "wrong horse")
            .await
            .status(),
        401
    );
    tokio::time::sleep(std::time::Duration::from_millis(1_300)).await;
    assert_eq!(call::refresh(&stack.state, &refresh).await.status(), 401);
    assert_eq!(call::logout_all(&stack.state, &access).await.status(), 204);

    let credentials = stack.items_of("credentials").await.expect("scan");
    let hash = string(&credentials[0], "password_hash")
        .expect("hash")
        .to_owned();
    let logs = String::from_utf8(captured.0.lock().expect("log buffer").clone()).expect("utf-8");
    assert!(
        logs.contains("refresh_token_reuse_detected"),
        "the capture works: {logs}"
    );
    let secrets = [
        STRONG_PASSWORD.to_owned(),
        "wrong horse".to_owned(),
        hash,
        refresh,
        access,
        token(&next, "refresh_token"),
        token(&next, "access_token"),
    ];
    for secret in &secrets {
        assert!(!logs.contains(secret.as_str()), "a secret reached the logs");
    }
}

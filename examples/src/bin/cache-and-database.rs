//! A request whose waterfall holds a cache and a database: a product lookup reads Redis first,
//! falls back to SQLite on a miss and fills the cache, through rust2sky's `redis` and `sqlx`
//! integrations. It starts its own `redis-server` (from Debian's `redis-server` package) on a
//! free port of 127.0.0.1, keeps SQLite in a temporary file, and prints what an in-process
//! collector received.
//!
//! Run it with `cargo run -p rust2sky-examples --bin cache-and-database`.

use std::net::TcpListener;
use std::process::{Child, Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use rust2sky::config::Config;
use rust2sky::integrations::redis::Traced;
use rust2sky::integrations::sqlx::TracedPool;
use rust2sky::reporter::GrpcReporter;
use rust2sky::testing::{Collector, Waterfall};
use rust2sky::{FutureExt as _, Tracer, sw_entry};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const DEADLINE: Duration = Duration::from_secs(10);

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("cache-and-database failed: {error}");
            ExitCode::FAILURE
        }
    }
}

/// The cache server, stopped when dropped.
struct RedisServer {
    child: Child,
    address: String,
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_redis() -> Result<RedisServer, BoxError> {
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let child = Command::new("redis-server")
        .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .spawn()
        .map_err(|error| {
            format!("cannot start redis-server ({error}); install it with `apt-get install redis-server`")
        })?;
    let server = RedisServer {
        child,
        address: format!("127.0.0.1:{port}"),
    };
    let started = Instant::now();
    while std::net::TcpStream::connect(&server.address).is_err() {
        if started.elapsed() > DEADLINE {
            return Err("redis-server did not start listening".into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(server)
}

struct Shop {
    cache: Traced<redis::aio::MultiplexedConnection>,
    database: TracedPool<sqlx::Sqlite>,
}

/// The request: the product's name from the cache, else from the database, then cached.
#[sw_entry(name = format!("GET:/products/{id}"), layer = Http)]
async fn product(shop: &mut Shop, id: i64) -> Result<String, BoxError> {
    let key = format!("product:{id}");
    let cached: Option<String> = redis::cmd("GET")
        .arg(&key)
        .query_async(&mut shop.cache)
        .await?;
    if let Some(name) = cached {
        return Ok(name);
    }
    let row = shop
        .database
        .fetch_one(sqlx::query("SELECT name FROM products WHERE id = ?").bind(id))
        .await?;
    let name: String = sqlx::Row::try_get(&row, "name")?;
    let () = redis::cmd("SET")
        .arg(&key)
        .arg(&name)
        .query_async(&mut shop.cache)
        .await?;
    Ok(name)
}

fn run() -> Result<(), BoxError> {
    let redis_server = start_redis()?;
    let collector = Collector::start()?;
    let config = Config::builder()
        .service_name("shop")
        .instance_name("shop-1")
        .backends([collector.backend()])
        .build_with_env(|_| None)?;
    let tracer = Tracer::new(config.clone(), GrpcReporter::start(&config)?);
    let directory = std::env::temp_dir().join(format!("rust2sky-shop-{}", std::process::id()));
    std::fs::create_dir_all(&directory)?;

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let served = runtime.block_on(async {
        let client = redis::Client::open(format!("redis://{}/", redis_server.address))?;
        let cache = Traced::for_client(client.get_multiplexed_async_connection().await?, &client);
        let options = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(directory.join("shop.db"))
            .create_if_missing(true);
        let pool = sqlx::SqlitePool::connect_with(options).await?;
        sqlx::query("CREATE TABLE products (id INTEGER PRIMARY KEY, name TEXT NOT NULL)")
            .execute(&pool)
            .await?;
        sqlx::query("INSERT INTO products (id, name) VALUES (7, 'teapot')")
            .execute(&pool)
            .await?;
        let mut shop = Shop {
            cache,
            database: TracedPool::new(pool),
        };
        // The first lookup misses the cache, the second hits it.
        for _ in 0..2 {
            let name = product(&mut shop, 7).with_tracer(&tracer).await?;
            println!("GET /products/7 -> {name}");
        }
        Ok::<_, BoxError>(())
    });
    let _ = std::fs::remove_dir_all(&directory);
    served?;

    let flushed = tracer.flush(DEADLINE);
    let segments = collector.wait_for_segments(2, DEADLINE);
    println!(
        "\nthe collector received {} segments{}:\n",
        segments.len(),
        if flushed { "" } else { " (a flush timed out)" }
    );
    print!("{}", Waterfall::new(segments.iter().cloned()));
    if segments.len() < 2 {
        return Err(format!("expected 2 segments, got {}", segments.len()).into());
    }
    Ok(())
}

//! Freshness check for `src/generated/`.
//!
//! [`generate`] is the only place that turns `skywalking/v3/*.proto` into Rust. The test
//! regenerates into a temporary directory and compares the result byte for byte with the
//! committed files. With `RUST2SKY_BLESS=1` it rewrites the committed files instead.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

/// The command that refreshes `src/generated/` after a `.proto` or generator change.
const BLESS_COMMAND: &str = "RUST2SKY_BLESS=1 cargo test -p rust2sky-proto --test proto codegen";

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every `.proto` file under `skywalking/v3/`, as include-relative paths, sorted.
fn proto_files() -> Vec<String> {
    let dir = manifest_dir().join("skywalking").join("v3");
    let mut files: Vec<String> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| {
            entry
                .expect("directory entry")
                .file_name()
                .into_string()
                .expect("UTF-8 file name")
        })
        .filter(|name| name.ends_with(".proto"))
        .map(|name| format!("skywalking/v3/{name}"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no .proto files in {}", dir.display());
    files
}

/// Generates the Rust code for all `.proto` files into `out_dir`.
///
/// Both client and server stubs are generated; each stub module is gated behind the crate's
/// `client` / `server` cargo feature. No transport helpers (`connect`) are emitted, so the
/// crate does not need tonic's `transport` feature.
fn generate(out_dir: &Path) {
    let root = manifest_dir();
    let files: Vec<PathBuf> = proto_files().iter().map(|f| root.join(f)).collect();
    let fds = protox::compile(&files, [&root]).unwrap_or_else(|e| panic!("protox failed: {e:?}"));
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        .build_transport(false)
        .client_mod_attribute(".", r#"#[cfg(feature = "client")]"#)
        .server_mod_attribute(".", r#"#[cfg(feature = "server")]"#)
        .out_dir(out_dir)
        .compile_fds(fds)
        .unwrap_or_else(|e| panic!("code generation failed: {e}"));
}

/// Reads every regular file in `dir` into a name → contents map.
fn read_dir_files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.is_file())
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let bytes =
                fs::read(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
            (name, bytes)
        })
        .collect()
}

#[test]
fn generated_code_is_fresh() {
    let tmp = tempfile::tempdir().expect("temporary directory");
    generate(tmp.path());
    let fresh = read_dir_files(tmp.path());
    assert!(!fresh.is_empty(), "the generator wrote no files");

    let committed_dir = manifest_dir().join("src").join("generated");
    let bless = std::env::var_os("RUST2SKY_BLESS").is_some_and(|v| !v.is_empty() && v != "0");
    if bless {
        fs::create_dir_all(&committed_dir).expect("creating src/generated");
        for name in read_dir_files(&committed_dir).keys() {
            if !fresh.contains_key(name) {
                fs::remove_file(committed_dir.join(name)).expect("removing a stale generated file");
            }
        }
        for (name, bytes) in &fresh {
            fs::write(committed_dir.join(name), bytes).expect("writing a generated file");
        }
        return;
    }

    let committed = read_dir_files(&committed_dir);
    let mut problems = Vec::new();
    for (name, bytes) in &fresh {
        match committed.get(name) {
            None => problems.push(format!("missing: src/generated/{name}")),
            Some(old) if old != bytes => {
                let line = first_differing_line(old, bytes);
                problems.push(format!(
                    "out of date: src/generated/{name} (first difference at line {line})"
                ));
            }
            Some(_) => {}
        }
    }
    for name in committed.keys() {
        if !fresh.contains_key(name) {
            problems.push(format!("stale (no longer generated): src/generated/{name}"));
        }
    }
    assert!(
        problems.is_empty(),
        "the committed generated code does not match the .proto files:\n  {}\nRefresh it with:\n  {BLESS_COMMAND}\n",
        problems.join("\n  ")
    );
}

/// 1-based number of the first line where `a` and `b` differ.
fn first_differing_line(a: &[u8], b: &[u8]) -> usize {
    let common = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    1 + a[..common].iter().filter(|&&c| c == b'\n').count()
}

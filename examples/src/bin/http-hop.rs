//! One hop of an HTTP call chain, configured only by the environment: run several, each pointing
//! at the next, to see one trace cross processes.
//!
//! - `SW_AGENT_*`: the agent (service name, collector address, ...), as in the README's table;
//! - `LISTEN`: where to serve, `host:port` (default `127.0.0.1:8080`; port 0 picks a free port);
//! - `DOWNSTREAM_URL`: what `GET /hop` calls, an `http://` URL (the examples build reqwest
//!   without TLS); unset, `/hop` answers 503.
//!
//! `GET /hop` calls `DOWNSTREAM_URL` with the trace in its `sw8` header and answers with the
//! downstream body; `GET /leaf` answers `ok`. On start it prints `http-hop listening on ADDR`;
//! on SIGTERM or Ctrl-C it stops serving and flushes what the agent still holds.
//!
//! ```text
//! cargo run -p rust2sky-examples --bin dev-collector &
//! SW_AGENT_NAME=leaf LISTEN=127.0.0.1:8082 cargo run -p rust2sky-examples --bin http-hop &
//! SW_AGENT_NAME=edge LISTEN=127.0.0.1:8081 DOWNSTREAM_URL=http://127.0.0.1:8082/leaf \
//!     cargo run -p rust2sky-examples --bin http-hop &
//! curl http://127.0.0.1:8081/hop
//! ```

use std::process::ExitCode;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use rust2sky::config::Config;
use rust2sky::integrations::reqwest::RequestBuilderExt as _;
use rust2sky::integrations::tower::EntryLayer;
use rust2sky::reporter::GrpcReporter;

const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

#[derive(Clone)]
struct Downstream {
    client: reqwest::Client,
    url: Option<reqwest::Url>,
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("http-hop: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let config = Config::from_env()?;
    let listen = std::env::var("LISTEN").unwrap_or_else(|_| DEFAULT_LISTEN.to_owned());
    let url = match std::env::var("DOWNSTREAM_URL") {
        Ok(url) if !url.trim().is_empty() => Some(
            reqwest::Url::parse(url.trim())
                .map_err(|error| format!("DOWNSTREAM_URL={url:?} is not a URL: {error}"))?,
        ),
        _ => None,
    };
    // Flushes the agent when dropped, at the end of `run`: after the server has stopped.
    let _agent = rust2sky::init(config.clone(), GrpcReporter::start(&config)?)?;

    let app = Router::new()
        .route("/hop", get(hop))
        .route("/leaf", get(|| async { "ok" }))
        .with_state(Downstream {
            client: reqwest::Client::new(),
            url,
        })
        .layer(EntryLayer::new());
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .map_err(|error| format!("cannot listen on LISTEN={listen:?}: {error}"))?;
    println!("http-hop listening on {}", listener.local_addr()?);
    axum::serve(listener, app)
        .with_graceful_shutdown(stop_signal())
        .await?;
    println!("http-hop stopping: flushing the agent");
    Ok(())
}

/// `GET /hop`: the downstream's answer, status and body.
async fn hop(State(downstream): State<Downstream>) -> (StatusCode, String) {
    let Some(url) = downstream.url else {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            "DOWNSTREAM_URL is not set".to_owned(),
        );
    };
    // An exit span to the downstream's host:port, with the trace in its sw8 header.
    let response = match downstream.client.get(url).send_traced().await {
        Ok(response) => response,
        Err(error) => return (StatusCode::BAD_GATEWAY, format!("downstream: {error}")),
    };
    let status = response.status();
    match response.text().await {
        Ok(body) => (status, body),
        Err(error) => (StatusCode::BAD_GATEWAY, format!("downstream body: {error}")),
    }
}

/// Resolves on SIGTERM (how orchestrators stop a process) or Ctrl-C.
async fn stop_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            // No Ctrl-C to watch for: only SIGTERM stops the server.
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                terminate.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {}
        () = terminate => {}
    }
}

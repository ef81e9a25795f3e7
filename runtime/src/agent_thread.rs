//! The agent's own threads (the reporter's, the test collector's) and the runtime they run.
//!
//! They are marked so that the log bridges can leave out what is logged on them: those threads
//! run tonic, hyper, h2 and rustls, whose records about sending logs would otherwise be sent as
//! logs, which would make more records, without end.

use std::cell::Cell;

thread_local! {
    static AGENT_THREAD: Cell<bool> = const { Cell::new(false) };
}

/// Marks this thread as one of the agent's own.
pub(crate) fn mark() {
    let _ = AGENT_THREAD.try_with(|agent| agent.set(true));
}

/// Whether this thread is one of the agent's own; a thread being torn down counts as one, since
/// nothing it logs then can be sent anyway.
#[cfg_attr(
    not(any(feature = "log", feature = "tracing-log", feature = "tracing")),
    expect(dead_code, reason = "only the log and span bridges ask")
)]
pub(crate) fn is_current() -> bool {
    AGENT_THREAD.try_with(Cell::get).unwrap_or(true)
}

/// A single-threaded runtime for the agent's own work, whose threads are all marked as the
/// agent's: the one it runs on, and those of its blocking pool too (where the reporter's DNS
/// lookups run), which marking only the caller's thread would miss.
fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .on_thread_start(mark)
        .build()
}

/// Starts a marked thread named `name` that builds the agent's runtime and runs `work` on it;
/// returns once the runtime is built, or with the error that kept it from being built.
pub(crate) fn spawn<F>(name: &str, work: F) -> std::io::Result<std::thread::JoinHandle<()>>
where
    F: FnOnce(tokio::runtime::Runtime) + Send + 'static,
{
    let (ready_tx, ready_rx) = std::sync::mpsc::sync_channel(1);
    let thread = std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || {
            mark();
            match runtime() {
                Ok(runtime) => {
                    let _ = ready_tx.send(Ok(()));
                    work(runtime);
                }
                Err(err) => {
                    let _ = ready_tx.send(Err(err));
                }
            }
        })?;
    ready_rx
        .recv()
        .unwrap_or_else(|_| Err(std::io::Error::other("the agent's thread ended at start")))?;
    Ok(thread)
}

/// As [`spawn`], and runs `on_exit` however `work` ends, returning or panicking: a transport
/// marks itself stopped there, so that what is queued counts as failed and `flush` does not wait
/// for a thread that is gone. A panic is logged.
pub(crate) fn spawn_with_exit<F, E>(name: &str, work: F, on_exit: E) -> std::io::Result<()>
where
    F: FnOnce(tokio::runtime::Runtime) + Send + 'static,
    E: FnOnce() + Send + 'static,
{
    struct OnExit<E: FnOnce()>(Option<E>);

    impl<E: FnOnce()> Drop for OnExit<E> {
        fn drop(&mut self) {
            if std::thread::panicking() {
                let thread = std::thread::current();
                log::error!(
                    target: "rust2sky",
                    "the agent's thread {} failed: nothing more is sent, and what is queued or \
                     reported from now on counts as failed",
                    thread.name().unwrap_or("rust2sky")
                );
            }
            if let Some(on_exit) = self.0.take() {
                on_exit();
            }
        }
    }

    spawn(name, move |runtime| {
        let _exit = OnExit(Some(on_exit));
        work(runtime);
    })?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_marked_thread_is_the_agents() {
        let marked = std::thread::spawn(|| {
            mark();
            is_current()
        });
        assert!(marked.join().unwrap());
        assert!(!is_current(), "only that thread is marked");
    }

    #[test]
    fn the_blocking_pool_of_the_agents_runtime_is_the_agents_too() {
        let runtime = runtime().unwrap();
        let in_pool = runtime.block_on(runtime.spawn_blocking(is_current));
        assert!(in_pool.unwrap());
        assert!(!is_current(), "the caller's thread is not marked");
    }

    #[test]
    fn a_spawned_thread_runs_its_work_on_a_marked_runtime() {
        let (tx, rx) = std::sync::mpsc::channel();
        spawn("rust2sky-test", move |runtime| {
            let _ = tx.send(runtime.block_on(async { is_current() }));
        })
        .unwrap();
        assert!(rx.recv().unwrap());
    }
}

//! Running an example binary as a child process, and reading what it prints, with deadlines.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

/// How long anything a test waits for may take.
pub(crate) const DEADLINE: Duration = Duration::from_secs(20);

/// A running example; killed when dropped, so that a failed test leaves nothing behind.
pub(crate) struct Running {
    name: String,
    child: Child,
    lines: Receiver<String>,
}

impl Running {
    /// Starts `command` with its stdout piped to [`Running::line_containing`].
    pub(crate) fn start(name: &str, mut command: Command) -> Running {
        let mut child = command
            .stdout(Stdio::piped())
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start {name}: {error}"));
        let stdout = child.stdout.take().expect("stdout is piped");
        let (sender, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        Running {
            name: name.to_owned(),
            child,
            lines,
        }
    }

    /// The next line printed that contains `needle` (earlier lines are passed over), waiting at
    /// most [`DEADLINE`]; panics with what was printed meanwhile if none comes.
    pub(crate) fn line_containing(&self, needle: &str) -> String {
        let deadline = Instant::now() + DEADLINE;
        let mut passed = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) if line.contains(needle) => return line,
                Ok(line) => passed.push(line),
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => panic!(
                    "{} printed no line containing {needle:?}; it printed:\n{}",
                    self.name,
                    passed.join("\n")
                ),
            }
        }
    }

    /// The lines printed from now until one contains `needle`, that one included.
    pub(crate) fn lines_until(&self, needle: &str) -> Vec<String> {
        let deadline = Instant::now() + DEADLINE;
        let mut lines = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let done = line.contains(needle);
                    lines.push(line);
                    if done {
                        return lines;
                    }
                }
                Err(_) => panic!(
                    "{} printed no line containing {needle:?}; it printed:\n{}",
                    self.name,
                    lines.join("\n")
                ),
            }
        }
    }

    /// The address in the line the example prints once it listens (`... listening on ADDR`).
    pub(crate) fn listening_address(&self) -> String {
        let line = self.line_containing("listening on ");
        let (_, address) = line.split_once("listening on ").expect("the line has it");
        address.trim().to_owned()
    }

    /// Sends `signal` (`TERM`, `INT`) and waits for the process to exit.
    pub(crate) fn signal_and_wait(&mut self, signal: &str) -> ExitStatus {
        let sent = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill runs");
        assert!(sent.success(), "kill -{signal} {} failed", self.name);
        let deadline = Instant::now() + DEADLINE;
        loop {
            if let Some(status) = self.child.try_wait().expect("the child can be waited on") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "{} did not exit within {DEADLINE:?} of SIG{signal}",
                self.name
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

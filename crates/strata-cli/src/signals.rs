//! SIGTERM and SIGINT for the long-running commands (`server`, `cluster up`): taken over
//! once, at the start, so a signal that comes while they are still starting is handled
//! like any other instead of killing the process.

use anyhow::Context;
use tokio::signal::unix::{signal, Signal, SignalKind};

/// SIGTERM and SIGINT, registered for the whole life of the command.
pub struct Signals {
    term: Signal,
    int: Signal,
}

impl Signals {
    /// Registers both handlers (needs a running Tokio runtime).
    pub fn new() -> anyhow::Result<Self> {
        Ok(Signals {
            term: signal(SignalKind::terminate()).context("cannot handle SIGTERM")?,
            int: signal(SignalKind::interrupt()).context("cannot handle SIGINT")?,
        })
    }

    /// Waits for the next signal and names it.
    pub async fn recv(&mut self) -> &'static str {
        tokio::select! {
            _ = self.term.recv() => "SIGTERM",
            _ = self.int.recv() => "SIGINT",
        }
    }
}

//! The async runtime and the Ctrl-C watch of one command.

use anyhow::{Context, Result};

/// The async runtime and the Ctrl-C watch shared by the runs of one command,
/// so one Ctrl-C stops a whole suite and HTTP connections are reused.
pub(crate) struct Session {
    pub(crate) runtime: tokio::runtime::Runtime,
    pub(crate) cancel: tokio::sync::watch::Receiver<bool>,
}

impl Session {
    pub(crate) fn new() -> Result<Session> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")?;
        let (cancel_tx, cancel) = tokio::sync::watch::channel(false);
        runtime.spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("\nstopping: writing the log footer (Ctrl-C again quits at once; finished samples are kept either way)");
                let _ = cancel_tx.send(true);
                if tokio::signal::ctrl_c().await.is_ok() {
                    std::process::exit(130);
                }
            }
        });
        Ok(Session { runtime, cancel })
    }

    pub(crate) fn cancelled(&self) -> bool {
        *self.cancel.borrow()
    }

    /// Sample tasks still waiting on the network are abandoned, not awaited.
    pub(crate) fn close(self) {
        self.runtime.shutdown_background();
    }
}

//! `serve`: the console, the HTTP endpoints and the background work (the
//! scheduler unless told not to; see `app::background`), until SIGTERM or
//! Ctrl-C.

use std::io::Write;

use super::{CliError, runtime};
use crate::app;
use crate::config::Settings;

pub(super) fn run(settings: Settings, with_scheduler: bool) -> Result<(), CliError> {
    runtime()?.block_on(async move {
        let node = tokio::task::spawn_blocking(move || app::open(settings))
            .await
            .map_err(|e| CliError::Failed(e.to_string()))??;
        let _serving = app::lock_data_dir(&node.settings)?;
        let running = app::start(node)?;
        let background = app::Background::start(running.engine.clone(), with_scheduler)
            .await
            .map_err(|e| CliError::Failed(e.to_string()))?;
        // One parseable line when ready; tools and tests wait for it. A
        // reader that has gone away (`serve | head -1`) must not stop the
        // server: println! would panic on the closed pipe.
        let mut out = std::io::stdout();
        let _ = writeln!(out, "edensync listening on {}", running.listen_url);
        if let Some(url) = &running.setup_url {
            let _ = writeln!(
                out,
                "edensync setup: create the first administrator at {url}"
            );
        }
        let _ = out.flush();
        // The server returns on SIGTERM or Ctrl-C; then runs in progress
        // finish their current page and release their leases.
        let served = running
            .server
            .await
            .map_err(|e| CliError::Failed(format!("server stopped: {e}")));
        background.stop().await;
        served
    })
}

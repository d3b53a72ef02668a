//! `vigie view`: the web viewer of `vigie-view` over the logs under the
//! given paths, on loopback unless told otherwise (and then only with a
//! token), until Ctrl-C.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};

use crate::{Outcome, UsageError};

/// Arguments of `vigie view`.
#[derive(clap::Args)]
pub(crate) struct ViewArgs {
    /// Logs (`.vlog` files) and folders of logs, searched with their sub-folders
    #[arg(default_value = "logs")]
    paths: Vec<PathBuf>,
    /// Address to listen on; anything but loopback needs --token
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port to listen on (0 picks a free one; the address is printed either way)
    #[arg(long, default_value_t = 7575)]
    port: u16,
    /// A secret every request must carry (given once as ?token=, then kept in a cookie)
    #[arg(long, env = "VIGIE_VIEW_TOKEN")]
    token: Option<String>,
    /// The safety framework of the assessment page (default: vigie's built-in one)
    #[arg(long)]
    framework: Option<PathBuf>,
}

pub(crate) fn run(args: ViewArgs) -> Result<Outcome> {
    let loopback = match args.host.parse::<IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => args.host == "localhost",
    };
    if !loopback && args.token.is_none() {
        return Err(UsageError(format!(
            "--host {}: serving logs beyond this machine needs --token SECRET (every request must then carry it)",
            args.host
        ))
        .into());
    }
    let catalog = vigie_view::Catalog::new(&args.paths).map_err(|e| UsageError(e.to_string()))?;
    let framework = match &args.framework {
        Some(path) => vigie_assess::Framework::load(path).map_err(|e| UsageError(e.to_string()))?,
        None => vigie_assess::Framework::builtin(),
    };
    let viewer = Arc::new(vigie_view::Viewer::new(
        catalog,
        args.token.clone(),
        framework,
    ));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind((args.host.as_str(), args.port))
            .await
            .map_err(|e| {
                UsageError(format!("cannot listen on {}:{}: {e}", args.host, args.port))
            })?;
        let address = listener.local_addr()?;
        let token = args
            .token
            .as_ref()
            .map_or(String::new(), |t| format!("?token={t}"));
        viewer.warm();
        println!("http://{address}/{token}");
        eprintln!(
            "vigie: viewing the logs under {} (read-only; Ctrl-C stops)",
            args.paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        vigie_view::serve(listener, viewer, shutdown)
            .await
            .context("the viewer stopped")?;
        Ok(Outcome::Success)
    })
}

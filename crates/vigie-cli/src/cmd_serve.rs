//! `vigie serve`: a `local/` model behind the OpenAI-compatible HTTP API of
//! `vigie-serve`, so that other tools can use the embedded model. Every
//! request goes to the model's batching worker, so concurrent requests are
//! decoded together.

use std::sync::Arc;

use anyhow::{Context, Result};

use crate::{Outcome, UsageError};

/// Arguments of `vigie serve`.
#[derive(clap::Args)]
pub(crate) struct ServeArgs {
    /// The model to serve: `local/NAME` or `local/PATH.gguf`
    #[arg(long, default_value = "local/smollm2")]
    model: String,
    /// Address to listen on
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port to listen on (0 picks a free one; the address is printed either way)
    #[arg(long, default_value_t = 8080)]
    port: u16,
}

pub(crate) fn run(args: ServeArgs) -> Result<Outcome> {
    let spec = args.model.strip_prefix("local/").ok_or_else(|| {
        UsageError(format!(
            "--model {}: `vigie serve` serves local models (`local/NAME` or `local/PATH.gguf`)",
            args.model
        ))
    })?;
    let path =
        vigie_local::resolve(&crate::env::home(), spec).map_err(|e| UsageError(e.to_string()))?;
    let model =
        vigie_local::LocalModel::load(&args.model, &path).map_err(|e| UsageError(e.to_string()))?;
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
        eprintln!(
            "vigie: serving {} at http://{address}/v1 (Ctrl-C stops)",
            args.model
        );
        let shutdown = async {
            let _ = tokio::signal::ctrl_c().await;
        };
        vigie_serve::serve(listener, Arc::new(model), args.model.clone(), shutdown)
            .await
            .context("the server stopped")?;
        Ok(Outcome::Success)
    })
}

//! `feth-loader exporter`: an HTTP endpoint Prometheus scrapes. Each scrape reads the pinned
//! maps under the shared lock, just for that read, so changing commands run while it serves.
use std::net::SocketAddr;

use anyhow::Context as _;
use axum::{
    Router,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
    routing::get,
};
use feth_control::{kernel::context::Context, kernel::privilege, observe::counters, observe::prometheus, read_state};

#[derive(clap::Args)]
pub struct Args {
    /// Address and port to serve /metrics on.
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:9469")]
    listen: SocketAddr,
}

pub fn run(args: Args, ctx: &Context) -> anyhow::Result<()> {
    // Refused at start, not at the first scrape.
    privilege::require(&privilege::READ)?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_io().build().context("start the runtime")?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .with_context(|| format!("cannot listen on {}", args.listen))?;
        eprintln!("feth-loader: serving metrics on http://{}/metrics", listener.local_addr()?);
        let ctx = ctx.clone();
        let app = Router::new().route("/metrics", get(move || metrics(ctx.clone()))).route("/", get(index));
        axum::serve(listener, app).await.context("serve metrics")
    })
}

async fn index() -> &'static str {
    "feth-loader exporter: metrics are at /metrics\n"
}

async fn metrics(ctx: Context) -> Response {
    // The read enters namespaces on threads of its own: off the runtime's thread.
    let read = tokio::task::spawn_blocking(move || read_state(&ctx, |state| counters::snapshot(state, None))).await;
    match read {
        Ok(Ok(ports)) => {
            ([(header::CONTENT_TYPE, prometheus::CONTENT_TYPE)], prometheus::render(&ports)).into_response()
        }
        Ok(Err(e)) => (StatusCode::SERVICE_UNAVAILABLE, format!("feth-loader: {e}\n")).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("feth-loader: {e}\n")).into_response(),
    }
}

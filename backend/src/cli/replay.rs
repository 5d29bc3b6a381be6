//! `muxscope replay FILE`: serves the page over a recording (see `gateway::replay`).

use bytes::Bytes;
use muxscope::gateway::{self, guard::Allow, replay::Replay};
use muxscope_shared::record;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

/// The largest recording replay holds in memory (a busy hour packs to a few hundred MiB).
pub const MAX_REPLAY_BYTES: u64 = 2 << 30;

pub fn run(file: &Path, web_addr: SocketAddr, allow_hosts: &[String], allow_origins: &[String], max_watchers: usize) -> anyhow::Result<()> {
    let raw = std::fs::read(file).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
    if raw.len() as u64 > MAX_REPLAY_BYTES {
        anyhow::bail!("{} is {} bytes, more than the {MAX_REPLAY_BYTES} a replay holds in memory", file.display(), raw.len());
    }
    let rec = record::read(&raw).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    if rec.truncated {
        eprintln!("muxscope: {} ends inside a chunk (the recorder was killed): replaying what came before", file.display());
    }
    println!(
        "muxscope: replaying {} ({} events, recorded by {} from the {} model)",
        file.display(),
        rec.event_count(),
        rec.header.writer,
        rec.header.model.map_or("unknown", |m| m.name())
    );
    let replay = Arc::new(Replay { name: file.display().to_string(), raw: Bytes::from(raw), rec });
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).thread_name("replay").enable_all().build()?;
    rt.block_on(async move {
        let listener =
            tokio::net::TcpListener::bind(web_addr).await.map_err(|e| anyhow::anyhow!("cannot bind web address {web_addr}: {e}"))?;
        let web_addr = listener.local_addr()?;
        let allow = Allow::new(web_addr, allow_hosts, allow_origins);
        let limit = muxscope::sys::raise_nofile_limit().unwrap_or(1024);
        let web = gateway::WebBudget::new(gateway::web_share(limit));
        let app = gateway::replay::router(replay, allow, max_watchers);
        println!("muxscope: web on http://{web_addr}/");
        tokio::select! {
            r = gateway::serve(listener, app, web) => r.map_err(anyhow::Error::from),
            _ = tokio::signal::ctrl_c() => Ok(()),
        }
    })
}

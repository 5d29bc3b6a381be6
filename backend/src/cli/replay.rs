//! `muxscope replay FILE`: serves the page over a recording (see `gateway::replay`).

use bytes::Bytes;
use muxscope::gateway::{self, guard::Allow, replay::Replay};
use muxscope_shared::record;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

/// The largest recording replay holds in memory, as its packed bytes (a busy hour packs to a few
/// hundred MiB); each watcher decodes it as it plays.
pub const MAX_REPLAY_BYTES: u64 = 2 << 30;

pub fn run(file: &Path, web_addr: SocketAddr, allow_hosts: &[String], allow_origins: &[String], max_watchers: usize) -> anyhow::Result<()> {
    let len = std::fs::metadata(file).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?.len();
    if len > MAX_REPLAY_BYTES {
        anyhow::bail!("{} is {len} bytes, more than the {MAX_REPLAY_BYTES} a replay holds in memory", file.display());
    }
    let raw = Bytes::from(std::fs::read(file).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?);
    // Read through once, a chunk at a time: a corrupt file is refused here, and what it holds
    // is counted, without keeping its events decoded.
    let mut reader = record::Reader::new(&raw[..]).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    let mut events = 0usize;
    for item in reader.by_ref() {
        if let muxscope_shared::ServerMsg::Events { events: e } = item.map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))? {
            events += e.len();
        }
    }
    let (header, truncated) = (reader.header().clone(), reader.truncated());
    if truncated {
        eprintln!("muxscope: {} ends inside a chunk (the recorder was killed): replaying what came before", file.display());
    }
    println!(
        "muxscope: replaying {} ({events} events, recorded by {} from the {} model)",
        file.display(),
        header.writer,
        header.model.map_or("unknown", |m| m.name())
    );
    let replay = Arc::new(Replay { name: file.display().to_string(), raw, header, events, truncated });
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

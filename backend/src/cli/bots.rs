//! `muxscope bots --target ADDR --clients N --rate R [--seconds S]`: a room of bots from a
//! terminal, for any chat server that speaks the protocol (muxscope, the seed). The same engine
//! as the page's bots panel (`gateway::bots`), with the same bounds, on a runtime of its own.

use muxscope::gateway::bots::Bots;
use std::net::SocketAddr;
use std::time::Duration;

pub fn run(target: SocketAddr, clients: usize, rate: f64, seconds: Option<f64>) -> anyhow::Result<()> {
    let run_for = match seconds {
        Some(s) => Some(Duration::try_from_secs_f64(s).map_err(|_| anyhow::anyhow!("--seconds must be a non-negative number, got {s}"))?),
        None => None,
    };
    // Each bot is one fd here.
    let _ = muxscope::sys::raise_nofile_limit();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).thread_name("bots").enable_all().build()?;
    rt.block_on(async move {
        let bots = Bots::new(target);
        let s = bots.add(clients, Some(rate)).await.map_err(|r| anyhow::anyhow!("{}", r.message()))?;
        // Tests and scripts read this line to know the bots are in.
        println!("muxscope: {} bots connected to {target}, {} lines a second each", s.bots, s.rate);
        let stop = async {
            match run_for {
                Some(d) => tokio::time::sleep(d).await,
                None => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        };
        let mut report = tokio::time::interval(Duration::from_secs(5));
        report.tick().await;
        tokio::pin!(stop);
        loop {
            tokio::select! {
                _ = &mut stop => break,
                _ = report.tick() => {
                    let s = bots.status().await;
                    println!("muxscope: {} bots, {} lines said", s.bots, s.said);
                    if s.bots == 0 {
                        anyhow::bail!("the server at {target} closed every bot");
                    }
                }
            }
        }
        let said = bots.status().await.said;
        bots.remove_all().await;
        println!("muxscope: bots said {said} lines; closed");
        Ok(())
    })
}

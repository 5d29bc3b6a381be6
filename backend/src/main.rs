mod cli;

use clap::{Parser, Subcommand};
use cli::bench::{run_bench, BenchCmd};
use muxscope::chat::{self, Config};
use muxscope::gateway::{self, guard::Allow, hub::Hub, AppState};
use muxscope::recording;
use muxscope::telemetry::{self, Batch, Telemetry};
use muxscope_shared::{App, Model};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

/// muxscope: watch IO multiplexing work. A chat server on a hand-written epoll/poll/select loop,
/// streamed live to a web page. Join the chat with `nc 127.0.0.1 3999`.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Cli {
    /// Where the chat server listens (TCP, one line per message).
    #[arg(long, default_value = "127.0.0.1:3999")]
    chat_addr: SocketAddr,
    /// Where the web page and its WebSockets are served.
    #[arg(long, default_value = "127.0.0.1:8080")]
    web_addr: SocketAddr,
    /// The IO model: blocking, nonblocking, select, poll, epoll, epoll-et, sigio or io_uring
    /// (the page can switch it live).
    #[arg(long, value_name = "MODEL", value_parser = parse_model, conflicts_with = "poller")]
    model: Option<Model>,
    /// Which system call the loop waits in: epoll, epoll-et, poll or select (the same as --model).
    #[arg(long, value_name = "POLLER", value_parser = parse_poller)]
    poller: Option<Model>,
    /// What a line does: `chat` sends it to everyone, `echo` back to its sender only.
    #[arg(long, value_name = "APP", value_parser = parse_app, default_value = "chat")]
    app: App,
    /// Blocking model: most threads at once (an acceptor, a reader per client, a writer per
    /// client that owes output); a client past it gets an error line and EOF.
    #[arg(long, value_name = "N", default_value_t = 2000)]
    max_threads: usize,
    /// Non-blocking model: try every socket again at once after a sweep that found nothing,
    /// instead of napping 1 ms (shows what busy polling costs).
    #[arg(long)]
    spin: bool,
    /// Run the chat core alone, without the web gateway.
    #[arg(long)]
    no_web: bool,
    /// Most clients at once; client N+1 gets an error line and EOF.
    #[arg(long, default_value_t = 100_000)]
    max_clients: usize,
    /// Clients one address may hold; the one over it gets an error line and EOF. Default: off
    /// when the chat port is on loopback, 64 otherwise; 0 turns it off.
    #[arg(long, value_name = "N")]
    max_clients_per_ip: Option<usize>,
    /// Most `/ws/events` watchers at once; the one over it is closed with code 1013 and a reason.
    #[arg(long, value_name = "N", default_value_t = muxscope::gateway::DEFAULT_MAX_WATCHERS)]
    max_watchers: usize,
    /// Most web connections at once (pages, watchers, chat bridges, requests in flight).
    /// Default: a fifth of the open-file limit, so the chat port keeps at least 80 % of it.
    #[arg(long, value_name = "N")]
    max_web_connections: Option<usize>,
    /// Longest line in bytes; a longer one gets an error line and the connection closes.
    #[arg(long, default_value_t = 4096)]
    max_line: usize,
    /// Seconds a started line may stay unfinished before the client is closed.
    #[arg(long, default_value_t = 30.0)]
    line_timeout: f64,
    /// Bytes owed to one client past which it is disconnected at once.
    #[arg(long, default_value_t = 8 << 20)]
    out_hard_limit: usize,
    /// Bytes owed to one client past which it is disconnected if it stays there --out-soft-seconds.
    #[arg(long, default_value_t = 2 << 20)]
    out_soft_limit: usize,
    #[arg(long, default_value_t = 10.0)]
    out_soft_seconds: f64,
    /// Also accept this Host header (repeatable), e.g. when reached through a name or a proxy.
    #[arg(long = "allow-host", value_name = "HOST:PORT")]
    allow_hosts: Vec<String>,
    /// Also accept WebSocket upgrades from this Origin (repeatable), e.g. https://demo.lan.
    #[arg(long = "allow-origin", value_name = "ORIGIN")]
    allow_origins: Vec<String>,
    /// Frames a watching browser may fall behind before it gets a gap and a fresh snapshot.
    #[arg(long, hide = true, default_value_t = muxscope::gateway::hub::SUBSCRIBER_BACKLOG)]
    ws_backlog_frames: usize,
    /// Record every event the loop emits, unfolded, to FILE (read it with `muxscope replay FILE`
    /// or `muxscope export FILE`, or open it in the page). The loop never waits on the disk: what
    /// the recorder cannot keep is counted and written as a gap.
    #[arg(long, value_name = "FILE")]
    record: Option<std::path::PathBuf>,
    /// Share the chat room with every muxscope node on this Redis (pub/sub): one more fd in the
    /// loop, with role `relay`. Multiplexing models only (select, poll, epoll, epoll-et).
    #[arg(long, value_name = "redis://HOST:PORT")]
    cluster: Option<String>,
    /// This node's name in the cluster (default: hostname:chat-port).
    #[arg(long, value_name = "NAME", requires = "cluster", value_parser = parse_node)]
    node: Option<String>,
    /// Tests only: milliseconds between the node's presence heartbeats (nodes unheard for three
    /// are dropped), so a traced loop can be quiet.
    #[arg(long, hide = true, value_name = "MS", default_value_t = 1000)]
    cluster_heartbeat_ms: u64,
    /// Conformance testing only: serve /ws/echo with the gateway's WebSocket limits.
    #[arg(long, hide = true)]
    ws_echo: bool,
    /// Benchmarks only: consume the event stream in a thread, as a watching browser would.
    #[arg(long, hide = true)]
    drain_events: bool,
    #[command(subcommand)]
    cmd: Option<Cmd>,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Load generators: measure a chat server (muxscope, the seed, Redis) or the kernel floor.
    Bench {
        #[command(subcommand)]
        what: BenchCmd,
    },
    /// Write a recording (`--record FILE`) as Chrome Trace Event JSON, which Perfetto
    /// (ui.perfetto.dev) and chrome://tracing open: a track per fd, waits as slices, a flow from
    /// each broadcast to each recipient's send.
    Export {
        file: std::path::PathBuf,
        /// Where the trace goes.
        #[arg(short = 'o', long = "output", value_name = "OUT.json")]
        output: std::path::PathBuf,
        /// Flows (broadcast to send) drawn in all; past it, and past 64 per broadcast, the rest
        /// are counted (`flows_omitted`). 0 draws every one.
        #[arg(long, value_name = "N", default_value_t = muxscope_shared::trace::DEFAULT_MAX_FLOWS)]
        max_flows: u64,
    },
    /// Bots for a chat server: N real clients that say a line every 1/R seconds (jittered) and
    /// read everything they get, until --seconds have passed or Ctrl-C (the page's bots panel,
    /// from a terminal; at most 5,000 bots, 20 lines/s each, 5,000 lines/s in all).
    Bots {
        /// The chat server's address.
        #[arg(long, default_value = "127.0.0.1:3999")]
        target: SocketAddr,
        /// How many bots.
        #[arg(long, value_name = "N")]
        clients: usize,
        /// Lines a second each bot says (0: connected and silent).
        #[arg(long, value_name = "R", default_value_t = muxscope::gateway::bots::DEFAULT_RATE)]
        rate: f64,
        /// Stop after this many seconds (default: at Ctrl-C).
        #[arg(long, value_name = "S")]
        seconds: Option<f64>,
    },
    /// Serve the page over a recording (`--record FILE`): play it, pause, step back and forth,
    /// seek, export. Nothing can be sent.
    Replay {
        file: std::path::PathBuf,
        #[arg(long, default_value = "127.0.0.1:8080")]
        web_addr: SocketAddr,
    },
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    let res = match cli.cmd {
        Some(Cmd::Bench { what }) => run_bench(what),
        Some(Cmd::Export { ref file, ref output, max_flows }) => {
            cli::export::run(file, output, max_flows).map(|s| println!("muxscope: {s}"))
        }
        Some(Cmd::Bots { target, clients, rate, seconds }) => cli::bots::run(target, clients, rate, seconds),
        Some(Cmd::Replay { ref file, web_addr }) => {
            cli::replay::run(file, web_addr, &cli.allow_hosts, &cli.allow_origins, cli.max_watchers)
        }
        None => run(cli),
    };
    match res {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("muxscope: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn parse_model(s: &str) -> Result<Model, String> {
    s.parse()
}

fn parse_poller(s: &str) -> Result<Model, String> {
    match s.parse::<Model>() {
        Ok(m) if m.is_poller() => Ok(m),
        _ => Err(format!("unknown poller {s:?}: expected epoll, epoll-et, poll or select (see --model for the other IO models)")),
    }
}

fn parse_app(s: &str) -> Result<App, String> {
    s.parse()
}

fn secs(what: &str, v: f64) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(v).map_err(|_| anyhow::anyhow!("--{what} must be a non-negative number of seconds, got {v}"))
}

/// A node's name: as a nick (it is shown as `NAME@NODE`), without `@`.
fn parse_node(s: &str) -> Result<String, String> {
    if muxscope_shared::valid_nick(s) && !s.contains('@') {
        Ok(s.to_string())
    } else {
        Err("a node name is 1 to 32 characters, without spaces, brackets or '@'".into())
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let limit = muxscope::sys::raise_nofile_limit().unwrap_or(1024);
    tracing::debug!(limit, "open file limit");
    if cli.max_line == 0 {
        anyhow::bail!("--max-line must be at least 1");
    }
    if cli.max_watchers == 0 {
        anyhow::bail!("--max-watchers must be at least 1 (the page itself is one)");
    }
    if cli.max_web_connections.is_some_and(|n| n < 2) {
        anyhow::bail!("--max-web-connections must be at least 2 (a page and its event stream)");
    }
    let model = cli.model.or(cli.poller).unwrap_or_default();
    let cfg = Config {
        chat_addr: cli.chat_addr,
        model,
        app: cli.app,
        spin: cli.spin,
        max_threads: cli.max_threads,
        max_clients: cli.max_clients,
        max_clients_per_ip: chat::per_ip::limit_for(cli.chat_addr, cli.max_clients_per_ip),
        max_line: cli.max_line,
        line_timeout: secs("line-timeout", cli.line_timeout)?,
        out_hard_limit: cli.out_hard_limit,
        out_soft_limit: cli.out_soft_limit,
        out_soft_time: secs("out-soft-seconds", cli.out_soft_seconds)?,
        cluster: cli.cluster.clone(),
        node: cli.node.clone(),
        heartbeat: Duration::from_millis(cli.cluster_heartbeat_ms.max(10)),
        ..Config::default()
    };
    let recorder = match &cli.record {
        Some(path) => Some(recording::start(path, cli.chat_addr, model)?),
        None => None,
    };
    let (rec_tx, recorder) = recorder.map_or((None, None), |(tx, r)| (Some(tx), Some(r)));
    if let Some(r) = &recorder {
        println!("muxscope: recording every event to {}", r.path.display());
    }
    if cli.no_web {
        let res = run_core_only(cfg, cli.drain_events, rec_tx);
        return finish_recording(recorder).and(res);
    }
    let (mut tel, rx) = telemetry::channel();
    if let Some(tx) = rec_tx {
        tel.record_to(tx);
    }
    let running = chat::spawn(cfg, tel)?;
    let chat_addr = running.addr;
    let hub = Hub::start(rx, running.control.clone(), cli.ws_backlog_frames)?;
    let running_control = running.control.clone();
    print_chat_banner(chat_addr, model);
    let (core_done_tx, core_done) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let _ = core_done_tx.send(running.join());
    });
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).thread_name("gateway").enable_all().build()?;
    let res = rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(cli.web_addr)
            .await
            .map_err(|e| anyhow::anyhow!("cannot bind web address {}: {e}", cli.web_addr))?;
        let web_addr = listener.local_addr()?;
        let allow = Allow::new(web_addr, &cli.allow_hosts, &cli.allow_origins);
        let web = gateway::WebBudget::new(cli.max_web_connections.unwrap_or_else(|| gateway::web_share(limit)));
        let state = AppState {
            hub,
            chat_addr,
            control: running_control.clone(),
            ledger: Arc::new(gateway::ledger::Ledger::new(running_control.clone())),
            max_watchers: cli.max_watchers,
            web: web.clone(),
            bots: Arc::new(gateway::bots::Bots::new(chat_addr)),
        };
        let app = gateway::router(state, allow, cli.ws_echo);
        if !gateway::assets::page_is_embedded() {
            tracing::warn!("this binary has no page embedded: `cargo xtask run` builds and serves the real one");
        }
        let stop = stop_signal()?;
        println!("muxscope: web on http://{web_addr}/");
        let mut core_done = core_done;
        let res = tokio::select! {
            r = gateway::serve(listener, app, web) => r.map_err(anyhow::Error::from),
            r = &mut core_done => return match r {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(anyhow::anyhow!("chat core failed: {e}")),
                Err(_) => Err(anyhow::anyhow!("chat core thread vanished")),
            },
            _ = stop => Ok(()),
        };
        // Stopped: the loop ends its turn and lets go of the recorder, which writes the rest.
        running_control.stop();
        let _ = tokio::time::timeout(Duration::from_secs(5), core_done).await;
        res
    });
    finish_recording(recorder).and(res)
}

/// Ctrl-C or SIGTERM, caught from the moment this returns (call it inside a runtime, before
/// saying where the server listens: a script may signal as soon as it reads that).
fn stop_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    Ok(async move {
        tokio::select! {
            _ = int.recv() => {}
            _ = term.recv() => {}
        }
    })
}

fn finish_recording(recorder: Option<recording::Recorder>) -> anyhow::Result<()> {
    if let Some(r) = recorder {
        println!("muxscope: {}", r.finish()?);
    }
    Ok(())
}

fn print_chat_banner(addr: SocketAddr, model: Model) {
    // Tests and scripts read this line to learn the port when --chat-addr ends in :0.
    println!("muxscope: chat listening on {addr} (model {model})");
    println!("muxscope: join with  nc {} {}", addr.ip(), addr.port());
}

fn run_core_only(cfg: Config, drain_events: bool, rec: Option<telemetry::RecTx>) -> anyhow::Result<()> {
    let model = cfg.model;
    let (mut tel, rx) = if drain_events {
        let (tel, rx) = telemetry::channel();
        (tel, Some(rx))
    } else {
        (Telemetry::disabled(), None)
    };
    // Recording, a signal stops the loop cleanly so the file is whole.
    let stopper = match rec {
        Some(tx) => {
            tel.record_to(tx);
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            let stop = {
                let _in = rt.enter();
                stop_signal()?
            };
            Some((rt, stop))
        }
        None => None,
    };
    let running = chat::spawn(cfg, tel)?;
    print_chat_banner(running.addr, model);
    if let Some(rx) = rx {
        rx.tap.subscribed.store(true, Ordering::Relaxed);
        std::thread::Builder::new().name("event-drain".into()).spawn(move || {
            let mut events = 0u64;
            while let Ok(batch) = rx.rx.recv() {
                if let Batch::Events(ev) = batch {
                    // Drain and count: what the loop pays for being watched, without the cost of
                    // any particular consumer (the gateway's is measured with a real browser).
                    events += ev.len() as u64;
                    if events % 1_000_000 < ev.len() as u64 {
                        tracing::info!(events, dropped = rx.tap.dropped.load(Ordering::Relaxed), "drained");
                    }
                }
            }
        })?;
    }
    if let Some((rt, stop)) = stopper {
        let control = running.control.clone();
        std::thread::Builder::new().name("stop-signal".into()).spawn(move || {
            rt.block_on(stop);
            control.stop();
        })?;
    }
    running.join()?;
    Ok(())
}

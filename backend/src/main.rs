use clap::{Parser, Subcommand};
use muxscope::bench::{self, Proto};
use muxscope::chat::{self, Config};
use muxscope::selector::PollerKind;
use muxscope::telemetry::{self, Batch, Telemetry};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::atomic::Ordering;
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
    /// Which system call the loop waits in.
    #[arg(long, value_enum, default_value_t = PollerKind::Epoll)]
    poller: PollerKind,
    /// Run the chat core alone, without the web gateway.
    #[arg(long)]
    no_web: bool,
    /// Most clients at once; client N+1 gets an error line and EOF.
    #[arg(long, default_value_t = 100_000)]
    max_clients: usize,
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
}

#[derive(Subcommand, Debug)]
enum BenchCmd {
    /// One 64 B message to N idle clients: time until the last has it (p50/p95).
    Fanout {
        #[arg(long)]
        target: SocketAddr,
        #[arg(long, value_enum, default_value_t = Proto::Line)]
        proto: Proto,
        #[arg(long, default_value_t = 1000)]
        clients: usize,
        #[arg(long, default_value_t = 30)]
        rounds: usize,
    },
    /// The kernel floor for fanout: write to N loopback sockets, read them back, no server.
    Floor {
        #[arg(long, default_value_t = 1000)]
        clients: usize,
        #[arg(long, default_value_t = 30)]
        rounds: usize,
    },
    /// Deliveries/s with N clients while S senders blast 64 B lines.
    Blast {
        #[arg(long)]
        target: SocketAddr,
        #[arg(long, value_enum, default_value_t = Proto::Line)]
        proto: Proto,
        #[arg(long, default_value_t = 1000)]
        clients: usize,
        #[arg(long, default_value_t = 4)]
        senders: usize,
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
    },
    /// N clients connecting one after another; with --pid, the server's RSS per idle client.
    Connect {
        #[arg(long)]
        target: SocketAddr,
        #[arg(long, value_enum, default_value_t = Proto::Line)]
        proto: Proto,
        #[arg(long, default_value_t = 10_000)]
        clients: usize,
        #[arg(long)]
        pid: Option<u32>,
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

fn secs(what: &str, v: f64) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(v).map_err(|_| anyhow::anyhow!("--{what} must be a non-negative number of seconds, got {v}"))
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let limit = muxscope::sys::raise_nofile_limit().unwrap_or(1024);
    tracing::debug!(limit, "open file limit");
    if cli.max_line == 0 {
        anyhow::bail!("--max-line must be at least 1");
    }
    let cfg = Config {
        chat_addr: cli.chat_addr,
        poller: cli.poller,
        max_clients: cli.max_clients,
        max_line: cli.max_line,
        line_timeout: secs("line-timeout", cli.line_timeout)?,
        out_hard_limit: cli.out_hard_limit,
        out_soft_limit: cli.out_soft_limit,
        out_soft_time: secs("out-soft-seconds", cli.out_soft_seconds)?,
        ..Config::default()
    };
    let (tel, rx) = if cli.drain_events { telemetry::channel() } else { (Telemetry::disabled(), dummy_rx()) };
    let running = chat::spawn(cfg, tel)?;
    // Tests and scripts read this line to learn the port when --chat-addr ends in :0.
    println!("muxscope: chat listening on {} (poller {})", running.addr, cli.poller);
    println!("muxscope: join with  nc {} {}", running.addr.ip(), running.addr.port());
    if cli.drain_events {
        rx.tap.subscribed.store(true, Ordering::Relaxed);
        std::thread::Builder::new().name("event-drain".into()).spawn(move || {
            let mut events = 0u64;
            let mut bytes = 0u64;
            while let Ok(batch) = rx.rx.recv() {
                if let Batch::Events(ev) = batch {
                    events += ev.len() as u64;
                    // Serialize, as the gateway does for every watching browser.
                    bytes += serde_json::to_vec(&ev).map(|v| v.len() as u64).unwrap_or(0);
                    if events % 1_000_000 < ev.len() as u64 {
                        tracing::info!(events, bytes, dropped = rx.tap.dropped.load(Ordering::Relaxed), "drained");
                    }
                }
            }
        })?;
    }
    let _ = cli.web_addr;
    running.join()?;
    Ok(())
}

fn dummy_rx() -> telemetry::TelemetryRx {
    telemetry::channel().1
}

fn run_bench(what: BenchCmd) -> anyhow::Result<()> {
    muxscope::sys::raise_nofile_limit()?;
    let json = match what {
        BenchCmd::Fanout { target, proto, clients, rounds } => serde_json::to_string(&bench::fanout(target, proto, clients, rounds)?)?,
        BenchCmd::Floor { clients, rounds } => serde_json::to_string(&bench::floor(clients, rounds)?)?,
        BenchCmd::Blast { target, proto, clients, senders, seconds } => {
            serde_json::to_string(&bench::blast(target, proto, clients, senders, seconds)?)?
        }
        BenchCmd::Connect { target, proto, clients, pid } => serde_json::to_string(&bench::connect(target, proto, clients, pid)?)?,
    };
    println!("{json}");
    Ok(())
}

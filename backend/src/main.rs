use clap::Parser;
use muxscope::chat::{self, Config};
use muxscope::selector::PollerKind;
use muxscope::telemetry::Telemetry;
use std::net::SocketAddr;
use std::process::ExitCode;

/// muxscope: watch IO multiplexing work. A chat server on a hand-written epoll/poll/select loop;
/// join it with `nc 127.0.0.1 3999`.
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
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("muxscope: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let limit = muxscope::sys::raise_nofile_limit().unwrap_or(1024);
    tracing::debug!(limit, "open file limit");
    let cfg = Config {
        chat_addr: cli.chat_addr,
        poller: cli.poller,
        max_clients: cli.max_clients,
        max_line: cli.max_line,
        ..Config::default()
    };
    let running = chat::spawn(cfg, Telemetry::disabled())?;
    // Tests and scripts read this line to learn the port when --chat-addr ends in :0.
    println!("muxscope: chat listening on {} (poller {})", running.addr, cli.poller);
    println!("muxscope: join with  nc {} {}", running.addr.ip(), running.addr.port());
    let _ = cli.web_addr;
    running.join()?;
    Ok(())
}

//! `muxscope bench …`: the load generators' command line.

use crate::parse_model;
use clap::Subcommand;
use muxscope::bench::{self, Proto};
use muxscope_shared::Model;
use std::net::SocketAddr;

#[derive(Subcommand, Debug)]
pub enum BenchCmd {
    /// One 64 B message to N idle clients: time until the last has it (p50/p95).
    Fanout {
        /// Repeat for several nodes of one cluster: clients round-robin over them, the sender on the first.
        #[arg(long, required = true)]
        target: Vec<SocketAddr>,
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
        /// Repeat for several nodes of one cluster: clients and senders round-robin over them.
        #[arg(long, required = true)]
        target: Vec<SocketAddr>,
        #[arg(long, value_enum, default_value_t = Proto::Line)]
        proto: Proto,
        #[arg(long, default_value_t = 1000)]
        clients: usize,
        #[arg(long, default_value_t = 4)]
        senders: usize,
        #[arg(long, default_value_t = 5.0)]
        seconds: f64,
    },
    /// A busy room: N clients sending a combined R lines/s for S seconds, everything read.
    ChatLoad {
        #[arg(long)]
        target: SocketAddr,
        #[arg(long, default_value_t = 1000)]
        clients: usize,
        #[arg(long, default_value_t = 1000.0)]
        rate: f64,
        #[arg(long, default_value_t = 10.0)]
        seconds: f64,
    },
    /// Soak load: waves of N clients joining, chatting and leaving, for S seconds.
    Churn {
        #[arg(long)]
        target: SocketAddr,
        #[arg(long, default_value_t = 1000)]
        clients: usize,
        #[arg(long, default_value_t = 60.0)]
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
    /// Every IO model on one server per size, switched live over the same N idle clients:
    /// fan-out p50/p95, blast deliveries/s, server CPU, context switches, RSS, threads; and
    /// the kernel floor at each N. JSON lines, then a Markdown table, on stdout.
    Models {
        /// The muxscope binary to start as the server (default: this one).
        #[arg(long, value_name = "PATH")]
        target_bin: Option<std::path::PathBuf>,
        #[arg(long, value_delimiter = ',', default_value = "10,100,1000,10000")]
        sizes: Vec<usize>,
        /// The models in the order measured (a repeated one is measured again).
        #[arg(long, value_delimiter = ',', value_parser = parse_model, default_value = "epoll,epoll-et,poll,select,sigio,io_uring,nonblocking,blocking,epoll")]
        models: Vec<Model>,
        /// Fan-out rounds per model (and for the floor).
        #[arg(long, default_value_t = 20)]
        rounds: usize,
        /// Blast seconds per model (after a one-second warm-up).
        #[arg(long, default_value_t = 3.0)]
        seconds: f64,
    },
}

pub fn run_bench(what: BenchCmd) -> anyhow::Result<()> {
    muxscope::sys::raise_nofile_limit()?;
    let json = match what {
        BenchCmd::Fanout { target, proto, clients, rounds } => serde_json::to_string(&bench::fanout(&target, proto, clients, rounds)?)?,
        BenchCmd::Floor { clients, rounds } => serde_json::to_string(&bench::floor(clients, rounds)?)?,
        BenchCmd::Blast { target, proto, clients, senders, seconds } => {
            serde_json::to_string(&bench::blast(&target, proto, clients, senders, seconds)?)?
        }
        BenchCmd::ChatLoad { target, clients, rate, seconds } => {
            if !(rate > 0.0 && rate.is_finite()) {
                anyhow::bail!("--rate must be a positive number of lines per second");
            }
            serde_json::to_string(&bench::chat_load(target, clients, rate, seconds)?)?
        }
        BenchCmd::Churn { target, clients, seconds } => serde_json::to_string(&bench::churn(target, clients, seconds)?)?,
        BenchCmd::Connect { target, proto, clients, pid } => serde_json::to_string(&bench::connect(target, proto, clients, pid)?)?,
        BenchCmd::Models { target_bin, sizes, models, rounds, seconds } => {
            if sizes.is_empty() || sizes.contains(&0) || models.is_empty() || rounds == 0 || !(seconds > 0.0 && seconds <= 600.0) {
                anyhow::bail!("--sizes and --models must be non-empty, sizes and --rounds at least 1, --seconds in (0, 600]");
            }
            let bin = match target_bin {
                Some(p) => p,
                None => std::env::current_exe()?,
            };
            let opts = bench::models::Options { bin, sizes, models, rounds, seconds };
            let rows = bench::models::run(&opts, &mut |row| {
                if let Ok(line) = serde_json::to_string(row) {
                    println!("{line}");
                }
            })?;
            format!("\n{}", bench::models::markdown(&rows).trim_end())
        }
    };
    println!("{json}");
    Ok(())
}

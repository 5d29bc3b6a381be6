//! `muxscope bench models`: every IO model on the same connections. For each size N: the kernel
//! floor for N, then ONE muxscope server (web gateway on, `--max-threads` at its default), N
//! idle clients, and each model in turn, switched live with `POST /api/model` so the same
//! connections are handed over. On each model: fan-out latency, blast deliveries/s, the
//! server's CPU (all of it and its chat threads'), the chat threads' context switches, RSS and
//! threads. A model the server refuses gets a row with the server's reason.
//!
//! Prints one JSON object per row as it is measured, then the rows as a Markdown table (ratios
//! to the kernel floor and to epoll at the same N). Every wait is bounded; loopback only.

mod room;
mod server;
mod table;

use super::{floor, stats, Stats};
use muxscope_shared::Model;
use room::Room;
use serde::Serialize;
use server::{Server, Switched};
use std::io;
use std::path::PathBuf;
use std::time::Duration;

pub use table::markdown;

/// The order models are measured in: epoll first (the server starts on it, and every ratio is
/// to it), the blocking model last but one (what its threads leave behind, RSS and stack cache,
/// would otherwise sit under the rows after it), epoll again last (the room is handed back
/// intact, and the two epoll rows show how much the numbers drift within one run).
pub const DEFAULT_ORDER: [Model; 9] = [
    Model::Epoll,
    Model::EpollEt,
    Model::Poll,
    Model::Select,
    Model::Sigio,
    Model::IoUring,
    Model::Nonblocking,
    Model::Blocking,
    Model::Epoll,
];

/// Senders in the blast, as in `bench blast`.
pub const SENDERS: usize = 4;
/// The floor holds both ends of every pair in one process: at most this many pairs.
pub const FLOOR_MAX: usize = 9000;
const WARMUP: Duration = Duration::from_secs(1);
const ROUND_LIMIT: Duration = Duration::from_secs(10);
const FANOUT_BUDGET: Duration = Duration::from_secs(60);
const SETTLE_QUIET: Duration = Duration::from_millis(300);
const SETTLE_LIMIT: Duration = Duration::from_secs(60);
const SYNC_LIMIT: Duration = Duration::from_secs(30);

pub struct Options {
    /// The muxscope binary to start as the server.
    pub bin: PathBuf,
    pub sizes: Vec<usize>,
    pub models: Vec<Model>,
    /// Fan-out rounds per model (and for the floor).
    pub rounds: usize,
    /// Blast seconds per model, after a one-second warm-up.
    pub seconds: f64,
}

#[derive(Debug, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Row {
    Floor(FloorRow),
    Model(Box<ModelRow>),
}

#[derive(Debug, Serialize)]
pub struct FloorRow {
    pub clients: usize,
    /// Socket pairs written to (at most [`FLOOR_MAX`]).
    pub pairs: usize,
    #[serde(flatten)]
    pub stats: Stats,
}

#[derive(Debug, Default, Serialize)]
pub struct ModelRow {
    pub clients: usize,
    pub model: String,
    /// 1, or 2 for a model measured a second time in the same run.
    pub pass: usize,
    /// `ok`, `refused` (the server said no, its reason in `reason`) or `failed` (`reason`).
    pub status: String,
    pub reason: Option<String>,
    pub switch_ms: Option<f64>,
    pub fanout_p50_ms: Option<f64>,
    pub fanout_p95_ms: Option<f64>,
    pub fanout_rounds: usize,
    pub deliveries_per_sec: Option<f64>,
    pub blast_seconds: Option<f64>,
    pub sent_messages: Option<u64>,
    /// CPU seconds per second of the whole server during the blast window, and of its chat threads.
    pub cpu_cores: Option<f64>,
    pub chat_cpu_cores: Option<f64>,
    /// Context switches per second of the chat threads during the blast window.
    pub chat_ctx_per_sec: Option<f64>,
    pub chat_voluntary_ctx_per_sec: Option<f64>,
    pub chat_involuntary_ctx_per_sec: Option<f64>,
    pub rss_idle_bytes: Option<u64>,
    pub rss_blast_bytes: Option<u64>,
    pub threads_idle: Option<usize>,
    pub threads_blast: Option<usize>,
    pub chat_threads_idle: Option<usize>,
    pub chat_threads_blast: Option<usize>,
    /// Receivers the server cut during this model's measurement (slow-consumer limits), or that
    /// were left out because a line never reached them; replaced before the next model.
    pub receivers_cut: usize,
    /// Anything worth a footnote: a late switch, a fan-out cut short, a room that did not settle.
    pub note: Option<String>,
}

fn say(what: &str) {
    eprintln!("bench models: {what}");
}

/// Runs everything; `emit` gets each row as it is measured.
pub fn run(opts: &Options, emit: &mut dyn FnMut(&Row)) -> io::Result<Vec<Row>> {
    let mut rows = vec![];
    let mut push = |row: Row, rows: &mut Vec<Row>| {
        emit(&row);
        rows.push(row);
    };
    for &n in &opts.sizes {
        let pairs = n.min(FLOOR_MAX);
        say(&format!("N={n}: the kernel floor ({pairs} socket pairs, {} rounds)", opts.rounds));
        push(Row::Floor(FloorRow { clients: n, pairs, stats: floor(pairs, opts.rounds)?.stats }), &mut rows);
        for row in one_size(opts, n)? {
            push(Row::Model(Box::new(row)), &mut rows);
        }
    }
    Ok(rows)
}

/// One server, N clients, every model in turn.
fn one_size(opts: &Options, n: usize) -> io::Result<Vec<ModelRow>> {
    let start_model = opts.models.first().copied().unwrap_or_default();
    let server = Server::start(&opts.bin, start_model)?;
    say(&format!("N={n}: server pid {} on {start_model}; connecting {n} clients and {} senders", server.pid, SENDERS + 1));
    let mut room = Room::connect(server.chat, n, SENDERS)?;
    let missing = room.sync(SYNC_LIMIT)?;
    room.take_notes();
    if missing > 0 {
        return Err(io::Error::other(format!("{missing} of {n} clients never had the first line")));
    }
    // First touches (the server's queues for N clients, both sides' socket memory) would
    // otherwise land on whichever model goes first: one blast, not measured, before any is.
    say(&format!("N={n}: warm-up blast on {start_model} (not measured)"));
    room.blast(WARMUP, opts.seconds.min(2.0), server.pid)?;
    resync(&mut room, &mut ModelRow::default()).map_err(io::Error::other)?;
    room.take_notes();
    let mut rows = vec![];
    let mut broken: Option<String> = None;
    for (i, &model) in opts.models.iter().enumerate() {
        let pass = opts.models[..=i].iter().filter(|&&m| m == model).count();
        let mut row = ModelRow { clients: n, model: model.name().into(), pass, ..ModelRow::default() };
        if let Some(why) = &broken {
            row.status = "failed".into();
            row.reason = Some(format!("not measured: {why}"));
            rows.push(row);
            continue;
        }
        say(&format!("N={n}: switching to {model}"));
        match server.switch(model)? {
            Switched::Refused { status, reason } => {
                say(&format!("N={n}: {model} refused ({status}): {reason}"));
                row.status = if status == 409 { "refused" } else { "failed" }.into();
                row.reason = Some(reason);
                rows.push(row);
                continue;
            }
            Switched::Yes { ms, note } => {
                row.switch_ms = Some(ms);
                row.note = note;
            }
        }
        let now = server.model()?;
        if now != model.name() {
            row.status = "failed".into();
            row.reason = Some(format!("the switch was answered, but GET /api/stats names {now}"));
            rows.push(row);
            continue;
        }
        let measured = measure(&server, &mut room, opts, &mut row);
        for note in room.take_notes() {
            add_note(&mut row, note);
        }
        if let Err(why) = measured {
            broken = Some(why.clone());
            row.status = "failed".into();
            row.reason = Some(why);
        } else {
            row.status = "ok".into();
        }
        say(&format!(
            "N={n}: {model}: fan-out p50 {:.2} ms, {:.0} deliveries/s, {:.2} cores",
            row.fanout_p50_ms.unwrap_or(f64::NAN),
            row.deliveries_per_sec.unwrap_or(f64::NAN),
            row.cpu_cores.unwrap_or(f64::NAN)
        ));
        rows.push(row);
    }
    drop(room);
    drop(server);
    Ok(rows)
}

/// Idle numbers, fan-out, blast, then the room brought back in step. `Err` only when the room
/// cannot be trusted any more (the rest of this size is then not measured).
fn measure(server: &Server, room: &mut Room, opts: &Options, row: &mut ModelRow) -> Result<(), String> {
    let io = |e: io::Error| e.to_string();
    std::thread::sleep(Duration::from_millis(300));
    let idle = crate::procstat::sample(server.pid).map_err(io)?;
    (row.rss_idle_bytes, row.threads_idle, row.chat_threads_idle) = (Some(idle.rss_bytes), Some(idle.threads), Some(idle.chat_threads));

    let fan = room.fanout(opts.rounds, ROUND_LIMIT, FANOUT_BUDGET).map_err(io)?;
    row.fanout_rounds = fan.samples.len();
    if !fan.samples.is_empty() {
        let s = stats(fan.samples);
        (row.fanout_p50_ms, row.fanout_p95_ms) = (Some(s.p50_ms), Some(s.p95_ms));
    }
    if let Some(why) = fan.stopped {
        add_note(row, format!("fan-out {why}"));
        resync(room, row)?;
    }

    let b = room.blast(WARMUP, opts.seconds, server.pid).map_err(io)?;
    row.deliveries_per_sec = Some(b.deliveries as f64 / b.seconds);
    (row.blast_seconds, row.sent_messages) = (Some(b.seconds), Some(b.sent_messages));
    row.cpu_cores = Some(b.usage.cpu_cores);
    row.chat_cpu_cores = Some(b.usage.chat_cpu_cores);
    row.chat_voluntary_ctx_per_sec = Some(b.usage.chat_voluntary_per_sec);
    row.chat_involuntary_ctx_per_sec = Some(b.usage.chat_involuntary_per_sec);
    row.chat_ctx_per_sec = Some(b.usage.chat_voluntary_per_sec + b.usage.chat_involuntary_per_sec);
    (row.rss_blast_bytes, row.threads_blast, row.chat_threads_blast) =
        (Some(b.end.rss_bytes), Some(b.end.threads), Some(b.end.chat_threads));
    if b.deliveries == 0 {
        add_note(row, format!("no line reached a receiver in the blast window (server at {:.2} cores): a stall", b.usage.cpu_cores));
    } else if b.usage.cpu_cores < 0.5 {
        add_note(row, format!("the server sat idle for much of the blast window ({:.2} cores): a stall", b.usage.cpu_cores));
    }
    resync(room, row)
}

/// After a blast (or a fan-out cut short): wait until the server has sent everything it owed,
/// then count from zero again (receivers still out of step are left out, and said so).
fn resync(room: &mut Room, row: &mut ModelRow) -> Result<(), String> {
    if !room.settle(SETTLE_QUIET, SETTLE_LIMIT).map_err(|e| e.to_string())? {
        add_note(row, format!("output still arriving {SETTLE_LIMIT:?} after the load stopped"));
    }
    let io = |e: io::Error| e.to_string();
    room.sync(SYNC_LIMIT).map_err(io)?;
    row.receivers_cut = room.cut();
    if room.replace_cut().map_err(io)? > 0 {
        room.sync(SYNC_LIMIT).map_err(io)?;
    }
    Ok(())
}

fn add_note(row: &mut ModelRow, note: String) {
    row.note = Some(match row.note.take() {
        Some(n) => format!("{n}; {note}"),
        None => note,
    });
}

//! The IO models muxscope runs, named once for the core, the gateway and the page.
//!
//! The tutorial's five IO models (阻塞IO, 非阻塞IO, IO多路复用, 信号驱动IO, 异步IO) are each a real
//! server here; IO multiplexing comes in four pollers. The names are the `--model` values, the
//! `"model"` of a snapshot and of `GET /api/stats`, and the body of `POST /api/model`.

use crate::map_struct::map_struct_deserialize;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// One way to serve the chat: how a connection's data gets from the kernel to the loop.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Model {
    /// A thread per connection: accept and recv block (阻塞IO).
    #[serde(rename = "blocking")]
    Blocking,
    /// One thread trying every socket with a non-blocking recv, counting each EAGAIN (非阻塞IO).
    #[serde(rename = "nonblocking")]
    Nonblocking,
    /// select(2): FD_SETSIZE (1024) bit sets, scanned on every wait.
    #[serde(rename = "select")]
    Select,
    /// poll(2): the whole pollfd array goes to the kernel on every wait.
    #[serde(rename = "poll")]
    Poll,
    /// epoll(7), level-triggered (Python's DefaultSelector on Linux).
    #[default]
    #[serde(rename = "epoll")]
    Epoll,
    /// epoll with EPOLLET: one report per edge, so readers drain to EAGAIN.
    #[serde(rename = "epoll-et")]
    EpollEt,
    /// Signal-driven: O_ASYNC + F_SETSIG, each realtime signal names its fd (信号驱动IO).
    #[serde(rename = "sigio")]
    Sigio,
    /// Completion-based io_uring: the kernel does both phases, the loop reaps results (异步IO).
    #[serde(rename = "io_uring")]
    IoUring,
}

/// The tutorial's five models; [`Model`] refines multiplexing into its pollers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Family {
    Blocking,
    Nonblocking,
    Multiplexing,
    SignalDriven,
    Asynchronous,
}

impl Family {
    pub const ALL: [Family; 5] = [Family::Blocking, Family::Nonblocking, Family::Multiplexing, Family::SignalDriven, Family::Asynchronous];
}

impl Model {
    pub const ALL: [Model; 8] =
        [Model::Blocking, Model::Nonblocking, Model::Select, Model::Poll, Model::Epoll, Model::EpollEt, Model::Sigio, Model::IoUring];

    /// The `--model` value and JSON name.
    pub fn name(self) -> &'static str {
        match self {
            Model::Blocking => "blocking",
            Model::Nonblocking => "nonblocking",
            Model::Select => "select",
            Model::Poll => "poll",
            Model::Epoll => "epoll",
            Model::EpollEt => "epoll-et",
            Model::Sigio => "sigio",
            Model::IoUring => "io_uring",
        }
    }

    pub fn family(self) -> Family {
        match self {
            Model::Blocking => Family::Blocking,
            Model::Nonblocking => Family::Nonblocking,
            Model::Select | Model::Poll | Model::Epoll | Model::EpollEt => Family::Multiplexing,
            Model::Sigio => Family::SignalDriven,
            Model::IoUring => Family::Asynchronous,
        }
    }

    /// One of the four `--poller` values.
    pub fn is_poller(self) -> bool {
        self.family() == Family::Multiplexing
    }

    /// Readiness is told once per change, so a reader must drain the socket to EAGAIN (and
    /// remember what a budget left unread).
    pub fn edge_triggered(self) -> bool {
        matches!(self, Model::EpollEt | Model::Sigio)
    }

    /// The call a loop of this model sleeps in, as strace names it.
    pub fn wait_call(self) -> &'static str {
        match self {
            Model::Blocking => "recvfrom",
            Model::Nonblocking => "clock_nanosleep",
            Model::Select => "pselect6",
            Model::Poll => "poll",
            Model::Epoll | Model::EpollEt => "epoll_wait",
            Model::Sigio => "rt_sigtimedwait",
            Model::IoUring => "io_uring_enter",
        }
    }
}

impl fmt::Display for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Model {
    type Err = String;
    /// Only the exact names: an unknown model is an error, never a fallback.
    fn from_str(s: &str) -> Result<Model, String> {
        Model::ALL.into_iter().find(|m| m.name() == s).ok_or_else(|| {
            let names: Vec<&str> = Model::ALL.iter().map(|m| m.name()).collect();
            format!("unknown model {s:?}: expected one of {}", names.join(", "))
        })
    }
}

/// What the server does with a line (`--app`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum App {
    /// Every line goes to every client, the sender included (the seed's chat server).
    #[default]
    Chat,
    /// Every line goes back to its sender only (the seed's echo server).
    Echo,
}

impl App {
    pub fn name(self) -> &'static str {
        match self {
            App::Chat => "chat",
            App::Echo => "echo",
        }
    }
}

impl FromStr for App {
    type Err = String;
    fn from_str(s: &str) -> Result<App, String> {
        match s {
            "chat" => Ok(App::Chat),
            "echo" => Ok(App::Echo),
            _ => Err(format!("unknown app {s:?}: expected chat or echo")),
        }
    }
}

/// The body of `POST /api/model`, and of its `200` answer. Unknown fields are refused (its
/// reader below is `deny_unknown_fields`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ModelRequest {
    pub model: Model,
}

/// Whether this server can run a model, and if not, why (io_uring refused by the kernel).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ModelAvailability {
    pub model: Model,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unavailable: Option<String>,
}

/// What one model cost while it served, measured on the live traffic (one row of the page's
/// compare panel). Rates are over `seconds`, the time it served in this session.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ModelStats {
    pub model: Model,
    /// It serves now (the row is still growing).
    pub serving: bool,
    pub seconds: f64,
    pub messages: u64,
    pub deliveries: u64,
    /// The loop's syscalls (its events, less the broadcasts and names that are none).
    pub syscalls: u64,
    /// `syscalls / deliveries`, when anything was delivered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub syscalls_per_delivery: Option<f64>,
    pub wakeups_per_s: f64,
    /// EAGAINs (recv, send and accept that found nothing) per second.
    pub eagain_per_s: f64,
    /// CPU of the model's threads (user + sys), as a share of one core.
    pub cpu_percent: f64,
    pub cpu_user_s: f64,
    pub cpu_sys_s: f64,
    /// Context switches of the model's threads (voluntary + involuntary) per second.
    pub ctx_switches_per_s: f64,
    /// Most threads serving at once.
    pub threads: u32,
    /// The process's resident memory when last measured.
    pub rss_bytes: u64,
    /// A browser user's line, from the gateway's write to its return: the median.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtt_p50_us: Option<u64>,
    pub rtt_samples: u64,
}

/// `GET /api/models`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ModelsReport {
    pub current: Model,
    pub available: Vec<ModelAvailability>,
    /// One row per model that has served in this session, in the order they first did.
    pub rows: Vec<ModelStats>,
}

// Read by `crate::map_struct` (a map only; the same fields, defaults and errors as a derive).
map_struct_deserialize!(deny_unknown_fields ModelRequest { model });
map_struct_deserialize!(ModelAvailability { model, unavailable: default });
map_struct_deserialize!(ModelStats {
    model,
    serving,
    seconds,
    messages,
    deliveries,
    syscalls,
    syscalls_per_delivery: default,
    wakeups_per_s,
    eagain_per_s,
    cpu_percent,
    cpu_user_s,
    cpu_sys_s,
    ctx_switches_per_s,
    threads,
    rss_bytes,
    rtt_p50_us: default,
    rtt_samples,
});
map_struct_deserialize!(ModelsReport { current, available, rows });

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_unknown_ones_are_errors() {
        for m in Model::ALL {
            assert_eq!(m.name().parse::<Model>(), Ok(m));
            assert_eq!(serde_json::to_string(&m).unwrap(), format!("\"{}\"", m.name()));
            assert_eq!(serde_json::from_str::<Model>(&format!("\"{m}\"")).unwrap(), m);
        }
        assert!("EPOLL".parse::<Model>().is_err());
        assert!("uring".parse::<Model>().unwrap_err().contains("io_uring"));
        assert!(serde_json::from_str::<Model>("\"kqueue\"").is_err());
        assert!(serde_json::from_str::<ModelRequest>(r#"{"model":"poll","x":1}"#).is_err());
        assert_eq!(serde_json::from_str::<ModelRequest>(r#"{"model":"poll"}"#).unwrap().model, Model::Poll);
    }

    #[test]
    fn every_family_has_a_model() {
        for f in Family::ALL {
            assert!(Model::ALL.iter().any(|m| m.family() == f), "{f:?}");
        }
        assert_eq!(Model::ALL.iter().filter(|m| m.is_poller()).count(), 4);
    }
}

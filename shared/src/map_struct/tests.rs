//! Each struct read by `map_struct_deserialize!` against a serde-derived twin (the same name,
//! fields and attributes): on many objects made from a full one (fields dropped, repeated,
//! reordered, given values of the wrong type, unknown keys added) both give the same value or
//! the same error message.

use crate::record::RecordHeader;
use crate::*;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fmt::Debug;

/// The structs as serde derives them; nested structs are the real ones (each checked itself).
#[allow(dead_code)]
mod derived {
    use crate::{Interest, Model, ReadyFlags, RelayState, Role, ThreadRole};
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    pub struct FdInfo {
        pub fd: i32,
        pub role: Role,
        pub interest: Interest,
        pub name: String,
        #[serde(default)]
        pub pending_out: u64,
    }

    #[derive(Debug, Deserialize)]
    pub struct ThreadInfo {
        pub tid: i32,
        pub fd: i32,
        pub role: ThreadRole,
    }

    #[derive(Debug, Deserialize)]
    pub struct Counters {
        pub wakeups: u64,
        pub accepted: u64,
        pub closed: u64,
        pub messages: u64,
        pub deliveries: u64,
        pub recv_bytes: u64,
        pub sent_bytes: u64,
        pub dropped_events: u64,
        #[serde(default)]
        pub eagain: u64,
    }

    #[derive(Debug, Deserialize)]
    pub struct Snapshot {
        pub version: u32,
        pub poller: String,
        #[serde(default)]
        pub model: Option<Model>,
        pub chat_addr: String,
        pub fds: Vec<crate::FdInfo>,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        pub handover: bool,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pub threads: Vec<crate::ThreadInfo>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub relay: Option<Box<crate::RelayStatus>>,
        pub counters: crate::Counters,
        pub seq: u64,
        pub ts_ns: u64,
    }

    #[derive(Debug, Deserialize)]
    pub struct ReadyFd {
        pub fd: i32,
        pub flags: ReadyFlags,
    }

    #[derive(Debug, Deserialize)]
    pub struct ClusterNode {
        pub name: String,
        pub clients: u32,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        pub me: bool,
    }

    #[derive(Debug, Deserialize)]
    pub struct RelayStatus {
        pub node: String,
        pub redis: String,
        pub state: RelayState,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub fd: Option<i32>,
        pub since_ms: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub error: Option<String>,
        pub nodes: Vec<crate::ClusterNode>,
        pub published: u64,
        pub received: u64,
        pub lost_down: u64,
        pub lost_slow: u64,
        #[serde(default)]
        pub unconfirmed: u64,
        pub missed: u64,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    pub struct ModelRequest {
        pub model: Model,
    }

    #[derive(Debug, Deserialize)]
    pub struct ModelAvailability {
        pub model: Model,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub unavailable: Option<String>,
    }

    #[derive(Debug, Deserialize)]
    pub struct ModelStats {
        pub model: Model,
        pub serving: bool,
        pub seconds: f64,
        pub messages: u64,
        pub deliveries: u64,
        pub syscalls: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub syscalls_per_delivery: Option<f64>,
        pub wakeups_per_s: f64,
        pub eagain_per_s: f64,
        pub cpu_percent: f64,
        pub cpu_user_s: f64,
        pub cpu_sys_s: f64,
        pub ctx_switches_per_s: f64,
        pub threads: u32,
        pub rss_bytes: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pub rtt_p50_us: Option<u64>,
        pub rtt_samples: u64,
    }

    #[derive(Debug, Deserialize)]
    pub struct ModelsReport {
        pub current: Model,
        pub available: Vec<crate::ModelAvailability>,
        pub rows: Vec<crate::ModelStats>,
    }

    /// No `#[serde(default)]` on `model`: the derive reads it absent as `None`.
    #[derive(Debug, Deserialize)]
    pub struct RecordHeader {
        pub format: u32,
        pub writer: String,
        pub started_unix_ms: u64,
        pub chat_addr: String,
        pub model: Option<Model>,
    }
}

const FD: &str = r#"{"fd":5,"role":"tcp","interest":"rw","name":"bob","pending_out":12}"#;
const THREAD: &str = r#"{"tid":41,"fd":5,"role":"reader"}"#;
const COUNTERS: &str =
    r#"{"wakeups":1,"accepted":2,"closed":3,"messages":4,"deliveries":5,"recv_bytes":6,"sent_bytes":7,"dropped_events":8,"eagain":9}"#;
const NODE: &str = r#"{"name":"b","clients":3,"me":true}"#;
const RELAY: &str = r#"{"node":"a","redis":"redis://h:6379","state":"down","fd":9,"since_ms":17,"error":"refused","nodes":[{"name":"a","clients":1,"me":true},{"name":"b","clients":2}],"published":1,"received":2,"lost_down":3,"lost_slow":4,"unconfirmed":5,"missed":6}"#;
const READY: &str = r#"{"fd":5,"flags":"IN|OUT"}"#;
const STATS: &str = r#"{"model":"poll","serving":true,"seconds":1.5,"messages":1,"deliveries":2,"syscalls":3,"syscalls_per_delivery":1.5,"wakeups_per_s":2.5,"eagain_per_s":0.0,"cpu_percent":12.5,"cpu_user_s":0.25,"cpu_sys_s":0.5,"ctx_switches_per_s":3.0,"threads":4,"rss_bytes":4096,"rtt_p50_us":90,"rtt_samples":7}"#;
const AVAILABLE: &str = r#"{"model":"io_uring","unavailable":"ENOSYS"}"#;
const HEADER: &str = r#"{"format":1,"writer":"muxscope page","started_unix_ms":5,"chat_addr":"127.0.0.1:7000","model":"sigio"}"#;

fn snapshot() -> String {
    format!(
        r#"{{"version":1,"poller":"epoll","model":"epoll","chat_addr":"0.0.0.0:7000","fds":[{FD}],"handover":true,"threads":[{THREAD}],"relay":{RELAY},"counters":{COUNTERS},"seq":77,"ts_ns":1200}}"#
    )
}

fn report() -> String {
    format!(r#"{{"current":"poll","available":[{AVAILABLE},{{"model":"poll"}}],"rows":[{STATS}]}}"#)
}

/// Values of other types (and a few of the right one) to put where a field's value goes.
const ODD: &[&str] = &[
    "null",
    "0",
    "-1",
    "1.5",
    "18446744073709551616",
    r#""""#,
    r#""tcp""#,
    r#""r""#,
    r#""up""#,
    r#""epoll""#,
    r#""IN""#,
    "true",
    "[]",
    "{}",
    "[1]",
    r#"{"a":1}"#,
];

/// The same value, or the same error.
fn agree<M: DeserializeOwned + Debug, D: DeserializeOwned + Debug>(json: &str) -> Result<(), TestCaseError> {
    let m = serde_json::from_str::<M>(json).map(|v| format!("{v:?}")).map_err(|e| e.to_string());
    let d = serde_json::from_str::<D>(json).map(|v| format!("{v:?}")).map_err(|e| e.to_string());
    if m != d {
        return Err(TestCaseError::fail(format!("{json}: map_struct {m:?}, derived {d:?}")));
    }
    Ok(())
}

/// `full` (every field, as `M` serializes) read alike, then many objects made from it.
fn compare<M, D>(full: &str, cases: u32)
where
    M: DeserializeOwned + Serialize + Debug,
    D: DeserializeOwned + Debug,
{
    let value: serde_json::Value = serde_json::from_str(full).unwrap();
    // The sample has every field, under the names `Serialize` writes.
    assert_eq!(serde_json::to_value(serde_json::from_str::<M>(full).unwrap()).unwrap(), value, "{full}");
    agree::<M, D>(full).unwrap();
    let fields: Vec<(String, String)> = value.as_object().unwrap().iter().map(|(k, v)| (k.clone(), v.to_string())).collect();
    let n = fields.len();
    let keys: Vec<String> = fields.iter().map(|f| f.0.clone()).chain(["zz", "", "FD", "fd "].map(String::from)).collect();
    let pool: Vec<String> = fields.iter().map(|f| f.1.clone()).chain(ODD.iter().map(|s| s.to_string())).collect();
    let object = (
        Just((0..n).collect::<Vec<usize>>()).prop_shuffle(),
        prop::collection::vec(prop::bool::weighted(0.9), n),
        prop::collection::vec(prop::option::weighted(0.1, 0..pool.len()), n),
        prop::collection::vec((0..keys.len(), 0..pool.len(), 0..=n), 0..3),
    );
    let mut runner = TestRunner::new(Config { cases, ..Config::default() });
    runner
        .run(&object, |(order, keep, replace, extra)| {
            let mut entries: Vec<(&str, &str)> = order
                .iter()
                .filter(|&&i| keep[i])
                .map(|&i| (fields[i].0.as_str(), replace[i].map_or(fields[i].1.as_str(), |p| pool[p].as_str())))
                .collect();
            for (k, v, at) in extra {
                entries.insert(at.min(entries.len()), (&keys[k], &pool[v]));
            }
            let body: Vec<String> = entries.iter().map(|(k, v)| format!("{k:?}:{v}")).collect();
            agree::<M, D>(&format!("{{{}}}", body.join(",")))
        })
        .unwrap();
    // Not objects: errors both (an array is read by position by the derive only; see the module).
    for odd in ODD.iter().filter(|s| !s.starts_with(['[', '{'])) {
        agree::<M, D>(odd).unwrap();
    }
    let values: Vec<&str> = fields.iter().map(|f| f.1.as_str()).collect();
    for array in ["[]".to_string(), format!("[{}]", values.join(","))] {
        let err = serde_json::from_str::<M>(&array).unwrap_err().to_string();
        assert!(err.starts_with("invalid type: sequence, expected struct "), "{array}: {err}");
    }
}

#[test]
fn every_struct_reads_as_the_derived_impl() {
    compare::<FdInfo, derived::FdInfo>(FD, 2000);
    compare::<ThreadInfo, derived::ThreadInfo>(THREAD, 1000);
    compare::<Counters, derived::Counters>(COUNTERS, 2000);
    compare::<Snapshot, derived::Snapshot>(&snapshot(), 3000);
    compare::<ReadyFd, derived::ReadyFd>(READY, 1000);
    compare::<ClusterNode, derived::ClusterNode>(NODE, 1000);
    compare::<RelayStatus, derived::RelayStatus>(RELAY, 3000);
    compare::<ModelRequest, derived::ModelRequest>(r#"{"model":"epoll-et"}"#, 1000);
    compare::<ModelAvailability, derived::ModelAvailability>(AVAILABLE, 1000);
    compare::<ModelStats, derived::ModelStats>(STATS, 3000);
    compare::<ModelsReport, derived::ModelsReport>(&report(), 1000);
    compare::<RecordHeader, derived::RecordHeader>(HEADER, 1000);
}

#[test]
fn the_rules_by_hand() {
    type M = FdInfo;
    type D = derived::FdInfo;
    for json in [
        r#"{"fd":5,"role":"tcp","interest":"r","name":"x"}"#,
        r#"{"fd":5,"fd":6,"role":"tcp","interest":"r","name":"x"}"#,
        r#"{"fd":5,"role":"tcp","interest":"r","name":"x","pending_out":1,"pending_out":2}"#,
        r#"{"role":"tcp","name":"x"}"#,
        r#"{"fd":"5","role":"tcp","interest":"r","name":"x"}"#,
        r#"{"fd":5,"role":"tcp","interest":"r","name":"x","extra":{"a":[1,2,{"b":null}]}}"#,
        r#"{"fd":5,"role":"tcp","interest":"r","name":"x","pending_out":null}"#,
        r#"{"fd":5,"role":"tcp","interest":"r","name":"x""#,
        r#"{"fd":5,"role":"tcp","interest":"r","name":"x"} 1"#,
        r#"{"f\u0064":5,"role":"tcp","interest":"r","name":"x"}"#,
        "{}",
    ] {
        agree::<M, D>(json).unwrap();
    }
    for json in [r#"{"model":"poll","x":1}"#, r#"{"x":1,"model":"poll"}"#, r#"{"model":"poll","model":"poll"}"#, "{}"] {
        agree::<ModelRequest, derived::ModelRequest>(json).unwrap();
    }
    let absent = r#"{"format":1,"writer":"w","started_unix_ms":0,"chat_addr":"a"}"#;
    agree::<RecordHeader, derived::RecordHeader>(absent).unwrap();
    assert_eq!(serde_json::from_str::<RecordHeader>(absent).unwrap().model, None);
    // Other deserializers: a `Value`, and keys given as numbers.
    let v: serde_json::Value = serde_json::from_str(FD).unwrap();
    assert_eq!(serde_json::from_value::<FdInfo>(v).unwrap(), serde_json::from_str::<FdInfo>(FD).unwrap());
    use serde::de::value::{Error, MapDeserializer};
    use serde::Deserialize;
    let by_index =
        |keys: Vec<(u64, u64)>| ThreadInfo::deserialize(MapDeserializer::<_, Error>::new(keys.into_iter())).map_err(|e| e.to_string());
    let derived_by_index = |keys: Vec<(u64, u64)>| {
        derived::ThreadInfo::deserialize(MapDeserializer::<_, Error>::new(keys.into_iter())).map_err(|e| e.to_string())
    };
    for keys in [vec![(0, 1), (1, 2)], vec![(0, 1), (7, 1), (1, 2), (2, 9)], vec![(0, 1), (0, 1)]] {
        assert_eq!(format!("{:?}", by_index(keys.clone())), format!("{:?}", derived_by_index(keys)));
    }
    let request =
        |keys: Vec<(u64, u64)>| ModelRequest::deserialize(MapDeserializer::<_, Error>::new(keys.into_iter())).map_err(|e| e.to_string());
    let derived_request = |keys: Vec<(u64, u64)>| {
        derived::ModelRequest::deserialize(MapDeserializer::<_, Error>::new(keys.into_iter())).map_err(|e| e.to_string())
    };
    for keys in [vec![(3, 1)], vec![(0, 1)]] {
        assert_eq!(format!("{:?}", request(keys.clone())), format!("{:?}", derived_request(keys)));
    }
}

/// `name as "key"`: a renamed field, read under its wire name only.
#[derive(Debug, Serialize)]
struct Renamed {
    #[serde(rename = "A")]
    a: u32,
    #[serde(rename = "bee", default)]
    b: Option<u32>,
    c: bool,
}
crate::map_struct::map_struct_deserialize!(Renamed { a as "A", b as "bee": default, c });

#[allow(dead_code)]
mod derived_renamed {
    #[derive(Debug, serde::Deserialize)]
    pub struct Renamed {
        #[serde(rename = "A")]
        pub a: u32,
        #[serde(rename = "bee", default)]
        pub b: Option<u32>,
        pub c: bool,
    }
}

#[test]
fn renamed_fields_read_under_their_wire_names() {
    compare::<Renamed, derived_renamed::Renamed>(r#"{"A":1,"bee":2,"c":true}"#, 1000);
    for json in [r#"{"a":1,"b":2,"c":true}"#, r#"{"A":1,"c":true}"#, r#"{"A":1,"A":1,"c":true}"#, r#"{"bee":1}"#] {
        agree::<Renamed, derived_renamed::Renamed>(json).unwrap();
    }
}

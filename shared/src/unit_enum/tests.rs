//! The shared unit-enum reader against serde's derived one, and every enum both ways.

use crate::*;
use serde::{Deserialize, Serialize};

/// The same enums as serde derives them (named alike: errors name the enum).
mod derived {
    #[derive(serde::Deserialize, Debug)]
    #[serde(rename_all = "snake_case")]
    pub enum CtlOp {
        Add,
        Mod,
        Del,
    }

    #[derive(serde::Deserialize, Debug)]
    pub enum Model {
        #[serde(rename = "blocking")]
        Blocking,
        #[serde(rename = "epoll-et")]
        EpollEt,
    }
}

const ODD: &[&str] =
    &[r#""nope""#, "5", "0", "-1", "null", "[]", r#"{"x":null}"#, r#"{"del":1}"#, r#"{"del":null,"add":null}"#, r#"{}"#, r#""Add""#, "1.5"];

fn agree<M: for<'de> Deserialize<'de> + fmt::Debug, D: for<'de> Deserialize<'de> + fmt::Debug>(json: &str) {
    let (m, d) = (serde_json::from_str::<M>(json), serde_json::from_str::<D>(json));
    match (&m, &d) {
        (Ok(m), Ok(d)) => assert_eq!(format!("{m:?}"), format!("{d:?}"), "{json}"),
        (Err(m), Err(d)) => assert_eq!(m.to_string(), d.to_string(), "{json}"),
        _ => panic!("{json}: shared {m:?}, derived {d:?}"),
    }
}
use std::fmt;

#[test]
fn reads_and_fails_as_the_derived_impl() {
    for json in [r#""add""#, r#""mod""#, r#""del""#, r#"{"mod":null}"#, " \"del\" "].iter().chain(ODD) {
        agree::<CtlOp, derived::CtlOp>(json);
    }
    for json in [r#""blocking""#, r#""epoll-et""#, r#""epoll_et""#, r#"{"epoll-et":null}"#].iter().chain(ODD) {
        // Only the two variants both know.
        if serde_json::from_str::<derived::Model>(json).is_ok() || json.contains("nope") || !json.contains("epoll") {
            let (m, d) = (serde_json::from_str::<Model>(json).map_err(|e| e.to_string()), serde_json::from_str::<derived::Model>(json));
            match (m, d) {
                (Ok(m), Ok(d)) => assert_eq!(format!("{m:?}"), format!("{d:?}"), "{json}"),
                (Err(m), Err(d)) => {
                    // The derived list names two variants, the real one eight.
                    let cut = |s: &str| s.split(", expected").next().unwrap().to_string();
                    assert_eq!(cut(&m), cut(&d.to_string()), "{json}")
                }
                (m, d) => panic!("{json}: shared {m:?}, derived {d:?}"),
            }
        }
    }
}

/// Every value of `all` reads what it writes. `all` is a type's `ALL`: as long as its variant
/// list (checked when the reader is built), and no value twice, so it is every variant.
fn both_ways<T: Serialize + for<'de> Deserialize<'de> + PartialEq + fmt::Debug + Copy>(all: &[T]) {
    for (i, v) in all.iter().enumerate() {
        assert!(!all[..i].contains(v), "{v:?} twice in ALL");
    }
    for &v in all {
        let json = serde_json::to_string(&v).unwrap();
        assert_eq!(serde_json::from_str::<T>(&json).unwrap(), v, "{json}");
        let name = json.trim_matches('"');
        assert_eq!(serde_json::from_str::<T>(&format!("{{\"{name}\":null}}")).unwrap(), v);
        assert_eq!(serde_json::from_value::<T>(serde_json::Value::from(name)).unwrap(), v);
    }
}

#[test]
fn every_enum_reads_what_it_writes() {
    both_ways(&Role::ALL);
    both_ways(&CtlOp::ALL);
    both_ways(&ThreadOp::ALL);
    both_ways(&ThreadRole::ALL);
    both_ways(&CloseReason::ALL);
    both_ways(&Model::ALL);
    both_ways(&Family::ALL);
    both_ways(&Interest::ALL);
    both_ways(&RelayState::ALL);
}

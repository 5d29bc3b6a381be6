//! The messages of `/ws/events`, both ways.

use crate::{Event, Snapshot};
use serde::de::value::MapAccessDeserializer;
use serde::de::{DeserializeSeed, Error, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use std::borrow::Cow;
use std::fmt;

/// (extension) Messages a browser may send on `/ws/events`. `pace` with `still: true`: the page
/// draws a flood as still pictures, so the gateway sends it about a frame a second and
/// folds the rest into counted gaps that carry the totals (and ask for a snapshot when the fd
/// table changed); `still: false` returns to every frame.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum ClientMsg {
    Pace { still: bool },
}

/// Frames on `/ws/events`, server to browser.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMsg {
    Snapshot(Snapshot),
    Events { events: Vec<Event> },
}

mod body;
mod read_event;
mod reorder;
#[cfg(test)]
mod tests;

use read_event::EventSeed;

/// `events`: the array, each element read by [`EventSeed`].
struct EventsSeed;

impl<'de> DeserializeSeed<'de> for EventsSeed {
    type Value = Vec<Event>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Vec<Event>, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Vec<Event>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a sequence")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<Event>, A::Error> {
                // As serde sizes a Vec: a hint, capped.
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
                while let Some(e) = seq.next_element_seed(EventSeed)? {
                    out.push(e);
                }
                Ok(out)
            }
        }
        d.deserialize_seq(V)
    }
}

/// The rest of an `events` message: `events`, other keys ignored.
fn events_body<'de, A: MapAccess<'de>>(mut map: A) -> Result<Vec<Event>, A::Error> {
    let mut events = None;
    while let Some(key) = map.next_key::<Cow<'de, str>>()? {
        if key != "events" {
            map.next_value::<IgnoredAny>()?;
        } else if events.is_some() {
            return Err(A::Error::duplicate_field("events"));
        } else {
            events = Some(map.next_value_seed(EventsSeed)?);
        }
    }
    events.ok_or_else(|| A::Error::missing_field("events"))
}

/// A snapshot on its own (a recording's chunk), read by the same code as a `snapshot` frame's
/// (one copy of its reader in the page's wasm): the same result and errors as
/// `serde_json::from_str::<Snapshot>` for any object.
pub(crate) fn snapshot_from_str(text: &str) -> Result<Snapshot, serde_json::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = Snapshot;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("struct Snapshot")
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Snapshot, A::Error> {
            Snapshot::deserialize(MapAccessDeserializer::new(map))
        }
    }
    let mut de = serde_json::Deserializer::from_str(text);
    let snapshot = de.deserialize_map(V)?;
    de.end()?;
    Ok(snapshot)
}

/// A browser parses several of these a second while a room floods, so the usual case — `type`
/// first, as muxscope writes it — reads the rest straight into its type, and each event straight
/// into its kind's fields ([`EventSeed`]), never buffering the message in serde's private
/// `Content` (whose generic code was a tenth of the page's wasm). Any other key order still
/// parses, the slow way ([`reorder`]).
impl<'de> Deserialize<'de> for ServerMsg {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ServerMsg, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ServerMsg;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a /ws/events message: an object with a \"type\"")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ServerMsg, A::Error> {
                let Some(first) = map.next_key::<Cow<'de, str>>()? else {
                    return Err(A::Error::missing_field("type"));
                };
                if first != "type" {
                    return reorder::server_msg(map, first.into_owned());
                }
                let tag = map.next_value::<Cow<'de, str>>()?;
                match tag.as_ref() {
                    "snapshot" => Snapshot::deserialize(MapAccessDeserializer::new(map)).map(ServerMsg::Snapshot),
                    "events" => events_body(map).map(|events| ServerMsg::Events { events }),
                    other => Err(A::Error::unknown_variant(other, &["snapshot", "events"])),
                }
            }
        }
        d.deserialize_map(V)
    }
}

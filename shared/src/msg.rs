//! The messages of `/ws/events`, both ways.

use crate::{Event, Snapshot};
use serde::{Deserialize, Deserializer, Serialize};
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

/// The same message, read the way serde reads any internally tagged enum (buffering it all
/// before it knows the type). Used when `type` is not the first key.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum TaggedServerMsg {
    Snapshot(Snapshot),
    Events { events: Vec<Event> },
}

#[derive(Deserialize)]
struct EventsBody {
    events: Vec<Event>,
}

/// A browser parses several of these a second while a room floods, so the usual case — `type`
/// first, as muxscope writes it — reads the rest straight into its type instead of buffering
/// the whole message first (about half the work for a snapshot of a thousand fds). Any other
/// key order still parses, the slow way.
impl<'de> Deserialize<'de> for ServerMsg {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<ServerMsg, D::Error> {
        use serde::de::value::MapAccessDeserializer;
        use serde::de::{Error, MapAccess, Visitor};
        use std::borrow::Cow;

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
                if first == "type" {
                    let tag = map.next_value::<Cow<'de, str>>()?;
                    return match tag.as_ref() {
                        "snapshot" => Snapshot::deserialize(MapAccessDeserializer::new(map)).map(ServerMsg::Snapshot),
                        "events" => {
                            EventsBody::deserialize(MapAccessDeserializer::new(map)).map(|b| ServerMsg::Events { events: b.events })
                        }
                        other => Err(A::Error::unknown_variant(other, &["snapshot", "events"])),
                    };
                }
                // Another order: gather the object and read it as tagged.
                let mut whole = serde_json::Map::new();
                whole.insert(first.into_owned(), map.next_value::<serde_json::Value>()?);
                while let Some((k, v)) = map.next_entry::<String, serde_json::Value>()? {
                    whole.insert(k, v);
                }
                let whole = serde_json::Value::Object(whole);
                match TaggedServerMsg::deserialize(whole).map_err(A::Error::custom)? {
                    TaggedServerMsg::Snapshot(s) => Ok(ServerMsg::Snapshot(s)),
                    TaggedServerMsg::Events { events } => Ok(ServerMsg::Events { events }),
                }
            }
        }
        d.deserialize_map(V)
    }
}

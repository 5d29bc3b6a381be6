//! The slow path of the hand-written readers: an object whose tag (`type`, `kind`) is not where
//! muxscope writes it. The rest of the object is gathered as `serde_json::Value`s, written back
//! as JSON with the tag first and read again by the fast path, so both orders give the same
//! result (and the same errors) without serde's private `Content` buffer.

use crate::{Event, ServerMsg};
use serde::de::{DeserializeSeed, Error, MapAccess};
use serde_json::Value;

/// An object's entries, in the order they came.
type Entries = Vec<(String, Value)>;

/// The object's JSON: `tag` first, then `rest` in order. A `String`, read back with `from_str`
/// as the page reads its frames: one copy of each reader in the wasm, not one per input type.
fn with_first(tag: (&str, &Value), rest: &[(String, Value)]) -> String {
    let mut json = Vec::new();
    for (i, (k, v)) in std::iter::once(tag).chain(rest.iter().map(|(k, v)| (k.as_str(), v))).enumerate() {
        json.push(if i == 0 { b'{' } else { b',' });
        // Writing a `Value` or a string into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut json, k);
        json.push(b':');
        let _ = serde_json::to_writer(&mut json, v);
    }
    json.push(b'}');
    String::from_utf8(json).expect("serde_json writes UTF-8")
}

/// Gathers the rest of `map` after `read` (entries already taken out), the `tag` set apart.
fn gather<'de, A: MapAccess<'de>>(mut map: A, tag: &'static str, mut read: Entries) -> Result<(Option<Value>, Entries), A::Error> {
    let mut found = None;
    while let Some(k) = map.next_key::<String>()? {
        let v = map.next_value::<Value>()?;
        if k != tag {
            read.push((k, v));
        } else if found.replace(v).is_some() {
            return Err(A::Error::duplicate_field(tag));
        }
    }
    Ok((found, read))
}

/// A `/ws/events` message whose first key, `first`, is not `type`; its value is next in `map`.
pub(super) fn server_msg<'de, A: MapAccess<'de>>(mut map: A, first: String) -> Result<ServerMsg, A::Error> {
    let v = map.next_value::<Value>()?;
    let (tag, rest) = gather(map, "type", vec![(first, v)])?;
    let tag = tag.ok_or_else(|| A::Error::missing_field("type"))?;
    serde_json::from_str(&with_first(("type", &tag), &rest)).map_err(A::Error::custom)
}

/// An event with a body field (`first`, whose value is next in `map`) before its `kind`; `seq`
/// and `ts_ns` if they came before it.
pub(super) fn event<'de, A: MapAccess<'de>>(mut map: A, seq: Option<u64>, ts_ns: Option<u64>, first: &str) -> Result<Event, A::Error> {
    let mut read: Entries = [("seq", seq), ("ts_ns", ts_ns)].into_iter().filter_map(|(k, v)| Some((k.into(), v?.into()))).collect();
    read.push((first.into(), map.next_value::<Value>()?));
    let (kind, rest) = gather(map, "kind", read)?;
    // Missing fields are named in the derived impl's order.
    let has = |name: &str| rest.iter().any(|(k, _)| k == name);
    let kind = match kind {
        Some(kind) => kind,
        None if !has("seq") => return Err(A::Error::missing_field("seq")),
        None if !has("ts_ns") => return Err(A::Error::missing_field("ts_ns")),
        None => return Err(A::Error::missing_field("kind")),
    };
    let json = with_first(("kind", &kind), &rest);
    super::EventSeed.deserialize(&mut serde_json::Deserializer::from_str(&json)).map_err(A::Error::custom)
}

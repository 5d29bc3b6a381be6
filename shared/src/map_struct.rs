//! Reading the wire's structs (`Snapshot`, `FdInfo`, `RelayStatus`, `ModelStats`, ...) from
//! JSON objects, with less code than serde's derive.
//!
//! serde's derived `Deserialize` for a struct writes a `visit_seq` (the struct as an array, which
//! muxscope never sends) beside its `visit_map`, and a field-identifier visitor of its own
//! (`visit_str`, `visit_bytes`, `visit_u64`); all of it is instantiated again for each
//! deserializer, about 1 to 5 KB of the page's wasm per struct. [`map_struct_deserialize!`]
//! writes a `visit_map` only, whose keys are read by one shared visitor ([`FieldIndex`]).
//!
//! For a JSON object the result is the derived impl's, errors included: the same field names,
//! unknown keys skipped (none of these structs denies them), `duplicate field` at a repeated key
//! before its value is read, `missing field` for the first absent required field in declaration
//! order, `#[serde(default)]` and `Option` fields absent as their default (`None`),
//! `#[serde(deny_unknown_fields)]`'s `unknown field`. The one difference: the impl asks for a
//! map (`deserialize_map`, not `deserialize_struct`, whose array branch is code of its own in
//! each instance), so a JSON array is `invalid type: sequence, expected struct X` where the
//! derived impl would read the fields by position; muxscope writes these structs as objects
//! only. `map_struct/tests.rs` compares each struct with a derived twin on many objects.

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;
use std::fmt;

/// A key's position in a struct's field list; `fields.len()` for a key it does not have (the
/// derived identifier's `__ignore`), or with `deny` (`#[serde(deny_unknown_fields)]`) the
/// derived identifier's error.
struct FieldIndex {
    fields: &'static [&'static str],
    deny: bool,
}

/// "field index 0 <= i < N", as the derived identifier says it.
struct IndexBelow(usize);

impl de::Expected for IndexBelow {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "field index 0 <= i < {}", self.0)
    }
}

impl FieldIndex {
    fn find<E: de::Error>(&self, at: Option<usize>, name: impl FnOnce() -> String) -> Result<usize, E> {
        match at {
            Some(i) => Ok(i),
            None if self.deny => Err(E::unknown_field(&name(), self.fields)),
            None => Ok(self.fields.len()),
        }
    }
}

impl<'de> Visitor<'de> for FieldIndex {
    type Value = usize;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("field identifier")
    }

    fn visit_u64<E: de::Error>(self, i: u64) -> Result<usize, E> {
        let n = self.fields.len();
        match usize::try_from(i) {
            Ok(i) if i < n => Ok(i),
            _ if self.deny => Err(E::invalid_value(de::Unexpected::Unsigned(i), &IndexBelow(n))),
            _ => Ok(n),
        }
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<usize, E> {
        self.find(self.fields.iter().position(|n| *n == s), || s.to_string())
    }

    fn visit_bytes<E: de::Error>(self, b: &[u8]) -> Result<usize, E> {
        self.find(self.fields.iter().position(|n| n.as_bytes() == b), || String::from_utf8_lossy(b).into_owned())
    }
}

impl<'de> DeserializeSeed<'de> for FieldIndex {
    type Value = usize;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<usize, D::Error> {
        d.deserialize_identifier(self)
    }
}

/// The next key's position in `fields` (see [`FieldIndex`]).
pub(crate) fn key<'de, A: MapAccess<'de>>(map: &mut A, fields: &'static [&'static str], deny: bool) -> Result<Option<usize>, A::Error> {
    map.next_key_seed(FieldIndex { fields, deny })
}

/// Reads a field's value, once: a second `name` is the derived impl's `duplicate field`.
pub(crate) fn value<'de, A: MapAccess<'de>, T: Deserialize<'de>>(
    map: &mut A,
    slot: &mut Option<T>,
    name: &'static str,
) -> Result<(), A::Error> {
    if slot.is_some() {
        return Err(de::Error::duplicate_field(name));
    }
    *slot = Some(map.next_value()?);
    Ok(())
}

/// Skips an unknown key's value.
pub(crate) fn skip<'de, A: MapAccess<'de>>(map: &mut A) -> Result<(), A::Error> {
    map.next_value::<IgnoredAny>().map(|_| ())
}

/// A required field's value, or the derived impl's `missing field`.
pub(crate) fn need<T, E: de::Error>(v: Option<T>, name: &'static str) -> Result<T, E> {
    v.ok_or_else(|| E::missing_field(name))
}

/// `impl Deserialize for $ty` reading a map only. List every field in declaration order (the
/// derived impl reports the first missing one in that order), each as `name`, `name as "key"`
/// for a renamed one, and with `: default` when an absent field takes its `Default` (a
/// `#[serde(default)]` field, or an `Option` one: absent is `None`). A field left out does
/// not compile (the struct is built from the list). `deny_unknown_fields Type { ... }` for a
/// `#[serde(deny_unknown_fields)]` struct.
macro_rules! map_struct_deserialize {
    (@key $field:ident) => { stringify!($field) };
    (@key $field:ident $wire:literal) => { $wire };
    (@take $v:ident $key:expr) => { $crate::map_struct::need($v, $key)? };
    (@take $v:ident $key:expr, default) => { $v.unwrap_or_default() };
    (deny_unknown_fields $ty:ident $fields:tt) => {
        map_struct_deserialize!(@impl true $ty $fields);
    };
    ($ty:ident $fields:tt) => {
        map_struct_deserialize!(@impl false $ty $fields);
    };
    (@impl $deny:literal $ty:ident { $($field:ident $(as $wire:literal)? $(: $default:ident)?),+ $(,)? }) => {
        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<$ty, D::Error> {
                const FIELDS: &[&str] = &[$(map_struct_deserialize!(@key $field $($wire)?)),+];
                #[allow(non_camel_case_types)]
                #[derive(Clone, Copy)]
                enum F {
                    $($field),+
                }
                struct V;
                impl<'de> serde::de::Visitor<'de> for V {
                    type Value = $ty;

                    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                        f.write_str(concat!("struct ", stringify!($ty)))
                    }

                    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<$ty, A::Error> {
                        const BY_INDEX: &[F] = &[$(F::$field),+];
                        $(let mut $field = None;)+
                        while let Some(i) = $crate::map_struct::key(&mut map, FIELDS, $deny)? {
                            match BY_INDEX.get(i) {
                                $(Some(F::$field) => {
                                    $crate::map_struct::value(&mut map, &mut $field, map_struct_deserialize!(@key $field $($wire)?))?
                                })+
                                None => $crate::map_struct::skip(&mut map)?,
                            }
                        }
                        Ok($ty {
                            $($field: map_struct_deserialize!(@take $field map_struct_deserialize!(@key $field $($wire)?) $(, $default)?)),+
                        })
                    }
                }
                d.deserialize_map(V)
            }
        }
    };
}
pub(crate) use map_struct_deserialize;

#[cfg(test)]
mod tests;

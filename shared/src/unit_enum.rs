//! Reading the wire's unit enums (`Role`, `CtlOp`, `Model`, `RelayState`, ...) with one shared visitor.
//!
//! serde's derived `Deserialize` gives each enum its own visitor, variant reader and identifier
//! visitor, every one instantiated again for each deserializer: about 1.3 KB of the page's wasm
//! per enum. [`unit_enum_deserialize!`] writes an impl that reads the variant's index through
//! [`read`] (one copy for all enums) and accepts exactly what the derived impl accepts: the
//! name as a string, or (serde_json's externally tagged form) `{"name": null}`, with the same
//! errors. The names are the serialized ones; `super::tests` checks each enum both ways.

use serde::de::{self, DeserializeSeed, Deserializer, EnumAccess, Unexpected, VariantAccess, Visitor};
use std::fmt;

/// One enum: its Rust name (for "expected enum Role") and its variants' wire names in order.
pub(crate) struct UnitEnum {
    pub name: &'static str,
    pub variants: &'static [&'static str],
}

struct VariantIndex(&'static [&'static str]);

/// "variant index 0 <= i < N", as the derived impl says it.
struct IndexBelow(usize);

impl de::Expected for IndexBelow {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "variant index 0 <= i < {}", self.0)
    }
}

impl<'de> Visitor<'de> for VariantIndex {
    type Value = usize;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("variant identifier")
    }

    fn visit_u64<E: de::Error>(self, i: u64) -> Result<usize, E> {
        match usize::try_from(i) {
            Ok(i) if i < self.0.len() => Ok(i),
            _ => Err(E::invalid_value(Unexpected::Unsigned(i), &IndexBelow(self.0.len()))),
        }
    }

    fn visit_str<E: de::Error>(self, s: &str) -> Result<usize, E> {
        self.0.iter().position(|n| *n == s).ok_or_else(|| E::unknown_variant(s, self.0))
    }

    fn visit_bytes<E: de::Error>(self, b: &[u8]) -> Result<usize, E> {
        self.0.iter().position(|n| n.as_bytes() == b).ok_or_else(|| E::unknown_variant(&String::from_utf8_lossy(b), self.0))
    }
}

impl<'de> DeserializeSeed<'de> for VariantIndex {
    type Value = usize;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<usize, D::Error> {
        d.deserialize_identifier(self)
    }
}

impl<'de> Visitor<'de> for UnitEnum {
    type Value = usize;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "enum {}", self.name)
    }

    fn visit_enum<A: EnumAccess<'de>>(self, data: A) -> Result<usize, A::Error> {
        let (i, variant) = data.variant_seed(VariantIndex(self.variants))?;
        variant.unit_variant()?;
        Ok(i)
    }
}

/// The index of the variant `d` names.
pub(crate) fn read<'de, D: Deserializer<'de>>(d: D, e: UnitEnum) -> Result<usize, D::Error> {
    d.deserialize_enum(e.name, e.variants, e)
}

/// `impl Deserialize for $ty` over [`read`]: `$ty`'s variants with their wire names, in
/// declaration order (the order serde numbers them).
macro_rules! unit_enum_deserialize {
    ($ty:ident { $($variant:ident = $wire:literal),+ $(,)? }) => {
        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<$ty, D::Error> {
                const ALL: &[$ty] = &[$($ty::$variant),+];
                let e = $crate::unit_enum::UnitEnum { name: stringify!($ty), variants: &[$($wire),+] };
                $crate::unit_enum::read(d, e).map(|i| ALL[i])
            }
        }
        // Every variant is listed: a new one stops the build here until it is; and `$ty::ALL`
        // (the codec's and the tests' list) has as many (its order: `super::tests`).
        const _: fn($ty) = |v| match v {
            $($ty::$variant => ()),+
        };
        const _: () = assert!($ty::ALL.len() == [$(stringify!($variant)),+].len(), "ALL lists every variant");
    };
}

// The wire's unit enums (their serialized names; `super::tests` checks them against the derived
// `Serialize`). A variant added without its name here does not compile: see the macro.
use crate::{CloseReason, CtlOp, Family, Interest, Model, RelayState, Role, ThreadOp, ThreadRole};

unit_enum_deserialize!(Role { Listener = "listener", Tcp = "tcp", Web = "web", Waker = "waker", Bot = "bot", Relay = "relay" });
unit_enum_deserialize!(CtlOp { Add = "add", Mod = "mod", Del = "del" });
unit_enum_deserialize!(ThreadOp { Spawn = "spawn", Exit = "exit" });
unit_enum_deserialize!(ThreadRole { Acceptor = "acceptor", Reader = "reader", Writer = "writer" });
unit_enum_deserialize!(CloseReason {
    Eof = "eof",
    Quit = "quit",
    Error = "error",
    LineTooLong = "line_too_long",
    LineTimeout = "line_timeout",
    OutputHardLimit = "output_hard_limit",
    OutputSoftLimit = "output_soft_limit",
    SelectorLimit = "selector_limit",
    MaxClients = "max_clients",
    PerIpLimit = "per_ip_limit",
    FdExhausted = "fd_exhausted",
    Shutdown = "shutdown",
});
unit_enum_deserialize!(Model {
    Blocking = "blocking",
    Nonblocking = "nonblocking",
    Select = "select",
    Poll = "poll",
    Epoll = "epoll",
    EpollEt = "epoll-et",
    Sigio = "sigio",
    IoUring = "io_uring",
});
unit_enum_deserialize!(Family {
    Blocking = "blocking",
    Nonblocking = "nonblocking",
    Multiplexing = "multiplexing",
    SignalDriven = "signal_driven",
    Asynchronous = "asynchronous",
});
unit_enum_deserialize!(Interest { Read = "r", Write = "w", ReadWrite = "rw" });
unit_enum_deserialize!(RelayState { Connecting = "connecting", Up = "up", Down = "down" });

#[cfg(test)]
mod tests;

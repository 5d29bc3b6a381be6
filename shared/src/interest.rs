//! What an fd waits for and what a wait reported.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// What a registered fd waits for. Never empty (as in Python's `selectors`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Interest {
    #[serde(rename = "r")]
    Read,
    #[serde(rename = "w")]
    Write,
    #[serde(rename = "rw")]
    ReadWrite,
}

impl Interest {
    /// Every interest in declaration order.
    pub const ALL: [Interest; 3] = [Interest::Read, Interest::Write, Interest::ReadWrite];

    pub fn is_readable(self) -> bool {
        matches!(self, Interest::Read | Interest::ReadWrite)
    }
    pub fn is_writable(self) -> bool {
        matches!(self, Interest::Write | Interest::ReadWrite)
    }
    pub fn from_bools(read: bool, write: bool) -> Option<Interest> {
        match (read, write) {
            (true, false) => Some(Interest::Read),
            (false, true) => Some(Interest::Write),
            (true, true) => Some(Interest::ReadWrite),
            (false, false) => None,
        }
    }
    /// The union, named as `selectors` says it (adding interest), not an arithmetic `+`.
    #[allow(clippy::should_implement_trait)]
    pub fn add(self, other: Interest) -> Interest {
        Interest::from_bools(self.is_readable() || other.is_readable(), self.is_writable() || other.is_writable())
            .expect("union of non-empty interests is non-empty")
    }
    /// `None` when removing `other` leaves nothing.
    pub fn remove(self, other: Interest) -> Option<Interest> {
        Interest::from_bools(self.is_readable() && !other.is_readable(), self.is_writable() && !other.is_writable())
    }
}

impl fmt::Display for Interest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Interest::Read => "READ",
            Interest::Write => "WRITE",
            Interest::ReadWrite => "READ|WRITE",
        })
    }
}

/// Readiness reported by a wait, with epoll's names. ERR and HUP count as readable.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct ReadyFlags(pub u8);

impl ReadyFlags {
    pub const IN: u8 = 1;
    pub const OUT: u8 = 2;
    pub const ERR: u8 = 4;
    pub const HUP: u8 = 8;
    pub const RDHUP: u8 = 16;
    const NAMES: [(u8, &'static str); 5] =
        [(Self::IN, "IN"), (Self::OUT, "OUT"), (Self::ERR, "ERR"), (Self::HUP, "HUP"), (Self::RDHUP, "RDHUP")];

    pub fn contains(self, bit: u8) -> bool {
        self.0 & bit != 0
    }
    /// Python's rule: an error or hang-up wakes a reader, who then sees EOF or the error.
    pub fn readable(self) -> bool {
        self.0 & (Self::IN | Self::ERR | Self::HUP | Self::RDHUP) != 0
    }
    pub fn writable(self) -> bool {
        self.0 & (Self::OUT | Self::ERR | Self::HUP) != 0
    }
}

impl fmt::Display for ReadyFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (bit, name) in Self::NAMES {
            if self.0 & bit != 0 {
                if !first {
                    f.write_str("|")?;
                }
                f.write_str(name)?;
                first = false;
            }
        }
        Ok(())
    }
}

impl Serialize for ReadyFlags {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ReadyFlags {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let mut bits = 0;
        for part in text.split('|').filter(|p| !p.is_empty()) {
            let (bit, _) = Self::NAMES
                .iter()
                .find(|(_, name)| *name == part)
                .ok_or_else(|| serde::de::Error::custom(format!("unknown ready flag {part:?}")))?;
            bits |= bit;
        }
        Ok(ReadyFlags(bits))
    }
}

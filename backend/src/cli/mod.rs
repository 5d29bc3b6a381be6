//! The binary's subcommands, one file each.

pub mod bench;
pub mod bots;
pub mod export;
pub mod replay;

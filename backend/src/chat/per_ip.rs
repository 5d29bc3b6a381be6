//! `--max-clients-per-ip`: how many clients each peer address holds, so one student's script
//! cannot take every slot of a classroom server. Off by default on loopback (every local client
//! shares 127.0.0.1), on by default when the chat port is bound to another address.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};

/// The default when the chat port is reachable from other machines.
pub const DEFAULT_PER_IP: usize = 64;

/// The limit in force for a listener on `bind`: `flag` if given (0 turns it off), else off on
/// loopback and [`DEFAULT_PER_IP`] elsewhere.
pub fn limit_for(bind: SocketAddr, flag: Option<usize>) -> Option<usize> {
    match flag {
        Some(0) => None,
        Some(n) => Some(n),
        None if bind.ip().is_loopback() => None,
        None => Some(DEFAULT_PER_IP),
    }
}

#[derive(Debug, Default)]
pub struct PerIp {
    limit: Option<usize>,
    held: HashMap<IpAddr, usize>,
}

impl PerIp {
    pub fn new(limit: Option<usize>) -> PerIp {
        PerIp { limit, held: HashMap::new() }
    }

    /// Takes a slot for `ip`, or says why not.
    pub fn admit(&mut self, ip: IpAddr) -> Result<(), String> {
        let Some(limit) = self.limit else { return Ok(()) };
        let n = self.held.entry(ip).or_insert(0);
        if *n >= limit {
            return Err(format!("too many connections from {ip} ({limit}, --max-clients-per-ip)"));
        }
        *n += 1;
        Ok(())
    }

    /// Gives back the slot `ip` took (a client admitted while the limit was on).
    pub fn release(&mut self, ip: IpAddr) {
        if let Some(n) = self.held.get_mut(&ip) {
            *n -= 1;
            if *n == 0 {
                self.held.remove(&ip);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_address_is_held_to_its_limit_and_others_are_not() {
        let (a, b): (IpAddr, IpAddr) = ("127.0.0.1".parse().unwrap(), "127.0.0.2".parse().unwrap());
        let mut p = PerIp::new(Some(2));
        assert!(p.admit(a).is_ok() && p.admit(a).is_ok());
        assert!(p.admit(a).unwrap_err().contains("--max-clients-per-ip"));
        assert!(p.admit(b).is_ok(), "another address still gets in");
        p.release(a);
        assert!(p.admit(a).is_ok(), "a slot given back is free again");
        for _ in 0..3 {
            p.release(b);
        }
        assert!(!p.held.contains_key(&b), "no count left behind, none below zero");
        let mut off = PerIp::new(None);
        assert!((0..1000).all(|_| off.admit(a).is_ok()));
    }

    #[test]
    fn off_on_loopback_on_elsewhere_unless_told() {
        let lo: SocketAddr = "127.0.0.1:3999".parse().unwrap();
        let lan: SocketAddr = "0.0.0.0:3999".parse().unwrap();
        assert_eq!(limit_for(lo, None), None);
        assert_eq!(limit_for(lan, None), Some(DEFAULT_PER_IP));
        assert_eq!(limit_for(lo, Some(5)), Some(5));
        assert_eq!(limit_for(lan, Some(0)), None);
    }
}

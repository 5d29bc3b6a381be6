//! The IO-models panel's corrections of the tutorial: each claim, the fact, and where to check
//! it (a man page or a kernel source file), so a student can read the source rather than trust
//! either of us. Pure data, tested natively; the words are `crate::i18n::Fix`.

use crate::i18n::Fix;

/// One correction: the tutorial's claim, the fact, and its sources.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Correction {
    /// A stable key (`data-fix` on the item).
    pub key: &'static str,
    pub claim: Fix,
    pub fact: Fix,
    /// Man pages and kernel files, as their own names (not translated).
    pub sources: &'static [&'static str],
}

/// Every correction, in the order the tutorial makes the claims' topics.
pub const CORRECTIONS: [Correction; 4] = [
    Correction {
        key: "select-limit",
        claim: Fix::SelectClaim,
        fact: Fix::SelectFact,
        sources: &[
            "select(2), BUGS: “select() can monitor only file descriptors numbers that are less than FD_SETSIZE (1024)”",
            "include/uapi/linux/posix_types.h (__FD_SETSIZE)",
        ],
    },
    Correction {
        key: "sigio-edge",
        claim: Fix::SigioClaim,
        fact: Fix::SigioFact,
        sources: &["fcntl(2): O_ASYNC, F_SETOWN, F_SETSIG", "fs/fcntl.c (kill_fasync), net/core/sock.c (sk_wake_async)"],
    },
    Correction {
        key: "aio-sockets",
        claim: Fix::AioClaim,
        fact: Fix::AioFact,
        sources: &["io_submit(2), io_uring(7)", "fs/aio.c (aio_read → the file's read_iter)"],
    },
    Correction {
        key: "epoll-copies",
        claim: Fix::MmapClaim,
        fact: Fix::MmapFact,
        sources: &["epoll(7), epoll_wait(2)", "fs/eventpoll.c (ep_send_events), include/linux/eventpoll.h (epoll_put_uevent: __put_user)"],
    },
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::i18n::Lang;

    #[test]
    fn every_correction_has_both_languages_and_a_source() {
        assert!(CORRECTIONS.len() <= 4, "the mmap claim and at most three more");
        for c in CORRECTIONS {
            for lang in Lang::ALL {
                assert!(!c.claim.t(lang).is_empty() && !c.fact.t(lang).is_empty(), "{}", c.key);
            }
            assert_ne!(c.fact.t(Lang::En), c.fact.t(Lang::Zh));
            assert!(!c.sources.is_empty() && c.sources.iter().any(|s| s.contains(".c") || s.contains(".h")), "{}: a kernel file", c.key);
            assert!(c.sources.iter().any(|s| s.contains('(')), "{}: a man page", c.key);
        }
        let keys: Vec<_> = CORRECTIONS.iter().map(|c| c.key).collect();
        assert!(keys.contains(&"epoll-copies"));
        // The tutorial's own words are quoted in both languages.
        for c in CORRECTIONS {
            assert!(c.claim.t(Lang::Zh).contains('“'), "{}", c.key);
        }
        for w in Fix::ALL {
            assert!(!w.t(Lang::En).is_empty() && !w.t(Lang::Zh).is_empty());
        }
    }
}

//! The per-model table the test prints (and fails with).

use super::compare::{Count, Report};
use super::kinds::{CHANGES, KINDS, OUTCOMES};
use std::fmt::Write as _;

/// `sys/ev`; `-/N` when the model's events of this kind stand for no syscall (table edits);
/// `sys/ev+N` when only some do (N table edits more).
fn cell(c: Count) -> String {
    match c {
        Count { sys: 0, ev: 0, edits: e } if e > 0 => format!("-/{e}"),
        Count { sys, ev, edits: 0 } => format!("{sys}/{ev}"),
        Count { sys, ev, edits } => format!("{sys}/{ev}+{edits}"),
    }
}

fn header(t: &mut String, cols: &[String], width: usize, tail: &str) {
    t.push_str("\nmodel      ");
    for c in cols {
        let _ = write!(t, " {c:>width$}");
    }
    let _ = writeln!(t, "  {tail}");
}

pub fn table(rows: &[(&str, Report)]) -> String {
    let mut t = String::from("syscalls/events; -/N: N events that are no syscall in that model (table edits); A/B+N: N such events more");
    let kinds: Vec<String> = KINDS.iter().map(|k| k.to_string()).collect();
    header(&mut t, &kinds, 13, "waker-reads gaps events");
    for (m, r) in rows {
        let _ = write!(t, "{m:<11}");
        for k in KINDS {
            let _ = write!(t, " {:>13}", cell(r.counts[k]));
        }
        let _ = writeln!(t, "  {:>11} {:>4} {:>6}", r.waker_reads, r.gaps, r.events_total);
    }
    let outcomes: Vec<String> = OUTCOMES.iter().map(|(k, o)| format!("{k}-{o}")).collect();
    header(&mut t, &outcomes, 12, "    recv-bytes     send-bytes");
    for (m, r) in rows {
        let _ = write!(t, "{m:<11}");
        for ko in OUTCOMES {
            let _ = write!(t, " {:>12}", cell(r.subs[&ko]));
        }
        for k in ["recv", "send"] {
            let (s, e) = r.bytes[k];
            let _ = write!(t, " {:>14}", format!("{s}/{e}"));
        }
        t.push('\n');
    }
    let changes: Vec<String> = CHANGES.iter().map(|(k, o)| format!("{k}-{o}")).collect();
    header(&mut t, &changes, 13, "");
    for (m, r) in rows {
        let _ = write!(t, "{m:<11}");
        for ko in CHANGES {
            let _ = write!(t, " {:>13}", cell(r.subs[&ko]));
        }
        t.push('\n');
    }
    for (m, r) in rows {
        for n in &r.notes {
            let _ = writeln!(t, "{m}: {n}");
        }
    }
    t
}

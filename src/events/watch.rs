//! The watcher's bookkeeping (docs/events.md, "Outside changes"), pure.
//!
//! New rows are found by primary key (`id > last seen`), but an id is given when a row is
//! inserted and becomes visible only when its transaction commits, which may come after a
//! higher id's. So an id skipped by a poll (between the last id seen and the highest one
//! found) is kept as a *gap* and looked for again on every poll for [`GAP_TTL_SECS`]; after
//! that it is taken for a rolled-back insert or a row deleted before it was seen. The marks
//! live in the database (`threadgate_event_state`, row 1), so every node shares them.

use serde::{Deserialize, Serialize};

/// How long a skipped id is looked for again, seconds.
pub const GAP_TTL_SECS: i64 = 60;
/// Skipped ids remembered at most per table (the newest are kept).
pub const MAX_GAPS: usize = 1000;
/// Threads remembered at most in the look-back window (the newest are kept: past it, a thread
/// may be reported twice, never missed).
pub const MAX_WINDOW: usize = 20_000;
/// Rows read at most per table and poll; more are read by the next polls.
pub const BATCH: i64 = 5000;
/// How far back, seconds, each poll looks again at `date_upd` before the mark: an outside
/// update whose transaction commits later than that after its `date_upd` is missed.
pub const LOOKBACK_SECS: i64 = 2;

/// What the state row's `gaps` column holds (JSON).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    /// (thread id, unix time it was first skipped).
    #[serde(default)]
    pub threads: Vec<(u64, i64)>,
    /// (message id, unix time it was first skipped).
    #[serde(default)]
    pub messages: Vec<(u64, i64)>,
    /// Set when the last `date_upd` scan was cut at its row limit: the next one goes on after
    /// this (date_upd, id) in the scan's order (`date_upd`, then id descending,
    /// `db::events::changed_threads_sql`) instead of looking back. Stored as `cut`: a mark
    /// written by an older threadgate under `after` (ids ascending) is not read, and the next
    /// scan looks back from the mark instead, which reports nothing twice (the window) and
    /// misses nothing.
    #[serde(default, rename = "cut")]
    pub after: Option<(String, u64)>,
    /// (thread id, date_upd) of the threads seen with a `date_upd` within the look-back
    /// window: seen again unchanged, they are not reported again.
    #[serde(default)]
    pub window: Vec<(u64, String)>,
}

impl Pending {
    pub fn parse(text: Option<&str>) -> Pending {
        text.and_then(|t| serde_json::from_str(t).ok())
            .unwrap_or_default()
    }

    pub fn to_text(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".into())
    }
}

/// After a scan of `id > last OR id IN (gaps)` ordered by id: the new last id and gaps.
/// `found` are the ids the scan returned (sorted); `now` is the database's unix time.
pub fn advance(last: u64, gaps: &[(u64, i64)], found: &[u64], now: i64) -> (u64, Vec<(u64, i64)>) {
    let new_last = found
        .iter()
        .copied()
        .filter(|&id| id > last)
        .max()
        .unwrap_or(last);
    let mut out: Vec<(u64, i64)> = gaps
        .iter()
        .filter(|(id, since)| found.binary_search(id).is_err() && now - since < GAP_TTL_SECS)
        .copied()
        .collect();
    // Newly skipped ids, newest first, at most MAX_GAPS of them.
    let mut fresh = Vec::new();
    let mut id = new_last;
    while id > last + 1 && fresh.len() < MAX_GAPS {
        id -= 1;
        if found.binary_search(&id).is_err() {
            fresh.push((id, now));
        }
    }
    out.extend(fresh);
    out.sort_unstable();
    if out.len() > MAX_GAPS {
        out.drain(..out.len() - MAX_GAPS);
    }
    (new_last, out)
}

/// `mark` minus [`LOOKBACK_SECS`], in the same `Y-m-d H:i:s` form; `None` when `mark` is not
/// a date (the scan then reads every thread).
pub fn lookback_floor(mark: &str) -> Option<String> {
    let t = chrono::NaiveDateTime::parse_from_str(mark, "%Y-%m-%d %H:%M:%S").ok()?;
    Some(
        (t - chrono::Duration::seconds(LOOKBACK_SECS))
            .format("%Y-%m-%d %H:%M:%S")
            .to_string(),
    )
}

/// The look-back window after a scan: what it held plus `seen`, without the entries older
/// than the new mark's floor, newest kept when over [`MAX_WINDOW`].
pub fn next_window(
    old: &[(u64, String)],
    seen: &[(u64, String)],
    mark: &str,
) -> Vec<(u64, String)> {
    let floor = lookback_floor(mark).unwrap_or_default();
    let mut w: Vec<(u64, String)> = old
        .iter()
        .chain(seen)
        .filter(|(_, d)| d.as_str() >= floor.as_str())
        .cloned()
        .collect();
    w.sort_unstable_by(|a, b| a.1.cmp(&b.1).then(a.0.cmp(&b.0)));
    w.dedup();
    if w.len() > MAX_WINDOW {
        w.drain(..w.len() - MAX_WINDOW);
    }
    w
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skipped_ids_become_gaps_and_are_dropped_when_found_or_old() {
        let (last, gaps) = advance(10, &[], &[11, 14], 1000);
        assert_eq!(last, 14);
        assert_eq!(gaps, [(12, 1000), (13, 1000)]);
        // 12 commits later and is found; 13 is still missing.
        let (last, gaps) = advance(last, &gaps, &[12], 1010);
        assert_eq!(last, 14);
        assert_eq!(gaps, [(13, 1000)]);
        // A minute later 13 is given up.
        let (last, gaps) = advance(last, &gaps, &[], 1000 + GAP_TTL_SECS);
        assert_eq!((last, gaps), (14, vec![]));
    }

    #[test]
    fn the_window_keeps_what_is_within_the_look_back() {
        assert_eq!(
            lookback_floor("2024-01-01 00:00:01").as_deref(),
            Some("2023-12-31 23:59:59")
        );
        assert_eq!(lookback_floor("junk"), None);
        let d = |s: &str| s.to_owned();
        let w = next_window(
            &[(1, d("2024-01-01 00:00:00")), (2, d("2024-01-01 00:00:09"))],
            &[(3, d("2024-01-01 00:00:10")), (2, d("2024-01-01 00:00:09"))],
            "2024-01-01 00:00:10",
        );
        assert_eq!(
            w,
            [(2, d("2024-01-01 00:00:09")), (3, d("2024-01-01 00:00:10"))]
        );
    }

    #[test]
    fn nothing_found_changes_nothing() {
        assert_eq!(advance(5, &[(3, 1)], &[], 2), (5, vec![(3, 1)]));
    }

    #[test]
    fn a_huge_jump_keeps_only_the_newest_gaps() {
        let (last, gaps) = advance(0, &[], &[1_000_000], 7);
        assert_eq!(last, 1_000_000);
        assert_eq!(gaps.len(), MAX_GAPS);
        assert_eq!(gaps[0].0, 1_000_000 - MAX_GAPS as u64);
        assert_eq!(gaps[MAX_GAPS - 1].0, 999_999);
    }

    #[test]
    fn pending_survives_a_round_trip_and_junk_reads_as_empty() {
        let p = Pending {
            threads: vec![(3, 9)],
            messages: vec![],
            after: Some(("2024-01-01 00:00:00".into(), 4)),
            window: vec![(3, "2024-01-01 00:00:00".into())],
        };
        assert_eq!(Pending::parse(Some(&p.to_text())), p);
        assert_eq!(Pending::parse(Some("nope")), Pending::default());
        assert_eq!(Pending::parse(None), Pending::default());
    }
}

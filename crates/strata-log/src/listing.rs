//! One listing of a partition directory when its log is opened.
//!
//! Opening a log used to list its directory twice (the cleaner's leftovers, then the
//! segments) and to probe a handful of optional files by opening them (cleaner
//! checkpoint, damage record, log start, producer snapshot): each probe a path walk and
//! a failed `open`. A broker restarting with 100,000 partitions made millions of those
//! calls. The listing is read once; files it does not name are not looked for. Nothing
//! else writes the directory while the log is being opened (it belongs to that log).

use std::collections::HashSet;
use std::fs;
use std::io;
use std::path::Path;

use crate::checkpoint::{self, CleanerCheckpoint};
use crate::clean::swap;
use crate::damage::{self, DamagedRange};
use crate::producer_snapshot;
use crate::producer_state::ProducerStateTable;
use crate::segment::parse_log_file_name;
use crate::txn_index::TXN_INDEX_EXT;

/// The names in a partition directory (UTF-8 ones; the log writes no others), after an
/// interrupted clean was finished or rolled back and leftover temp files removed.
pub(crate) struct Listing {
    names: HashSet<String>,
    /// Base offsets of the segments, sorted.
    pub bases: Vec<i64>,
}

impl Listing {
    /// Lists `dir`, creating it when missing; finishes an interrupted clean first
    /// (see `clean/swap.rs`) and removes leftover `.tmp` files.
    pub(crate) fn read(dir: &Path) -> io::Result<Listing> {
        let mut names = match names(dir) {
            Ok(names) => names,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::create_dir_all(dir)?;
                names(dir)?
            }
            Err(e) => return Err(e),
        };
        let interrupted_clean = names
            .iter()
            .any(|n| n.ends_with(swap::CLEANED_SUFFIX) || n.ends_with(swap::SWAP_SUFFIX));
        if interrupted_clean {
            // Rare: renames or removes files, so the directory is listed again.
            swap::recover(dir)?;
            names = self::names(dir)?;
        }
        names.retain(|name| {
            if name.ends_with(".tmp") {
                let _ = fs::remove_file(dir.join(name));
                return false;
            }
            true
        });
        let mut bases: Vec<i64> = names
            .iter()
            .filter_map(|n| parse_log_file_name(n))
            .collect();
        bases.sort_unstable();
        Ok(Listing { names, bases })
    }

    fn has(&self, name: &str) -> bool {
        self.names.contains(name)
    }

    /// Whether segment `base` has an aborted-transaction index file.
    pub(crate) fn has_txn_index(&self, base: i64) -> bool {
        self.has(&format!("{base:020}.{TXN_INDEX_EXT}"))
    }

    /// The producer snapshot, read and removed (see `producer_snapshot::take`).
    pub(crate) fn take_producer_snapshot(
        &self,
        dir: &Path,
    ) -> io::Result<Option<(ProducerStateTable, i64)>> {
        if self.has(producer_snapshot::SNAPSHOT_FILE) {
            producer_snapshot::take(dir)
        } else {
            Ok(None)
        }
    }

    /// The cleaner checkpoint (all zero when absent).
    pub(crate) fn cleaner(&self, dir: &Path) -> CleanerCheckpoint {
        if self.has(checkpoint::CLEANER_FILE) {
            checkpoint::read_cleaner(dir)
        } else {
            CleanerCheckpoint::default()
        }
    }

    /// The recorded damaged ranges (none when absent).
    pub(crate) fn damaged(&self, dir: &Path) -> Vec<DamagedRange> {
        if self.has(damage::DAMAGE_FILE) {
            damage::read(dir)
        } else {
            Vec::new()
        }
    }

    /// The stored log start offset, if any.
    pub(crate) fn log_start(&self, dir: &Path) -> Option<i64> {
        self.has(checkpoint::LOG_START_FILE)
            .then(|| checkpoint::read_log_start(dir))
            .flatten()
    }

    /// The recovery point and the high watermark, read from the one file that holds
    /// both.
    pub(crate) fn recovery_checkpoint(&self, dir: &Path) -> (Option<i64>, Option<i64>) {
        if self.has(checkpoint::CHECKPOINT_FILE) {
            checkpoint::read_recovery_and_high_watermark(dir)
        } else {
            (None, None)
        }
    }
}

fn names(dir: &Path) -> io::Result<HashSet<String>> {
    let mut names = HashSet::new();
    for entry in fs::read_dir(dir)? {
        if let Ok(name) = entry?.file_name().into_string() {
            names.insert(name);
        }
    }
    Ok(names)
}

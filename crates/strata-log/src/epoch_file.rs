//! `leader-epoch-checkpoint`: the partition's leader epoch cache on disk.
//!
//! Text, one item per line: the format version `0`, the number of entries, one
//! `<epoch> <start offset>` line per entry, oldest first, and last `crc <hex>`, the
//! CRC-32C of every byte before that line (so a damaged file is never mistaken for a
//! shorter valid one). Replaced atomically and
//! durably (temp file, fsync, rename, directory fsync) on every change that batches,
//! truncations or log-start moves make, and written before the batches that introduce a
//! new epoch. The one exception is a new leader's epoch, which starts at the log end
//! with no batch of it yet (`Log::assign_leader_epoch`): that write is not synced at
//! once (a broker creating thousands of partitions would wait two fsyncs for each) but
//! by the next flush, before the recovery point passes any batch of the epoch. So after
//! a crash the file is never behind the log below the recovery point; past it, recovery
//! folds the scanned batches' epochs in; and open cuts the file back to the recovered
//! log end. Anything unreadable (missing, torn, entries out of order) is rebuilt from
//! the batch headers.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;

use strata_replication::{EpochCache, EpochEntry};

use crate::checkpoint::sync_dir;

/// File name inside the partition directory.
pub(crate) const EPOCH_FILE: &str = "leader-epoch-checkpoint";
const FORMAT_VERSION: &str = "0";

/// Reads the cache; `None` when the file is absent or not one this code wrote intact.
pub(crate) fn read(dir: &Path) -> Option<EpochCache> {
    let text = fs::read_to_string(dir.join(EPOCH_FILE)).ok()?;
    parse(&text)
}

fn parse(text: &str) -> Option<EpochCache> {
    let (body, crc_line) = text.strip_suffix('\n')?.rsplit_once('\n')?;
    let body = &text[..body.len() + 1];
    let crc = u32::from_str_radix(crc_line.strip_prefix("crc ")?, 16).ok()?;
    if crc != strata_proto::crc::crc32c(body.as_bytes()) {
        return None;
    }
    let mut lines = body.lines();
    if lines.next()? != FORMAT_VERSION {
        return None;
    }
    let count: usize = lines.next()?.trim().parse().ok()?;
    let mut entries = Vec::with_capacity(count.min(1024));
    for _ in 0..count {
        let mut fields = lines.next()?.split(' ');
        let epoch: i32 = fields.next()?.parse().ok()?;
        let start_offset: i64 = fields.next()?.parse().ok()?;
        if fields.next().is_some() {
            return None;
        }
        entries.push(EpochEntry::new(epoch, start_offset));
    }
    if lines.next().is_some() {
        return None;
    }
    EpochCache::from_entries(entries).ok()
}

fn render(cache: &EpochCache) -> String {
    let mut text = format!("{FORMAT_VERSION}\n{}\n", cache.entries().len());
    for e in cache.entries() {
        text.push_str(&format!("{} {}\n", e.epoch, e.start_offset));
    }
    let crc = strata_proto::crc::crc32c(text.as_bytes());
    text.push_str(&format!("crc {crc:08x}\n"));
    text
}

/// Atomically and durably replaces the file with `cache`.
pub(crate) fn write(dir: &Path, cache: &EpochCache) -> io::Result<()> {
    let tmp = dir.join(format!("{EPOCH_FILE}.tmp"));
    let mut f = File::create(&tmp)?;
    f.write_all(render(cache).as_bytes())?;
    f.sync_all()?;
    drop(f);
    fs::rename(&tmp, dir.join(EPOCH_FILE))?;
    sync_dir(dir)
}

/// Rewrites the file with `cache` in place (no temp file: no inode churn when thousands
/// of partitions get leaders at once); durable only after [`sync`]. A write torn by a
/// crash fails the CRC and the cache is rebuilt from the batch headers.
pub(crate) fn write_unsynced(dir: &Path, cache: &EpochCache) -> io::Result<()> {
    crate::checkpoint::overwrite_in_place(&dir.join(EPOCH_FILE), render(cache).as_bytes())
}

/// Makes the last [`write_unsynced`] durable: the file, then its rename.
pub(crate) fn sync(dir: &Path) -> io::Result<()> {
    File::open(dir.join(EPOCH_FILE))?.sync_all()?;
    sync_dir(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_damage() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(read(dir.path()), None);
        let mut cache = EpochCache::new();
        write(dir.path(), &cache).expect("write");
        assert_eq!(read(dir.path()), Some(cache.clone()));
        cache.assign(0, 0);
        cache.assign(3, 120);
        cache.assign(7, 4000);
        write(dir.path(), &cache).expect("write");
        assert_eq!(read(dir.path()), Some(cache.clone()));
        let good = render(&cache);
        for len in 0..good.len() {
            assert_eq!(parse(&good[..len]), None, "prefix of {len} bytes");
        }
        let mut bytes = good.clone().into_bytes();
        for i in 0..bytes.len() {
            bytes[i] ^= 0x01;
            let damaged = String::from_utf8(bytes.clone()).expect("ascii");
            assert_eq!(parse(&damaged), None, "bit flip at {i}");
            bytes[i] ^= 0x01;
        }
        let with_crc = |body: &str| {
            format!(
                "{body}crc {:08x}\n",
                strata_proto::crc::crc32c(body.as_bytes())
            )
        };
        for bad in [
            "1\n0\n",           // unknown version
            "0\n2\n1 0\n",      // fewer entries than announced
            "0\n1\n1 0\n2 5\n", // more entries than announced
            "0\n2\n3 0\n2 5\n", // epochs going back
            "0\n2\n1 5\n2 5\n", // start offsets not increasing
            "0\n1\n1 0 9\n",    // extra field
            "0\n1\n-1 0\n",     // negative epoch
            "0\n1\nx 0\n",      // not a number
        ] {
            assert_eq!(parse(&with_crc(bad)), None, "{bad:?}");
        }
        assert!(parse(&with_crc("0\n1\n2 5\n")).is_some());
    }
}

//! Reads that never wait for the disk, for a caller on an async runtime worker.
//!
//! A Fetch's index lookups (offset index, batch headers, aborted-transaction index) are a
//! few small positioned reads that almost always hit the page cache. Handing them to a
//! blocking thread costs two thread wake-ups per Fetch, which for a consumer with one
//! Fetch in flight is most of the broker's latency. [`without_waiting`] runs a read path
//! on the calling thread with every file read on it made by `preadv2(RWF_NOWAIT)`: what
//! the page cache holds is read, anything else fails with [`io::ErrorKind::WouldBlock`]
//! at once, and so does a file whose handle is not open (opening may wait for the disk).
//! The caller then runs the same path again on a blocking thread. Nothing on the read
//! path acts on an error, so a failed attempt leaves no trace.
//!
//! The work is bounded too: after [`MAX_READS`] reads in one closure (a scan from a
//! segment's start after its index was found damaged, say) the next one is `WouldBlock`,
//! so a runtime worker is never held for long however much the path would read.
//!
//! The mode is a flag of the calling thread, set only for the duration of the closure.
//! Reads off the mode behave as `FileExt::read_exact_at`.

use std::cell::Cell;
use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;

use crate::error::LogError;

/// Most reads one [`without_waiting`] closure may make (each at most 16 KiB from the page
/// cache, a few microseconds): a Fetch of one partition near the log end makes none to
/// a few dozen.
pub const MAX_READS: u32 = 512;

thread_local! {
    /// `Some(reads left)` inside a [`without_waiting`] closure, `None` outside.
    static READS_LEFT: Cell<Option<u32>> = const { Cell::new(None) };
}

/// Runs `f` with this thread's log reads in no-wait mode (see the module docs).
pub fn without_waiting<T>(f: impl FnOnce() -> T) -> T {
    struct Restore(Option<u32>);
    impl Drop for Restore {
        fn drop(&mut self) {
            READS_LEFT.with(|r| r.set(self.0));
        }
    }
    let _restore = Restore(READS_LEFT.with(|r| r.replace(Some(MAX_READS))));
    f()
}

/// Whether this thread is in no-wait mode.
pub fn active() -> bool {
    READS_LEFT.with(Cell::get).is_some()
}

/// The error a read reports when it would have waited.
pub fn would_block() -> io::Error {
    io::Error::new(
        io::ErrorKind::WouldBlock,
        "the read would wait for the disk",
    )
}

/// Whether a log operation failed only because it would have waited.
pub fn is_would_block(e: &LogError) -> bool {
    matches!(e, LogError::Io(io) if io.kind() == io::ErrorKind::WouldBlock)
}

/// One `preadv2(RWF_NOWAIT)` of `file` at `position` into `buf`: the bytes the page cache
/// holds from there (0 at the end of the file), never waiting for the disk. `EAGAIN`
/// when the first page is not cached, `EOPNOTSUPP` where the file system has no such
/// reads.
pub fn pread_cached(file: &File, buf: &mut [u8], position: u64) -> io::Result<usize> {
    let offset = libc::off_t::try_from(position)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "read past 2^63"))?;
    let iov = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    // SAFETY: `iov` describes `buf`, valid and exclusively borrowed for the call; the
    // descriptor stays open while `file` is borrowed.
    let n = unsafe { libc::preadv2(file.as_raw_fd(), &iov, 1, offset, libc::RWF_NOWAIT) };
    // The kernel returns at most the length asked, or -1.
    usize::try_from(n).map_err(|_| io::Error::last_os_error())
}

/// `file.read_exact_at(buf, position)`, or in no-wait mode the same from the page cache
/// only: `WouldBlock` when part of it is not cached (or the file system cannot tell, or
/// the closure's reads are spent), `UnexpectedEof` when the file ends first.
pub(crate) fn read_exact_at(file: &File, buf: &mut [u8], position: u64) -> io::Result<()> {
    let Some(left) = READS_LEFT.with(Cell::get) else {
        return file.read_exact_at(buf, position);
    };
    if left == 0 {
        return Err(would_block());
    }
    READS_LEFT.with(|r| r.set(Some(left - 1)));
    let mut done = 0;
    while done < buf.len() {
        match pread_cached(file, &mut buf[done..], position + done as u64) {
            Ok(0) => {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "failed to fill whole buffer",
                ))
            }
            Ok(n) => done += n,
            Err(e) => match e.raw_os_error() {
                Some(libc::EINTR) => {}
                // Not cached, or no NOWAIT buffered reads on this file system.
                Some(libc::EAGAIN | libc::EOPNOTSUPP) => return Err(would_block()),
                _ => return Err(e),
            },
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A temporary file holding `bytes` (just written, so cached), kept while in use.
    fn written(bytes: &[u8]) -> (tempfile::NamedTempFile, File) {
        let mut tmp = tempfile::NamedTempFile::new().expect("tmp");
        std::io::Write::write_all(&mut tmp, bytes).expect("write");
        let file = tmp.reopen().expect("reopen");
        (tmp, file)
    }

    #[test]
    fn cached_bytes_read_the_same_and_the_mode_ends_with_the_closure() {
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        let (_tmp, file) = written(&data);
        let mut a = vec![0u8; 5000];
        let mut b = vec![0u8; 5000];
        read_exact_at(&file, &mut a, 70_000).expect("blocking read");
        assert!(!active());
        let r = without_waiting(|| {
            assert!(active());
            read_exact_at(&file, &mut b, 70_000)
        });
        assert!(!active(), "the mode ends with the closure");
        // Just written, so cached; a file system without NOWAIT reads says WouldBlock.
        match r {
            Ok(()) => assert_eq!(a, b),
            Err(e) => assert_eq!(e.kind(), io::ErrorKind::WouldBlock),
        }
        assert_eq!(&a[..], &data[70_000..75_000]);
    }

    #[test]
    fn the_end_of_the_file_is_eof_in_both_modes() {
        let (_tmp, file) = written(&[1u8; 100]);
        let mut buf = [0u8; 50];
        let blocking = read_exact_at(&file, &mut buf, 80).expect_err("past the end");
        assert_eq!(blocking.kind(), io::ErrorKind::UnexpectedEof);
        let nowait = without_waiting(|| read_exact_at(&file, &mut buf, 80)).expect_err("past");
        assert!(matches!(
            nowait.kind(),
            io::ErrorKind::UnexpectedEof | io::ErrorKind::WouldBlock
        ));
    }

    #[test]
    fn a_closure_gives_up_after_its_read_budget() {
        let (_tmp, file) = written(&[3u8; 64]);
        let mut buf = [0u8; 8];
        if without_waiting(|| read_exact_at(&file, &mut buf, 0)).is_err() {
            return; // no NOWAIT reads on this file system: every read says WouldBlock
        }
        let (ok, refused) = without_waiting(|| {
            let ok = (0..MAX_READS)
                .filter(|_| read_exact_at(&file, &mut buf, 0).is_ok())
                .count();
            (
                ok,
                read_exact_at(&file, &mut buf, 0).expect_err("budget spent"),
            )
        });
        assert_eq!(ok, MAX_READS as usize);
        assert_eq!(refused.kind(), io::ErrorKind::WouldBlock);
        // A new closure has a new budget; blocking reads have none.
        without_waiting(|| read_exact_at(&file, &mut buf, 0)).expect("fresh budget");
        read_exact_at(&file, &mut buf, 0).expect("blocking");
    }

    #[test]
    fn the_mode_is_restored_after_a_panic() {
        let r = std::panic::catch_unwind(|| without_waiting(|| panic!("inside")));
        assert!(r.is_err());
        assert!(!active());
    }
}

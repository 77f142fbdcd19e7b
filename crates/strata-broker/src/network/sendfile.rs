//! Record ranges sent straight from the page cache with `sendfile(2)`, on plain TCP
//! connections (`fetch.sendfile`, on by default).
//!
//! Why: the copy path (`response.rs`) reads a range into the connection's piece buffer
//! and writes it to the socket: two copies through user space, most of a consumer's cost
//! on the broker (`perf`: 58 % of its CPU serving 1 KiB records). `sendfile` hands the
//! cached pages to the socket instead; the bytes are copied once, by the receiver.
//!
//! When: a range goes this way only if (1) the connection is plain TCP (TLS must encrypt
//! in user space), (2) it lies wholly below its segment's verified mark, so its batches'
//! CRC-32Cs were already checked in this process (a range above the mark takes the copy
//! path, which checks as it reads), and (3) `cachestat(2)` says every page of it is in
//! the page cache: `sendfile` has no "only from the cache" mode and would block the
//! runtime worker on a disk read, so ranges not cached, and every range on kernels
//! without `cachestat` (before 6.5), take the copy path with its non-blocking reads and
//! blocking-thread fallback. (Pages evicted between the check and the send cost one disk
//! read on the worker: a window of microseconds.)
//!
//! Order on the wire: bytes gathered before a range are sent with `MSG_MORE`, so they
//! leave in the same TCP segments as the range's first bytes rather than as a small push
//! of their own.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;

use prometheus_client::metrics::counter::Counter;
use tokio::io::Interest;
use tokio::net::TcpStream;

use super::response::WriteError;

/// A response sink that may be a plain TCP socket.
pub trait ZeroCopySink {
    /// The socket, when record ranges may be sent to it with `sendfile`.
    fn plain_socket(&self) -> Option<&TcpStream> {
        None
    }
}

impl ZeroCopySink for Vec<u8> {}

impl ZeroCopySink for super::stream::WriteSide {
    fn plain_socket(&self) -> Option<&TcpStream> {
        match self {
            Self::Tcp(w) => Some(w.as_ref()),
            Self::Tls(_) => None,
        }
    }
}

/// `cachestat(2)`; the same number on every architecture that has it.
#[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
const SYS_CACHESTAT: libc::c_long = 451;

#[repr(C)]
struct CachestatRange {
    off: u64,
    len: u64,
}

#[repr(C)]
#[derive(Default)]
struct Cachestat {
    nr_cache: u64,
    nr_dirty: u64,
    nr_writeback: u64,
    nr_evicted: u64,
    nr_recently_evicted: u64,
}

/// Whether every page of `len` bytes of `file` at `position` is in the page cache.
/// `false` when it cannot tell (no `cachestat` on this kernel or architecture).
pub fn all_cached(file: &File, position: u64, len: usize) -> bool {
    #[cfg(any(target_arch = "x86_64", target_arch = "aarch64"))]
    {
        if len == 0 {
            return true;
        }
        // SAFETY: sysconf only reads a constant of the system.
        let page = match unsafe { libc::sysconf(libc::_SC_PAGESIZE) } {
            p if p > 0 => p as u64,
            _ => return false,
        };
        let end = position.saturating_add(len as u64);
        let pages = end.div_ceil(page) - position / page;
        let range = CachestatRange {
            off: position,
            len: len as u64,
        };
        let mut stat = Cachestat::default();
        // SAFETY: both pointers are to live, properly laid out structs for the call's
        // duration; the descriptor is open while `file` is borrowed.
        let rc = unsafe {
            libc::syscall(
                SYS_CACHESTAT,
                file.as_raw_fd(),
                &range as *const CachestatRange,
                &mut stat as *mut Cachestat,
                0u32,
            )
        };
        rc == 0 && stat.nr_cache >= pages
    }
    #[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
    {
        let _ = (file, position, len);
        false
    }
}

/// Sends `bytes` to `tcp` whole, telling the kernel more follows (`MSG_MORE`).
pub async fn send_more(
    tcp: &TcpStream,
    bytes: &[u8],
    bytes_out: &Counter,
) -> Result<(), WriteError> {
    let mut sent = 0;
    while sent < bytes.len() {
        let rest = &bytes[sent..];
        let r = tcp.try_io(Interest::WRITABLE, || {
            // SAFETY: `rest` is valid for reads of its length for the call; the socket
            // is open while `tcp` is borrowed.
            let n = unsafe {
                libc::send(
                    tcp.as_raw_fd(),
                    rest.as_ptr().cast(),
                    rest.len(),
                    libc::MSG_MORE | libc::MSG_NOSIGNAL,
                )
            };
            usize::try_from(n).map_err(|_| io::Error::last_os_error())
        });
        match r {
            Ok(n) => {
                sent += n;
                bytes_out.inc_by(n as u64);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                tcp.writable().await.map_err(WriteError::Socket)?;
            }
            Err(e) => return Err(WriteError::Socket(e)),
        }
    }
    Ok(())
}

/// Sends `len` bytes of `file` from `position` to `tcp` with `sendfile`. A file that
/// ends first is `UnexpectedEof` (the frame cannot be completed).
pub async fn send_range(
    tcp: &TcpStream,
    file: &File,
    position: u64,
    len: usize,
    bytes_out: &Counter,
) -> Result<(), WriteError> {
    let file_error = |at: u64, left: usize, source| WriteError::File {
        position: at,
        len: left,
        source,
    };
    let mut at = position;
    let mut left = len;
    while left > 0 {
        let Ok(mut offset) = libc::off_t::try_from(at) else {
            return Err(file_error(at, left, io::ErrorKind::InvalidInput.into()));
        };
        // At most what one call may move (Linux caps it just under 2 GiB).
        let want = left.min(0x7fff_f000);
        let r = tcp.try_io(Interest::WRITABLE, || {
            // SAFETY: `offset` is a live local the kernel updates; both descriptors are
            // open while `tcp` and `file` are borrowed.
            let n = unsafe { libc::sendfile(tcp.as_raw_fd(), file.as_raw_fd(), &mut offset, want) };
            usize::try_from(n).map_err(|_| io::Error::last_os_error())
        });
        match r {
            Ok(0) => return Err(file_error(at, left, io::ErrorKind::UnexpectedEof.into())),
            Ok(n) => {
                at += n as u64;
                left -= n;
                bytes_out.inc_by(n as u64);
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                tcp.writable().await.map_err(WriteError::Socket)?;
            }
            // The socket's errors end the connection quietly; anything else is the file's.
            Err(e) if is_socket_error(&e) => return Err(WriteError::Socket(e)),
            Err(e) => return Err(file_error(at, left, e)),
        }
    }
    Ok(())
}

fn is_socket_error(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(
            libc::EPIPE | libc::ECONNRESET | libc::ENOTCONN | libc::ETIMEDOUT | libc::EHOSTUNREACH
        )
    )
}

#[cfg(test)]
mod tests;

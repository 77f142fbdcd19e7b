//! `sendfile` through a real loopback connection: the bytes on the wire, which ranges
//! take it, and the fallbacks.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::sync::Arc;

use bytes::Bytes;
use prometheus_client::metrics::counter::Counter;
use strata_log::FileSlice;
use strata_proto::chunks::FrameBuilder;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};

use super::*;
use crate::handlers::ResponseFrame;
use crate::network::response::ResponseWriter;
use crate::network::stream::{self, ReadSide, WriteSide};
use crate::network::verify::raw_batch;

/// A segment file of valid batches of at least `len` bytes, fsynced.
fn segment(len: usize) -> (tempfile::NamedTempFile, Arc<File>, Vec<u8>) {
    let sizes = [61usize, 300_000, 4_000, 100, 700_000, 1_234];
    let mut data = Vec::new();
    let mut i = 0;
    while data.len() < len {
        data.extend(raw_batch(i as i64, sizes[i % sizes.len()]));
        i += 1;
    }
    let tmp = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(tmp.path(), &data).unwrap();
    let file = Arc::new(File::open(tmp.path()).unwrap());
    file.sync_all().unwrap();
    (tmp, file, data)
}

fn slice(file: &Arc<File>, position: u64, len: usize, verified_below: u64) -> FileSlice {
    crate::network::verify::test_slice(file, position, len, verified_below)
}

/// Drops the file's pages from the page cache (it was fsynced, so they are clean).
fn evict(file: &File) {
    // SAFETY: the descriptor is open while `file` is borrowed; the call only advises.
    let rc = unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
    assert_eq!(rc, 0);
}

/// A connected loopback pair: the server's halves, and the client's stream.
async fn pair() -> (ReadSide, WriteSide, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (client, accepted) = tokio::join!(TcpStream::connect(addr), listener.accept());
    let (rd, wr) = stream::plain(accepted.unwrap().0);
    (rd, wr, client.unwrap())
}

/// Writes `frame` with sendfile allowed; returns what the client received and the
/// bytes counted as sent without a copy.
async fn send(frame: ResponseFrame) -> (Vec<u8>, u64, u64) {
    let (_rd, mut wr, mut client) = pair().await;
    let len = frame.len();
    let zero_copy = Counter::default();
    let bytes_out = Counter::default();
    let mut writer = ResponseWriter::new(true, zero_copy.clone());
    let reading = tokio::spawn(async move {
        let mut got = vec![0u8; len];
        client.read_exact(&mut got).await.unwrap();
        got
    });
    writer.write(&mut wr, frame, &bytes_out).await.unwrap();
    (reading.await.unwrap(), zero_copy.get(), bytes_out.get())
}

fn expected(frame: &ResponseFrame, data: &[u8]) -> Vec<u8> {
    frame
        .materialize(|s| {
            Ok::<_, ()>(Bytes::copy_from_slice(
                &data[s.position as usize..][..s.len],
            ))
        })
        .unwrap()
}

/// `cachestat` tells cached from evicted pages (this kernel has it: 6.5 or later).
#[test]
fn cachestat_tells_cached_pages_from_evicted_ones() {
    let (_tmp, file, data) = segment(3 << 20);
    let _ = std::fs::read(_tmp.path()).unwrap();
    assert!(all_cached(&file, 0, data.len()), "just read: cached");
    assert!(all_cached(&file, 5, 0), "an empty range");
    evict(&file);
    assert!(!all_cached(&file, 0, data.len()), "evicted");
    assert!(!all_cached(&file, 1 << 20, 10), "evicted, inside");
    assert!(
        !all_cached(&file, data.len() as u64, 4096),
        "past the end of the file"
    );
}

/// Checked, cached ranges go by sendfile between gathered bytes, byte for byte what
/// the copy path would send; a range above the verified mark is copied (and checked).
#[tokio::test]
async fn checked_cached_ranges_go_by_sendfile_and_the_bytes_are_the_same() {
    let (tmp, file, data) = segment(2 << 20);
    let _ = std::fs::read(tmp.path()).unwrap();
    let all = data.len() as u64;
    let mut f = FrameBuilder::new();
    f.buf().extend_from_slice(b"header");
    f.records(slice(&file, 0, data.len(), all));
    f.buf().extend_from_slice(b"between");
    // Above its mark: the copy path, which checks it.
    f.records(slice(&file, 0, 300_061, 0));
    f.buf().extend_from_slice(&[9u8; 70_000]);
    f.records(slice(&file, 61, 300_000, all));
    f.buf().extend_from_slice(b"trailer");
    let frame: ResponseFrame = f.finish().unwrap();
    let want = expected(&frame, &data);
    let (got, zero_copy, bytes_out) = send(frame).await;
    assert!(got == want, "the bytes on the wire");
    assert_eq!(
        zero_copy,
        data.len() as u64 + 300_000,
        "the two checked ranges"
    );
    assert_eq!(bytes_out, want.len() as u64, "every byte counted once");
}

/// A range whose pages are not cached is read the non-blocking way instead.
#[tokio::test]
async fn a_range_not_in_the_page_cache_is_copied() {
    let (_tmp, file, data) = segment(1 << 20);
    evict(&file);
    let mut f = FrameBuilder::new();
    f.buf().extend_from_slice(b"header");
    f.records(slice(&file, 0, data.len(), data.len() as u64));
    let frame: ResponseFrame = f.finish().unwrap();
    let want = expected(&frame, &data);
    let (got, zero_copy, _) = send(frame).await;
    assert!(got == want);
    assert_eq!(zero_copy, 0);
}

/// A file shorter than the range cannot complete the frame.
#[tokio::test]
async fn a_file_that_ends_first_is_an_error() {
    let (_tmp, file, data) = segment(10_000);
    let (_rd, wr, _client) = pair().await;
    let tcp = wr.plain_socket().unwrap();
    let err = send_range(tcp, &file, 5_000, data.len(), &Counter::default())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, WriteError::File { source, .. } if source.kind() == io::ErrorKind::UnexpectedEof),
        "{err}"
    );
}

/// A TLS connection never offers its socket, nor does an in-memory sink.
#[test]
fn only_plain_sockets_take_sendfile() {
    assert!(Vec::<u8>::new().plain_socket().is_none());
}

//! The reader on a real loopback socket: frames whole and in order, and the receive
//! low-water mark raised for the rest of a large frame and back at one byte after it.

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

use super::{Reader, LOW_WATER_MAX, LOW_WATER_MIN};
use crate::network::budget::RequestBudget;
use crate::network::shared::{ConnState, Shared};
use crate::network::slots::ConnectionSlots;
use crate::network::stream;

const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn conn_state() -> Arc<ConnState> {
    let shared = Arc::new(Shared {
        budget: RequestBudget::new(64 << 20, Default::default(), Default::default()),
        slots: ConnectionSlots::new(16, usize::MAX, BTreeMap::new()),
    });
    shared.slots.admit(LOCAL).unwrap();
    Arc::new(ConnState { shared, ip: LOCAL })
}

/// A connected pair: the client's stream, the server's reader, and the server socket's
/// descriptor (the reader owns the socket).
async fn pair() -> (TcpStream, Reader, std::os::fd::RawFd) {
    let listener = TcpListener::bind((LOCAL, 0)).await.unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (server, _) = listener.accept().await.unwrap();
    let fd = server.as_raw_fd();
    let (rd, _wr) = stream::plain(server);
    let reader = Reader::new(
        rd,
        8 << 20,
        Duration::from_secs(60),
        Duration::from_secs(20),
    );
    (client, reader, fd)
}

fn low_water(fd: std::os::fd::RawFd) -> usize {
    let mut v: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `fd` is an open socket; `v` and `len` are valid for the call.
    let r = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_RCVLOWAT,
            std::ptr::addr_of_mut!(v).cast(),
            &mut len,
        )
    };
    assert_eq!(r, 0, "{}", std::io::Error::last_os_error());
    usize::try_from(v).unwrap()
}

fn framed(body: &[u8]) -> Vec<u8> {
    let mut f = u32::try_from(body.len()).unwrap().to_be_bytes().to_vec();
    f.extend_from_slice(body);
    f
}

#[tokio::test]
async fn low_water_follows_the_bytes_still_due() {
    let (_client, mut reader, fd) = pair().await;
    assert_eq!(low_water(fd), 1);
    reader.low_water_for(3 << 20).unwrap();
    assert_eq!(low_water(fd), LOW_WATER_MAX);
    reader.low_water_for(LOW_WATER_MIN + 100).unwrap();
    assert_eq!(low_water(fd), LOW_WATER_MIN + 100);
    // Too few bytes due to be worth a mark: back to the kernel's one byte.
    reader.low_water_for(LOW_WATER_MIN - 1).unwrap();
    assert_eq!(low_water(fd), 1);
}

#[tokio::test]
async fn a_large_frame_in_small_pieces_then_a_small_frame_without_delay() {
    let (mut client, mut reader, fd) = pair().await;
    let conn = conn_state();
    let large: Vec<u8> = (0..700 * 1024u32).map(|i| (i % 251) as u8).collect();
    let small = b"small frame".to_vec();
    let wire = framed(&large);
    let writer = tokio::spawn(async move {
        // A client writing a segment per kilobyte or so, pausing now and then, so the
        // reader waits many times with the frame part-way in.
        for (i, piece) in wire.chunks(3000).enumerate() {
            client.write_all(piece).await.unwrap();
            if i % 40 == 0 {
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }
        client
    });
    let f = reader.next_frame(&conn).await.unwrap().unwrap();
    assert_eq!(f.body.len(), large.len());
    assert!(f.body[..] == large[..], "frame bytes differ");
    // The mark is back at one byte before the next frame is waited for...
    assert_eq!(low_water(fd), 1);
    let mut client = writer.await.unwrap();
    // ...so a small frame right after is read at once, not when a mark fills.
    client.write_all(&framed(&small)).await.unwrap();
    let f = tokio::time::timeout(Duration::from_secs(5), reader.next_frame(&conn))
        .await
        .expect("small frame read without waiting for more bytes")
        .unwrap()
        .unwrap();
    assert_eq!(&f.body[..], &small[..]);
}

#[tokio::test]
async fn a_frame_cut_short_ends_in_truncation_not_a_wait() {
    let (mut client, mut reader, _fd) = pair().await;
    let conn = conn_state();
    let large = vec![7u8; 512 * 1024];
    let wire = framed(&large);
    // Half the frame, then the client closes: the raised mark must not hide the end.
    client.write_all(&wire[..wire.len() / 2]).await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    drop(client);
    let r = tokio::time::timeout(Duration::from_secs(5), reader.next_frame(&conn))
        .await
        .expect("end of stream seen while a mark was raised");
    assert!(
        matches!(r, Err(super::ReadError::Truncated)),
        "{:?}",
        r.err()
    );
}

//! A controller-port connection: plain TCP, or TLS (with client certificates both ways)
//! when the application supplies [`ControllerTls`].

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// A TLS handshake must finish in this time, or the connection is dropped.
pub(crate) const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// TLS for the controller port. The application builds the rustls configs (and swaps
/// them when certificates are renewed); each new connection asks for the current one.
///
/// The acceptor should require a client certificate: with it, a node outside the
/// cluster's trust cannot join as a learner, vote or send Raft messages at all.
pub trait ControllerTls: Send + Sync + std::fmt::Debug {
    /// For connections accepted on the controller port.
    fn acceptor(&self) -> tokio_rustls::TlsAcceptor;
    /// For connections to peers' controller ports (presents this node's certificate);
    /// `None` when there is nothing to verify peers with (every connection then fails).
    fn connector(&self) -> Option<tokio_rustls::TlsConnector>;
}

/// One connection, either way.
pub(crate) enum PeerStream {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::TlsStream<TcpStream>>),
}

impl PeerStream {
    /// The TCP socket underneath.
    pub(crate) fn tcp(&self) -> &TcpStream {
        match self {
            PeerStream::Plain(s) => s,
            PeerStream::Tls(s) => s.get_ref().0,
        }
    }

    /// Connects to a peer at `addr` (`host:port`), with TLS when `tls` is set; the
    /// peer's certificate must name `host` unless the connector's verifier skips names
    /// (`ssl.endpoint.identification.algorithm` empty).
    pub(crate) async fn connect(
        addr: &str,
        tls: Option<&Arc<dyn ControllerTls>>,
    ) -> io::Result<PeerStream> {
        let tcp = TcpStream::connect(addr).await?;
        let _ = tcp.set_nodelay(true);
        let Some(tls) = tls else {
            return Ok(PeerStream::Plain(tcp));
        };
        let name = server_name(addr)?;
        let connector = tls.connector().ok_or_else(|| {
            io::Error::other("no TLS client settings (truststore) for the controller port")
        })?;
        let stream = connector.connect(name, tcp).await?;
        Ok(PeerStream::Tls(Box::new(stream.into())))
    }

    /// Completes the server side of a new connection: the TLS handshake when `tls` is
    /// set, within [`HANDSHAKE_TIMEOUT`].
    pub(crate) async fn accept(
        tcp: TcpStream,
        tls: Option<&Arc<dyn ControllerTls>>,
    ) -> io::Result<PeerStream> {
        let _ = tcp.set_nodelay(true);
        let Some(tls) = tls else {
            return Ok(PeerStream::Plain(tcp));
        };
        let handshake = tls.acceptor().accept(tcp);
        match tokio::time::timeout(HANDSHAKE_TIMEOUT, handshake).await {
            Ok(Ok(s)) => Ok(PeerStream::Tls(Box::new(s.into()))),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "no TLS handshake in time",
            )),
        }
    }
}

/// The name a peer's certificate must carry: the host part of `host:port` (an IP
/// address or a DNS name; IPv6 in brackets).
fn server_name(addr: &str) -> io::Result<ServerName<'static>> {
    let bad = |why: &str| io::Error::new(io::ErrorKind::InvalidInput, format!("{addr}: {why}"));
    let (host, _port) = addr.rsplit_once(':').ok_or_else(|| bad("not HOST:PORT"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(host.to_string()).map_err(|_| bad("not a valid host name"))
}

impl AsyncRead for PeerStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            PeerStream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            PeerStream::Tls(s) => Pin::new(&mut **s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for PeerStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            PeerStream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            PeerStream::Tls(s) => Pin::new(&mut **s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            PeerStream::Plain(s) => Pin::new(s).poll_flush(cx),
            PeerStream::Tls(s) => Pin::new(&mut **s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            PeerStream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            PeerStream::Tls(s) => Pin::new(&mut **s).poll_shutdown(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_names_from_addresses() {
        assert!(server_name("127.0.0.1:9093").is_ok());
        assert!(server_name("[::1]:9093").is_ok());
        assert!(server_name("node-1.example.com:9093").is_ok());
        assert!(server_name("no-port").is_err());
        assert!(server_name("bad host:1").is_err());
    }
}

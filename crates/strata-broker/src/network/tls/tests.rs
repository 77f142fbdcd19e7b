//! This node's TLS connections to its peers, handshaking with the config a listener
//! serves: `ssl.endpoint.identification.algorithm` decides whether the peer's
//! certificate must name the host dialled; the chain and the client certificate are
//! checked either way.

use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
use rustls::pki_types::ServerName;

use super::*;
use crate::listeners::TlsProtocols;

fn ca(cn: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.distinguished_name.push(DnType::CommonName, cn);
    CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap()
}

/// Settings of a node whose certificate, from `issuer`, names only `wrong.example`;
/// it trusts `trusted`.
fn node(
    issuer: &CertifiedIssuer<'static, KeyPair>,
    trusted: &CertifiedIssuer<'static, KeyPair>,
    verify_host_name: bool,
) -> TlsSettings {
    let mut params = CertificateParams::new(vec!["wrong.example".to_string()]).unwrap();
    params.distinguished_name.push(DnType::CommonName, "node");
    let key = KeyPair::generate().unwrap();
    let cert = params.signed_by(&key, issuer).unwrap();
    TlsSettings {
        key: Pem::Inline(key.serialize_pem()),
        chain: Pem::Inline(cert.pem()),
        truststore: Some(Pem::Inline(trusted.pem())),
        client_auth: ClientAuth::Required,
        principal_mapping_rules: None,
        protocols: TlsProtocols::default(),
        cipher_suites: Vec::new(),
        verify_host_name,
    }
}

/// A handshake from `client` to `server` addressed as `host`: `Ok` with the client
/// certificate the server saw, or the client's error.
async fn handshake(
    client: &TlsSettings,
    server: &TlsSettings,
    host: &str,
) -> Result<usize, String> {
    let connector = tokio_rustls::TlsConnector::from(Arc::new(client_config(client).unwrap()));
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server_config(server).unwrap()));
    let (c, s) = tokio::io::duplex(64 * 1024);
    let name = ServerName::try_from(host.to_string()).unwrap();
    let serving = tokio::spawn(async move {
        let stream = acceptor.accept(s).await.map_err(|e| e.to_string())?;
        let seen = stream.get_ref().1.peer_certificates().map_or(0, <[_]>::len);
        Ok::<usize, String>(seen)
    });
    let connected = connector.connect(name, c).await.map_err(|e| e.to_string());
    let served = serving.await.unwrap();
    connected?;
    served
}

#[tokio::test]
async fn host_names_are_checked_unless_the_setting_is_empty() {
    let cluster = ca("cluster");
    let server = node(&cluster, &cluster, true);
    for host in ["127.0.0.1", "localhost"] {
        let e = handshake(&node(&cluster, &cluster, true), &server, host)
            .await
            .unwrap_err();
        assert!(e.contains("not valid for name"), "{host}: {e}");
        let seen = handshake(&node(&cluster, &cluster, false), &server, host)
            .await
            .unwrap();
        assert_eq!(seen, 1, "{host}: the client certificate is still presented");
    }
}

#[tokio::test]
async fn without_the_host_name_check_the_chain_still_counts() {
    let cluster = ca("cluster");
    let stranger = ca("stranger");
    // The server's certificate is from a CA the client does not trust.
    let e = handshake(
        &node(&cluster, &cluster, false),
        &node(&stranger, &cluster, false),
        "127.0.0.1",
    )
    .await
    .unwrap_err();
    assert!(e.contains("UnknownIssuer"), "{e}");
    // The client's certificate is from a CA the server does not trust: mTLS holds.
    let e = handshake(
        &node(&stranger, &cluster, false),
        &node(&cluster, &cluster, false),
        "127.0.0.1",
    )
    .await;
    assert!(e.is_err(), "{e:?}");
}

//! The controller port in TLS with client certificates: members of the cluster's trust
//! elect, replicate, forward and join; anyone else is refused before a request is read.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use crate::common::*;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use strata_raft::{ApplyHook, ControllerTls, MetadataRaft, NoopHook, RaftOptions};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::time::Instant;

/// A certificate authority: the cluster's trust.
struct Ca {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl Ca {
    fn new(name: &str) -> Ca {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        Ca { issuer }
    }

    fn der(&self) -> CertificateDer<'static> {
        self.issuer.der().clone()
    }

    /// TLS for a node whose certificate names 127.0.0.1, trusting only `trust`.
    fn node(&self, name: &str, trust: &Ca) -> Arc<dyn ControllerTls> {
        let key = KeyPair::generate().unwrap();
        let mut params = CertificateParams::new(vec!["127.0.0.1".to_string()]).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        let chain = vec![cert.der().clone()];
        let key_der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        let mut roots = RootCertStore::empty();
        roots.add(trust.der()).unwrap();
        let roots = Arc::new(roots);
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier =
            WebPkiClientVerifier::builder_with_provider(Arc::clone(&roots), Arc::clone(&provider))
                .build()
                .unwrap();
        let server = ServerConfig::builder_with_provider(Arc::clone(&provider))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain.clone(), key_der.clone_key())
            .unwrap();
        let client = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key_der)
            .unwrap();
        Arc::new(StaticTls {
            server: Arc::new(server),
            client: Arc::new(client),
        })
    }
}

#[derive(Debug)]
struct StaticTls {
    server: Arc<ServerConfig>,
    client: Arc<ClientConfig>,
}

impl ControllerTls for StaticTls {
    fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        Arc::clone(&self.server).into()
    }
    fn connector(&self) -> Option<tokio_rustls::TlsConnector> {
        Some(Arc::clone(&self.client).into())
    }
}

async fn start_tls(
    id: u64,
    listen: &str,
    voters: &[(u64, String)],
    dir: &Path,
    tls: Arc<dyn ControllerTls>,
) -> MetadataRaft {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut opts: RaftOptions = options(id, listen, voters, dir, None);
        opts.tls = Some(Arc::clone(&tls));
        match MetadataRaft::start(opts, Arc::new(NoopHook) as Arc<dyn ApplyHook>).await {
            Ok(n) => return n,
            Err(e) if e.to_string().contains("in use") && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("node {id} failed to start: {e}"),
        }
    }
}

/// Sends one plaintext controller frame to `addr`; whether any answer came back.
async fn plaintext_frame_answered(addr: &str, json: &str) -> bool {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut frame = (json.len() as u32).to_be_bytes().to_vec();
    frame.extend_from_slice(json.as_bytes());
    let _ = s.write_all(&frame).await;
    let mut buf = [0u8; 64];
    // The TLS acceptor answers garbage with an alert at most, then closes: never a
    // length-prefixed JSON reply.
    let read = tokio::time::timeout(Duration::from_secs(15), async {
        let mut got = Vec::new();
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return got,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await
    .expect("the connection is closed, not left hanging");
    read.len() >= 4 && serde_json::from_slice::<serde_json::Value>(&read[4..]).is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_voters_replicate_forward_and_refuse_outsiders() {
    let root = tempfile::tempdir().unwrap();
    let ca = Ca::new("cluster-ca");
    let rogue = Ca::new("rogue-ca");
    let voters = voters(3);
    let mut nodes = Vec::new();
    for (id, addr) in &voters {
        let tls = ca.node(&format!("node-{id}"), &ca);
        let dir = root.path().join(format!("n{id}"));
        nodes.push(start_tls(*id, addr, &voters, &dir, tls).await);
    }
    let handles: Vec<&MetadataRaft> = nodes.iter().collect();
    let leader_id = agreed_leader(&handles).await;
    let leader = &nodes[(leader_id - 1) as usize];
    let (index, _) = propose(leader, topic("over-tls")).await;
    for n in &nodes {
        applied(n, index).await;
        assert!(n.image().topic("over-tls").is_some());
        n.set_forward_handler(echo_handler(n.node_id()));
    }
    let follower = nodes.iter().find(|n| n.node_id() != leader_id).unwrap();
    let reply = follower
        .forward_to_leader(b"hi".to_vec(), Duration::from_secs(10))
        .await
        .expect("forwarding works over TLS");
    assert_eq!(reply, format!("{leader_id}:hi").into_bytes());
    assert_eq!(
        nodes.iter().map(|n| n.refused_connections()).sum::<u64>(),
        0,
        "members never refuse each other"
    );

    // A learner with a certificate from the cluster's CA joins and follows.
    let learner_addr = free_addr();
    let learner = start_tls(
        4,
        &learner_addr,
        &voters,
        &root.path().join("n4"),
        ca.node("node-4", &ca),
    )
    .await;
    eventually("the trusted learner to join", || {
        leader.learners().contains(&4)
    })
    .await;
    applied(&learner, index).await;

    // An outsider with a certificate of its own CA cannot join.
    let outsider = start_tls(
        5,
        &free_addr(),
        &voters,
        &root.path().join("n5"),
        rogue.node("node-5", &rogue),
    )
    .await;
    eventually("the outsider's attempts to be refused", || {
        nodes.iter().map(|n| n.refused_connections()).sum::<u64>() >= 2
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(!leader.learners().contains(&5), "{:?}", leader.learners());
    assert_eq!(outsider.applied_index(), 0, "the outsider got no log entry");
    outsider.shutdown().await;

    // Plaintext frames — a join request, a forged heartbeat from a made-up leader — get no
    // answer and change nothing.
    let refused_before: u64 = nodes.iter().map(|n| n.refused_connections()).sum();
    let term = leader.metrics().borrow().current_term;
    let forged = format!(
        r#"{{"AppendEntries":{{"vote":{{"leader_id":{{"term":{},"node_id":9}},"committed":true}},"prev_log_id":null,"entries":[],"leader_commit":null}}}}"#,
        term + 10
    );
    for (_, addr) in &voters {
        assert!(
            !plaintext_frame_answered(
                addr,
                r#"{"JoinLearner":{"node_id":6,"addr":"127.0.0.1:1"}}"#
            )
            .await
        );
        assert!(!plaintext_frame_answered(addr, &forged).await);
    }
    eventually("the plaintext connections to be counted as refused", || {
        nodes.iter().map(|n| n.refused_connections()).sum::<u64>() >= refused_before + 6
    })
    .await;
    assert!(!leader.learners().contains(&6));
    let leader_now = agreed_leader(&handles).await;
    assert!(
        leader.metrics().borrow().current_term < term + 10,
        "the forged term never reached Raft"
    );
    let (after, _) = propose(&nodes[(leader_now - 1) as usize], topic("still-fine")).await;
    for n in &nodes {
        applied(n, after).await;
    }

    learner.shutdown().await;
    for n in &nodes {
        n.shutdown().await;
    }
}

//! How a follower secures its connection to a leader's inter-broker listener: TLS with
//! the listener's own settings (this node's certificate, the leader's verified against
//! the truststore), then, on SASL listeners, a login as the admin user.
//!
//! The SASL steps follow Kafka's: SaslHandshake v1 names the mechanism, SaslAuthenticate
//! v2 carries the tokens (PLAIN in one round; SCRAM in two, the server's signature
//! checked). The session lifetime the leader answers (KIP-368) is kept, so the follower
//! reconnects before the leader would close the connection.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use bytes::Bytes;
use kafka_protocol::messages::{SaslAuthenticateRequest, SaslHandshakeRequest};
use kafka_protocol::protocol::StrBytes;
use rand::RngCore;
use strata_auth::scram::{ScramClient, ScramMechanism, ScramServer};

use super::client::BrokerConnection;
use crate::network::tls::Tls;
use crate::Broker;

/// What a follower needs to reach the inter-broker listener.
#[derive(Clone, Default)]
pub(crate) struct PeerSecurity {
    /// TLS, for SSL and SASL_SSL listeners.
    pub(crate) tls: Option<Arc<Tls>>,
    /// SASL login, for SASL listeners.
    pub(crate) sasl: Option<SaslLogin>,
}

/// A SASL login: mechanism and the admin user's credentials.
#[derive(Clone)]
pub(crate) struct SaslLogin {
    pub(crate) mechanism: String,
    pub(crate) user: String,
    pub(crate) password: String,
}

impl PeerSecurity {
    /// The security of this broker's inter-broker listener (every broker of a cluster
    /// is configured alike). Settings were checked at start
    /// (`listeners::check_inter_broker`).
    pub(crate) fn for_broker(broker: &Broker) -> PeerSecurity {
        let Some(endpoint) = broker
            .listeners
            .iter()
            .find(|e| e.config.name == broker.inter_broker_listener)
        else {
            return PeerSecurity::default();
        };
        let sasl = match (&broker.config.admin, endpoint.config.protocol.sasl()) {
            (Some((user, password)), true) => crate::listeners::inter_broker_sasl_mechanism(
                &broker.config.security,
                &endpoint.config,
            )
            .ok()
            .map(|mechanism| SaslLogin {
                mechanism,
                user: user.clone(),
                password: password.clone(),
            }),
            _ => None,
        };
        PeerSecurity {
            tls: endpoint.tls.clone(),
            sasl,
        }
    }
}

/// Runs the SASL exchange on a fresh connection; returns the session lifetime the
/// server set (`None`: no limit).
pub(crate) async fn sasl_login(
    conn: &mut BrokerConnection,
    login: &SaslLogin,
    timeout: Duration,
) -> anyhow::Result<Option<Duration>> {
    let hs = conn
        .call(
            &SaslHandshakeRequest::default()
                .with_mechanism(StrBytes::from_string(login.mechanism.clone())),
            1,
            timeout,
        )
        .await?;
    if hs.error_code != 0 {
        bail!(
            "the leader does not take SASL mechanism {} (error {}; it offers {:?})",
            login.mechanism,
            hs.error_code,
            hs.mechanisms.iter().map(|m| m.as_str()).collect::<Vec<_>>()
        );
    }
    match ScramMechanism::from_name(&login.mechanism) {
        Some(mech) => scram(conn, login, mech, timeout).await,
        None => {
            let token = format!("\0{}\0{}", login.user, login.password).into_bytes();
            authenticate(conn, token, timeout)
                .await
                .map(|(_, life)| life)
        }
    }
}

async fn scram(
    conn: &mut BrokerConnection,
    login: &SaslLogin,
    mech: ScramMechanism,
    timeout: Duration,
) -> anyhow::Result<Option<Duration>> {
    let mut seed = [0u8; 24];
    rand::rngs::OsRng.fill_bytes(&mut seed);
    let mut client = ScramClient::new(
        mech,
        &login.user,
        &login.password,
        ScramServer::nonce_from_bytes(&seed),
    );
    let first = client.client_first()?;
    let (server_first, _) = authenticate(conn, first, timeout).await?;
    let last = client
        .server_first(&server_first)
        .context("the leader's SCRAM server-first message")?;
    let (server_final, life) = authenticate(conn, last, timeout).await?;
    client
        .server_final(&server_final)
        .context("the leader's SCRAM signature does not verify")?;
    Ok(life)
}

/// One SaslAuthenticate round: the server's token and the session lifetime.
async fn authenticate(
    conn: &mut BrokerConnection,
    token: Vec<u8>,
    timeout: Duration,
) -> anyhow::Result<(Vec<u8>, Option<Duration>)> {
    let resp = conn
        .call(
            &SaslAuthenticateRequest::default().with_auth_bytes(Bytes::from(token)),
            2,
            timeout,
        )
        .await?;
    if resp.error_code != 0 {
        bail!(
            "SASL authentication as the admin user failed (error {}: {})",
            resp.error_code,
            resp.error_message.as_deref().unwrap_or("")
        );
    }
    let life = u64::try_from(resp.session_lifetime_ms)
        .ok()
        .filter(|&ms| ms > 0)
        .map(Duration::from_millis);
    Ok((resp.auth_bytes.to_vec(), life))
}

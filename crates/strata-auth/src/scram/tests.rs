use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;

use super::crypto::{hmac, salted_password, xor};
use super::server::escape_saslname;
use super::*;

fn secret() -> UnknownUserSecret {
    UnknownUserSecret::new([7u8; 32])
}

/// A minimal SCRAM client, written for these tests.
struct TestClient {
    mechanism: ScramMechanism,
    password: Vec<u8>,
    gs2_header: String,
    client_first_bare: String,
    client_nonce: String,
    auth_message: String,
    salted: Vec<u8>,
}

impl TestClient {
    fn new(mechanism: ScramMechanism, user: &str, password: &str, nonce: &str) -> Self {
        TestClient {
            mechanism,
            password: password.as_bytes().to_vec(),
            gs2_header: "n,,".to_owned(),
            client_first_bare: format!("n={},r={}", escape_saslname(user), nonce),
            client_nonce: nonce.to_owned(),
            auth_message: String::new(),
            salted: Vec::new(),
        }
    }

    fn with_authzid(mut self, authzid: &str) -> Self {
        self.gs2_header = format!("n,a={},", escape_saslname(authzid));
        self
    }

    fn with_extension(mut self, ext: &str) -> Self {
        self.client_first_bare.push(',');
        self.client_first_bare.push_str(ext);
        self
    }

    fn first(&self) -> Vec<u8> {
        format!("{}{}", self.gs2_header, self.client_first_bare).into_bytes()
    }

    /// Builds client-final from server-first; `tamper` edits the message
    /// without proof before the proof is computed over it.
    fn final_with(&mut self, server_first: &[u8], tamper: impl Fn(String) -> String) -> Vec<u8> {
        let server_first = std::str::from_utf8(server_first).unwrap();
        let mut nonce = "";
        let mut salt = Vec::new();
        let mut iterations = 0;
        for attr in server_first.split(',') {
            let (k, v) = attr.split_once('=').unwrap();
            match k {
                "r" => nonce = v,
                "s" => salt = B64.decode(v).unwrap(),
                "i" => iterations = v.parse().unwrap(),
                _ => panic!("unexpected attribute {k}"),
            }
        }
        assert!(nonce.starts_with(&self.client_nonce));
        let binding = B64.encode(self.gs2_header.as_bytes());
        let without_proof = tamper(format!("c={binding},r={nonce}"));
        self.salted = salted_password(self.mechanism, &self.password, &salt, iterations);
        let client_key = hmac(self.mechanism, &self.salted, b"Client Key");
        let stored_key = super::crypto::hash(self.mechanism, &client_key);
        self.auth_message = format!(
            "{},{},{}",
            self.client_first_bare, server_first, without_proof
        );
        let signature = hmac(self.mechanism, &stored_key, self.auth_message.as_bytes());
        let proof = xor(&client_key, &signature);
        format!("{without_proof},p={}", B64.encode(proof)).into_bytes()
    }

    fn final_msg(&mut self, server_first: &[u8]) -> Vec<u8> {
        self.final_with(server_first, |m| m)
    }

    fn check_server_final(&self, server_final: &[u8]) {
        let server_key = hmac(self.mechanism, &self.salted, b"Server Key");
        let expected = hmac(self.mechanism, &server_key, self.auth_message.as_bytes());
        assert_eq!(
            std::str::from_utf8(server_final).unwrap(),
            format!("v={}", B64.encode(expected))
        );
    }
}

fn cred(mechanism: ScramMechanism, password: &str) -> ScramCredential {
    ScramCredential::from_password(mechanism, password.as_bytes(), b"somesalt", 4096)
}

fn lookup_alice(mechanism: ScramMechanism) -> impl FnOnce(&str) -> Option<ScramCredential> + Clone {
    move |name: &str| (name == "alice").then(|| cred(mechanism, "secret"))
}

#[test]
fn mechanism_names_and_ids() {
    for m in ScramMechanism::ALL {
        assert_eq!(ScramMechanism::from_name(m.name()), Some(m));
        assert_eq!(ScramMechanism::from_kafka_type(m.kafka_type()), Some(m));
        assert_eq!(m.min_iterations(), 4096);
        assert_eq!(m.max_iterations(), 16384);
    }
    assert_eq!(ScramMechanism::Sha256.kafka_type(), 1);
    assert_eq!(ScramMechanism::Sha512.kafka_type(), 2);
    assert_eq!(ScramMechanism::from_kafka_type(0), None);
    assert_eq!(ScramMechanism::from_name("scram-sha-256"), None);
}

#[test]
fn full_exchange_both_mechanisms() {
    for m in ScramMechanism::ALL {
        let mut server = ScramServer::new(m, "srvnonce123".into(), &secret());
        let mut client = TestClient::new(m, "alice", "secret", "clinonce");
        let server_first = server
            .client_first(&client.first(), lookup_alice(m))
            .unwrap();
        let (server_final, user) = server
            .client_final(&client.final_msg(&server_first))
            .unwrap();
        assert_eq!(user, "alice");
        client.check_server_final(&server_final);
        assert!(server.is_complete());
        assert!(!server.token_auth());
    }
}

/// RFC 7677 section 3: user "user", password "pencil".
#[test]
fn rfc7677_sha256_vector() {
    let salt = B64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap();
    let credential = ScramCredential::from_password(ScramMechanism::Sha256, b"pencil", &salt, 4096);
    let mut server = ScramServer::new(
        ScramMechanism::Sha256,
        "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0".into(),
        &secret(),
    );
    let first = server
        .client_first(b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO", |u| {
            (u == "user").then(|| credential.clone())
        })
        .unwrap();
    assert_eq!(
        std::str::from_utf8(&first).unwrap(),
        "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
    );
    let (last, user) = server
        .client_final(
            b"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
              p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
        )
        .unwrap();
    assert_eq!(user, "user");
    assert_eq!(
        std::str::from_utf8(&last).unwrap(),
        "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
    );
}

#[test]
fn salted_password_round_trip() {
    for m in ScramMechanism::ALL {
        let salted = salted_password(m, b"pw", b"salt", 4096);
        assert_eq!(
            ScramCredential::from_salted_password(m, b"salt", &salted, 4096),
            ScramCredential::from_password(m, b"pw", b"salt", 4096)
        );
        assert_eq!(salted.len(), m.digest_len());
    }
}

#[test]
fn wrong_password_fails_at_final() {
    let m = ScramMechanism::Sha256;
    let mut server = ScramServer::new(m, "srv".into(), &secret());
    let mut client = TestClient::new(m, "alice", "wrong", "cli");
    let server_first = server
        .client_first(&client.first(), lookup_alice(m))
        .unwrap();
    let err = server
        .client_final(&client.final_msg(&server_first))
        .unwrap_err();
    assert_eq!(err, ScramError::AuthenticationFailed);
    assert!(!server.is_complete());
}

#[test]
fn unknown_user_looks_like_wrong_password() {
    let m = ScramMechanism::Sha512;
    let run = |user: &str| {
        let mut server = ScramServer::new(m, "srv".into(), &secret());
        let mut client = TestClient::new(m, user, "secret", "cli");
        let first = server
            .client_first(&client.first(), lookup_alice(m))
            .unwrap();
        let result = server.client_final(&client.final_msg(&first));
        (String::from_utf8(first).unwrap(), result)
    };
    let (first_a, result_a) = run("mallory");
    let (first_b, _) = run("mallory");
    let (first_c, _) = run("trent");
    assert_eq!(result_a.unwrap_err(), ScramError::AuthenticationFailed);
    // Same salt on every attempt, like a real user; different per name.
    assert_eq!(first_a, first_b);
    assert_ne!(first_a, first_c);
    // Same shape as a real user's server-first.
    let parts: Vec<&str> = first_a.split(',').collect();
    assert_eq!(parts.len(), 3);
    assert!(parts[1].starts_with("s=") && parts[2] == "i=4096");
    // A credential of another mechanism counts as no credential.
    let mut server = ScramServer::new(m, "srv".into(), &secret());
    let mut client = TestClient::new(m, "alice", "secret", "cli");
    let first = server
        .client_first(&client.first(), lookup_alice(ScramMechanism::Sha256))
        .unwrap();
    assert_eq!(
        server.client_final(&client.final_msg(&first)).unwrap_err(),
        ScramError::AuthenticationFailed
    );
}

#[test]
fn tampered_nonce_refused() {
    let m = ScramMechanism::Sha256;
    let mut server = ScramServer::new(m, "srv".into(), &secret());
    let mut client = TestClient::new(m, "alice", "secret", "cli");
    let first = server
        .client_first(&client.first(), lookup_alice(m))
        .unwrap();
    let msg = client.final_with(&first, |m| m.replace("clisrv", "clisrX"));
    assert!(matches!(
        server.client_final(&msg),
        Err(ScramError::Malformed(_))
    ));
}

#[test]
fn bad_channel_binding_refused() {
    let m = ScramMechanism::Sha256;
    let mut server = ScramServer::new(m, "srv".into(), &secret());
    let mut client = TestClient::new(m, "alice", "secret", "cli");
    let first = server
        .client_first(&client.first(), lookup_alice(m))
        .unwrap();
    // "y,," instead of "n,,".
    let msg = client.final_with(&first, |m| m.replace("c=biws", "c=eSws"));
    assert!(matches!(
        server.client_final(&msg),
        Err(ScramError::Malformed(_))
    ));
}

#[test]
fn oversized_messages_refused() {
    let m = ScramMechanism::Sha256;
    let mut server = ScramServer::new(m, "srv".into(), &secret());
    let long = format!("n,,n=alice,r={}", "x".repeat(MAX_MESSAGE_LEN));
    assert!(matches!(
        server.client_first(long.as_bytes(), lookup_alice(m)),
        Err(ScramError::Malformed(_))
    ));

    let mut server = ScramServer::new(m, "srv".into(), &secret());
    let mut client = TestClient::new(m, "alice", "secret", "cli");
    let first = server
        .client_first(&client.first(), lookup_alice(m))
        .unwrap();
    let padding = format!(",x={}", "y".repeat(MAX_MESSAGE_LEN));
    let msg = client.final_with(&first, |m| m + &padding);
    assert!(matches!(
        server.client_final(&msg),
        Err(ScramError::Malformed(_))
    ));
}

#[test]
fn authzid_must_equal_user() {
    let m = ScramMechanism::Sha256;
    let mut server = ScramServer::new(m, "srv".into(), &secret());
    let client = TestClient::new(m, "alice", "secret", "cli").with_authzid("bob");
    assert_eq!(
        server.client_first(&client.first(), lookup_alice(m)),
        Err(ScramError::AuthenticationFailed)
    );

    let mut server = ScramServer::new(m, "srv".into(), &secret());
    let mut client = TestClient::new(m, "alice", "secret", "cli").with_authzid("alice");
    let first = server
        .client_first(&client.first(), lookup_alice(m))
        .unwrap();
    let (last, user) = server.client_final(&client.final_msg(&first)).unwrap();
    assert_eq!(user, "alice");
    client.check_server_final(&last);
}

#[test]
fn escaped_names() {
    let m = ScramMechanism::Sha256;
    let name = "a,b=c";
    let mut server = ScramServer::new(m, "srv".into(), &secret());
    let mut client = TestClient::new(m, name, "pw", "cli").with_authzid(name);
    assert!(client.first().starts_with(b"n,a=a=2Cb=3Dc,n=a=2Cb=3Dc,"));
    let first = server
        .client_first(&client.first(), |u| (u == name).then(|| cred(m, "pw")))
        .unwrap();
    let (_, user) = server.client_final(&client.final_msg(&first)).unwrap();
    assert_eq!(user, name);

    let mut server = ScramServer::new(m, "srv".into(), &secret());
    assert!(matches!(
        server.client_first(b"n,,n=a=2Xb,r=abc", |_| None),
        Err(ScramError::Malformed(_))
    ));
}

#[test]
fn extensions_accepted_and_tokenauth_reported() {
    let m = ScramMechanism::Sha256;
    let mut server = ScramServer::new(m, "srv".into(), &secret());
    let mut client = TestClient::new(m, "alice", "secret", "cli")
        .with_extension("tokenauth=true")
        .with_extension("other=x");
    let first = server
        .client_first(&client.first(), lookup_alice(m))
        .unwrap();
    assert!(server.token_auth());
    let (_, user) = server.client_final(&client.final_msg(&first)).unwrap();
    assert_eq!(user, "alice");
}

#[test]
fn protocol_garbage_refused() {
    let m = ScramMechanism::Sha256;
    let bad: &[&[u8]] = &[
        b"",
        b"y,,n=alice,r=abc",
        b"p=tls-unique,,n=alice,r=abc",
        b"n,,m=ext,n=alice,r=abc",
        b"n,,n=,r=abc",
        b"n,,n=alice",
        b"n,,n=alice,r=",
        b"n,,n=alice,r=a\x01b",
        b"n,x,n=alice,r=abc",
        b"n,,n=alice,r=abc,=v",
        b"n,,n=alice,r=abc\xff",
    ];
    for msg in bad {
        let mut server = ScramServer::new(m, "srv".into(), &secret());
        let result = server.client_first(msg, lookup_alice(m));
        assert!(
            matches!(result, Err(ScramError::Malformed(_))),
            "{:?} gave {result:?}",
            String::from_utf8_lossy(msg)
        );
    }
}

#[test]
fn out_of_order_and_after_failure() {
    let m = ScramMechanism::Sha256;
    let mut server = ScramServer::new(m, "srv".into(), &secret());
    assert!(matches!(
        server.client_final(b"c=biws,r=x,p=AAAA"),
        Err(ScramError::Malformed(_))
    ));
    // Failed exchanges stay failed.
    let client = TestClient::new(m, "alice", "secret", "cli");
    assert!(server
        .client_first(&client.first(), lookup_alice(m))
        .is_err());

    let mut server = ScramServer::new(m, "srv".into(), &secret());
    let mut client = TestClient::new(m, "alice", "secret", "cli");
    let first = server
        .client_first(&client.first(), lookup_alice(m))
        .unwrap();
    assert!(server
        .client_first(&client.first(), lookup_alice(m))
        .is_err());
    assert!(server.client_final(&client.final_msg(&first)).is_err());
}

#[test]
fn credential_validation() {
    let m = ScramMechanism::Sha256;
    assert_eq!(cred(m, "x").validate(), Ok(()));
    let low = ScramCredential::from_password(m, b"x", b"s", 4095);
    assert_eq!(
        low.validate(),
        Err(CredentialError::TooFewIterations { min: 4096 })
    );
    let high = ScramCredential::from_password(m, b"x", b"s", 16385);
    assert_eq!(
        high.validate(),
        Err(CredentialError::TooManyIterations { max: 16384 })
    );
    let mut empty_salt = cred(m, "x");
    empty_salt.salt.clear();
    assert_eq!(empty_salt.validate(), Err(CredentialError::EmptySalt));
    // The Debug form does not show keys.
    let shown = format!("{:?}", cred(m, "x"));
    assert!(!shown.contains("stored_key"));
}

#[test]
fn credential_serde_round_trip() {
    let c = cred(ScramMechanism::Sha512, "pw");
    let json = serde_json::to_string(&c).unwrap();
    let back: ScramCredential = serde_json::from_str(&json).unwrap();
    assert_eq!(back, c);
}

#[test]
fn librdkafka_nonce_with_the_client_part_twice_is_accepted_as_kafka_does() {
    // librdkafka 2.x sends r=<client nonce><server-first's r value>; Kafka accepts a
    // final nonce that ends with the combined one.
    let m = ScramMechanism::Sha512;
    let mut server = ScramServer::new(m, "srv".into(), &secret());
    let mut client = TestClient::new(m, "alice", "secret", "cli");
    let first = server
        .client_first(&client.first(), lookup_alice(m))
        .unwrap();
    let msg = client.final_with(&first, |m| m.replace("r=clisrv", "r=cliclisrv"));
    assert!(server.client_final(&msg).is_ok());
}

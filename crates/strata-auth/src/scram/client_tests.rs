//! The SCRAM client against the RFC 7677 vector and against [`ScramServer`].

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;

use super::*;

fn secret() -> UnknownUserSecret {
    UnknownUserSecret::new([9u8; 32])
}

fn cred(mechanism: ScramMechanism, password: &str) -> ScramCredential {
    ScramCredential::from_password(mechanism, password.as_bytes(), b"pepper-salt", 4096)
}

/// Runs a whole exchange; returns the client's verdict on server-final and
/// the server's verdict on client-final.
fn exchange(
    mechanism: ScramMechanism,
    user: &str,
    password: &str,
    stored: Option<ScramCredential>,
) -> (Result<(), ScramClientError>, Result<String, ScramError>) {
    let mut client = ScramClient::new(mechanism, user, password, "cnonce+1".into());
    let mut server = ScramServer::new(mechanism, "snonce/2".into(), &secret());
    let first = client.client_first().unwrap();
    let expected_user = user.to_owned();
    let server_first = server
        .client_first(&first, |u| {
            assert_eq!(u, expected_user);
            stored
        })
        .unwrap();
    let client_final = client.server_first(&server_first).unwrap();
    match server.client_final(&client_final) {
        Ok((server_final, name)) => (client.server_final(&server_final), Ok(name)),
        Err(e) => {
            // Kafka answers a failure without a server-final; the client sees nothing.
            (Ok(()), Err(e))
        }
    }
}

#[test]
fn rfc7677_sha256_vector_client_side() {
    let mut client = ScramClient::new(
        ScramMechanism::Sha256,
        "user",
        "pencil",
        "rOprNGfwEbeRWgbNEkqO".into(),
    );
    assert_eq!(
        client.client_first().unwrap(),
        b"n,,n=user,r=rOprNGfwEbeRWgbNEkqO"
    );
    let reply = client
        .server_first(
            b"r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
              s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
        )
        .unwrap();
    assert_eq!(
        std::str::from_utf8(&reply).unwrap(),
        "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,\
         p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
    );
    client
        .server_final(b"v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
        .unwrap();
    assert!(client.is_complete());
}

#[test]
fn client_and_server_agree_for_both_mechanisms() {
    for m in ScramMechanism::ALL {
        let (client, server) = exchange(m, "alice", "s3cret", Some(cred(m, "s3cret")));
        assert_eq!(server, Ok("alice".to_owned()), "{m}");
        assert_eq!(client, Ok(()), "{m}");
    }
}

#[test]
fn names_with_commas_and_equals_are_escaped() {
    let m = ScramMechanism::Sha512;
    let (client, server) = exchange(m, "a,b=c", "pw", Some(cred(m, "pw")));
    assert_eq!(server, Ok("a,b=c".to_owned()));
    assert_eq!(client, Ok(()));
}

#[test]
fn wrong_password_is_refused_by_the_server() {
    let m = ScramMechanism::Sha256;
    let (_, server) = exchange(m, "alice", "guess", Some(cred(m, "s3cret")));
    assert_eq!(server, Err(ScramError::AuthenticationFailed));
    let (_, server) = exchange(m, "nobody", "guess", None);
    assert_eq!(server, Err(ScramError::AuthenticationFailed));
}

#[test]
fn a_server_without_the_credential_cannot_forge_server_final() {
    let m = ScramMechanism::Sha512;
    let mut client = ScramClient::new(m, "alice", "s3cret", "abc".into());
    client.client_first().unwrap();
    client.server_first(b"r=abcdef,s=c2FsdA==,i=4096").unwrap();
    // A signature computed from another password.
    let other = cred(m, "other");
    let forged = hmac(m, &other.server_key, b"whatever");
    let msg = format!("v={}", B64.encode(forged));
    assert_eq!(
        client.server_final(msg.as_bytes()),
        Err(ScramClientError::BadServerSignature)
    );
    assert!(!client.is_complete());
}

#[test]
fn server_error_is_reported() {
    let m = ScramMechanism::Sha256;
    let mut client = ScramClient::new(m, "alice", "pw", "abc".into());
    client.client_first().unwrap();
    client.server_first(b"r=abcdef,s=c2FsdA==,i=4096").unwrap();
    assert_eq!(
        client.server_final(b"e=invalid-proof"),
        Err(ScramClientError::ServerError("invalid-proof".into()))
    );
}

#[test]
fn hostile_server_first_is_refused() {
    let m = ScramMechanism::Sha256;
    for bad in [
        &b"r=xyz,s=c2FsdA==,i=4096"[..],   // nonce does not extend ours
        b"r=abc,s=c2FsdA==,i=4096",        // nonce not extended at all
        b"r=abcd,s=,i=4096",               // empty salt
        b"r=abcd,s=!!!,i=4096",            // salt not base64
        b"r=abcd,s=c2FsdA==,i=4095",       // too few iterations
        b"r=abcd,s=c2FsdA==,i=4294967295", // a PBKDF2 that never ends
        b"r=abcd,s=c2FsdA==",              // no iterations
        b"m=ext,r=abcd,s=c2FsdA==,i=4096",
        b"s=c2FsdA==,i=4096",
        b"r=ab\xffcd,s=c2FsdA==,i=4096",
        b"",
    ] {
        let mut client = ScramClient::new(m, "alice", "pw", "abc".into());
        client.client_first().unwrap();
        assert!(
            client.server_first(bad).is_err(),
            "{:?}",
            String::from_utf8_lossy(bad)
        );
        // Failed: nothing more is accepted.
        assert!(client.server_final(b"v=AAAA").is_err());
    }
    let mut client = ScramClient::new(m, "alice", "pw", "abc".into());
    client.client_first().unwrap();
    let long = vec![b'a'; MAX_MESSAGE_LEN + 1];
    assert!(client.server_first(&long).is_err());
}

#[test]
fn out_of_order_messages_are_refused() {
    let m = ScramMechanism::Sha256;
    let mut client = ScramClient::new(m, "alice", "pw", "abc".into());
    assert!(matches!(
        client.server_first(b"r=abcd,s=c2FsdA==,i=4096"),
        Err(ScramClientError::OutOfOrder(_))
    ));
    let mut client = ScramClient::new(m, "alice", "pw", "abc".into());
    client.client_first().unwrap();
    assert!(client.client_first().is_err());
    let mut client = ScramClient::new(m, "alice", "pw", "a,c".into());
    assert!(client.client_first().is_err(), "nonce with a comma");
}

#[test]
fn debug_hides_the_password() {
    let client = ScramClient::new(ScramMechanism::Sha256, "alice", "hunter2", "abc".into());
    assert!(!format!("{client:?}").contains("hunter2"));
}

#[test]
fn public_salted_password_matches_the_stored_credential() {
    let m = ScramMechanism::Sha512;
    let salted = salted_password(m, b"pw", b"salt", 4096);
    assert_eq!(
        ScramCredential::from_salted_password(m, b"salt", &salted, 4096),
        ScramCredential::from_password(m, b"pw", b"salt", 4096)
    );
}

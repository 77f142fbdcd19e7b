//! The code that reads SASL bytes from clients (`strata-auth`, sans-I/O): PLAIN tokens,
//! both messages of a SCRAM exchange, and the mTLS side (a certificate's subject DN and
//! `ssl.principal.mapping.rules`).
//!
//! Input: one mode byte, then the case's bytes. `mode & 3` selects the case:
//! - 0 — `strata_auth::plain::parse(rest)`; a parsed token must rebuild the input
//!   exactly. With bit 2 set, a password of at most two bytes for user `u` is also
//!   checked with `plain::verify` against the credential of `pw` (true only for `pw`;
//!   one PBKDF2 run, so not on every input).
//! - 1 — a SCRAM exchange (`ScramServer::new(mech, "srvnonce", secret)`): `rest` split at
//!   the first 0xFF byte (never valid UTF-8, so no loss) into client-first and
//!   client-final. The lookup knows user `u` (password `pw`, salt `salt`, 4096
//!   iterations), nobody else. Bits: 2 = SCRAM-SHA-512 (else -256); 3 = the lookup
//!   returns the other mechanism's credential; 4 = structure-aware: client-final is the
//!   message without its proof and the target appends `,p=` + the proof a client with
//!   password `pw` computes (bit 5 flips one bit of it), so mutations reach the success
//!   path and the server-final message. Success is asserted impossible without that
//!   proof, and the server signature is checked.
//! - 2 — `strata_auth::principal::subject_dn(rest)` (a DER certificate), then a few
//!   mapping rules applied to the DN.
//! - 3 — `PrincipalMappingRules::parse(rules)` and `apply(dn)`, `rest` split at the first
//!   0xFF into the two strings (lossy UTF-8); the rules' `Display` must parse again to
//!   rules that map the same way.
//!
//! Work per input is bounded: the PBKDF2 runs (4096 iterations) happen once per process,
//! except `plain::verify` (case 0, bit 2) for passwords of at most two bytes.
#![no_main]

use std::sync::OnceLock;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use libfuzzer_sys::fuzz_target;
use sha2::{Digest, Sha256, Sha512};
use strata_auth::plain;
use strata_auth::principal::{subject_dn, PrincipalMappingRules};
use strata_auth::scram::{
    ScramCredential, ScramError, ScramMechanism, ScramServer, UnknownUserSecret,
};

const USER: &str = "u";
const PASSWORD: &[u8] = b"pw";
const SALT: &[u8] = b"salt";
const ITERATIONS: u32 = 4096;
const SERVER_NONCE: &str = "srvnonce";
const SEP: u8 = 0xff;

/// Per mechanism (index 0 = SHA-256, 1 = SHA-512): the stored credential of `u` and the
/// salted password a client derives from `pw`.
struct Fixture {
    credential: ScramCredential,
    salted: Vec<u8>,
}

fn index(m: ScramMechanism) -> usize {
    match m {
        ScramMechanism::Sha256 => 0,
        ScramMechanism::Sha512 => 1,
    }
}

fn fixture(m: ScramMechanism) -> &'static Fixture {
    static FIXTURES: OnceLock<[Fixture; 2]> = OnceLock::new();
    let all = FIXTURES.get_or_init(|| {
        [ScramMechanism::Sha256, ScramMechanism::Sha512].map(|m| {
            let mut salted = vec![0u8; m.digest_len()];
            match m {
                ScramMechanism::Sha256 => {
                    pbkdf2::pbkdf2_hmac::<Sha256>(PASSWORD, SALT, ITERATIONS, &mut salted)
                }
                ScramMechanism::Sha512 => {
                    pbkdf2::pbkdf2_hmac::<Sha512>(PASSWORD, SALT, ITERATIONS, &mut salted)
                }
            }
            Fixture {
                credential: ScramCredential::from_password(m, PASSWORD, SALT, ITERATIONS),
                salted,
            }
        })
    });
    &all[index(m)]
}

fn hmac(m: ScramMechanism, key: &[u8], data: &[u8]) -> Vec<u8> {
    match m {
        ScramMechanism::Sha256 => {
            let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap();
            mac.update(data);
            mac.finalize().into_bytes().to_vec()
        }
        ScramMechanism::Sha512 => {
            let mut mac = <Hmac<Sha512> as Mac>::new_from_slice(key).unwrap();
            mac.update(data);
            mac.finalize().into_bytes().to_vec()
        }
    }
}

fn hash(m: ScramMechanism, data: &[u8]) -> Vec<u8> {
    match m {
        ScramMechanism::Sha256 => Sha256::digest(data).to_vec(),
        ScramMechanism::Sha512 => Sha512::digest(data).to_vec(),
    }
}

fn split_at_sep(rest: &[u8]) -> (&[u8], &[u8]) {
    match rest.iter().position(|b| *b == SEP) {
        Some(at) => (&rest[..at], &rest[at + 1..]),
        None => (rest, &[]),
    }
}

fn plain_case(mode: u8, token: &[u8]) {
    let Ok(t) = plain::parse(token) else {
        return;
    };
    assert!(!t.username.is_empty() && !t.password.is_empty());
    assert!(t.authzid.is_empty() || t.authzid == t.username);
    let mut rebuilt = Vec::with_capacity(token.len());
    rebuilt.extend_from_slice(t.authzid.as_bytes());
    rebuilt.push(0);
    rebuilt.extend_from_slice(t.username.as_bytes());
    rebuilt.push(0);
    rebuilt.extend_from_slice(&t.password);
    assert_eq!(rebuilt, token);
    if mode & 4 != 0 && t.username == USER && t.password.len() <= 2 {
        let cred = &fixture(ScramMechanism::Sha256).credential;
        assert_eq!(plain::verify(cred, &t.password), t.password == PASSWORD);
    }
}

fn scram_case(mode: u8, rest: &[u8]) {
    let mech = if mode & 4 != 0 {
        ScramMechanism::Sha512
    } else {
        ScramMechanism::Sha256
    };
    let cross = mode & 8 != 0;
    let fixup = mode & 16 != 0;
    let flip = mode & 32 != 0;
    let (first, fin) = split_at_sep(rest);

    let stored_mech = match (mech, cross) {
        (m, false) => m,
        (ScramMechanism::Sha256, true) => ScramMechanism::Sha512,
        (ScramMechanism::Sha512, true) => ScramMechanism::Sha256,
    };
    let mut server = ScramServer::new(mech, SERVER_NONCE.into(), &UnknownUserSecret::new([7; 32]));
    let mut looked_up = None;
    let first_result = server.client_first(first, |user| {
        looked_up = Some(user.to_owned());
        (user == USER).then(|| fixture(stored_mech).credential.clone())
    });
    let server_first = match first_result {
        Ok(reply) => reply,
        Err(_) => {
            assert!(!server.is_complete());
            // A failed exchange refuses everything after.
            assert!(server.client_final(fin).is_err());
            return;
        }
    };
    assert!(
        looked_up.is_some(),
        "client-first succeeded without a lookup"
    );
    let server_first = String::from_utf8(server_first).expect("server-first is UTF-8");
    // r=<client nonce><server nonce>,s=<salt>,i=<iterations>
    let mut attrs = server_first.split(',');
    let nonce = attrs.next().and_then(|a| a.strip_prefix("r=")).expect("r=");
    assert!(nonce.ends_with(SERVER_NONCE) && nonce.len() > SERVER_NONCE.len());
    let salt = attrs.next().and_then(|a| a.strip_prefix("s=")).expect("s=");
    B64.decode(salt).expect("salt is base64");
    let iterations: u32 = attrs
        .next()
        .and_then(|a| a.strip_prefix("i="))
        .and_then(|i| i.parse().ok())
        .expect("i=");
    assert!(attrs.next().is_none());
    assert!((4096..=16384).contains(&iterations));

    // The message the client proves: client-first-bare, server-first, client-final
    // without its proof. client-first was accepted, so it is UTF-8 with a `n,[a=..],`
    // GS2 header (no comma inside the authzid).
    let first_str = std::str::from_utf8(first).expect("accepted client-first is UTF-8");
    let bare = first_str.splitn(3, ',').nth(2).expect("GS2 header");
    let mut proved = None;
    let final_msg: Vec<u8> = match (fixup, std::str::from_utf8(fin)) {
        (true, Ok(without_proof)) => {
            let fx = fixture(mech);
            let auth_message = format!("{bare},{server_first},{without_proof}");
            let client_key = hmac(mech, &fx.salted, b"Client Key");
            let stored_key = hash(mech, &client_key);
            let signature = hmac(mech, &stored_key, auth_message.as_bytes());
            let mut proof: Vec<u8> = client_key
                .iter()
                .zip(&signature)
                .map(|(a, b)| a ^ b)
                .collect();
            if flip {
                let at = usize::from(mode >> 6) % proof.len();
                proof[at] ^= 1;
            } else {
                proved = Some(auth_message);
            }
            format!("{without_proof},p={}", B64.encode(proof)).into_bytes()
        }
        _ => fin.to_vec(),
    };

    match server.client_final(&final_msg) {
        Ok((server_final, user)) => {
            assert!(server.is_complete());
            let auth_message = proved.expect("client-final accepted without the right proof");
            assert!(!cross, "accepted with another mechanism's credential");
            assert_eq!(user, USER);
            assert_eq!(looked_up.as_deref(), Some(USER));
            let server_key = hmac(mech, &fixture(mech).salted, b"Server Key");
            let expected = hmac(mech, &server_key, auth_message.as_bytes());
            assert_eq!(
                server_final,
                format!("v={}", B64.encode(expected)).into_bytes()
            );
        }
        Err(e) => {
            assert!(!server.is_complete());
            if let ScramError::Malformed(text) = e {
                assert!(!text.is_empty());
            }
        }
    }
    // Nothing is accepted after the exchange ended, either way.
    assert!(server.client_final(&final_msg).is_err());
    assert!(server.client_first(first, |_| None).is_err());
}

/// Rules as operators write them (Kafka's documentation examples and a catch-all).
const CERT_RULES: &str = "RULE:^CN=(.*?),OU=(.*?),O=(.*?),L=(.*?),ST=(.*?),C=(.*?)$/$1@$2/L,\
                          RULE:^.*[Cc][Nn]=([a-zA-Z0-9. ]*).*$/$1/U,\
                          DEFAULT";

fn subject_case(der: &[u8]) {
    let Ok(dn) = subject_dn(der) else {
        return;
    };
    assert_eq!(
        PrincipalMappingRules::default().apply(&dn).as_deref(),
        Ok(dn.as_str())
    );
    static RULES: OnceLock<PrincipalMappingRules> = OnceLock::new();
    let rules = RULES.get_or_init(|| PrincipalMappingRules::parse(CERT_RULES).unwrap());
    assert!(rules.apply(&dn).is_ok());
}

fn mapping_case(rest: &[u8]) {
    let (rules, dn) = split_at_sep(rest);
    let rules = String::from_utf8_lossy(rules);
    let dn = String::from_utf8_lossy(dn);
    let Ok(parsed) = PrincipalMappingRules::parse(&rules) else {
        return;
    };
    let mapped = parsed.apply(&dn);
    let shown = parsed.to_string();
    let reparsed = PrincipalMappingRules::parse(&shown)
        .unwrap_or_else(|e| panic!("{shown:?} (shown from {rules:?}) does not parse: {e}"));
    assert_eq!(reparsed.to_string(), shown);
    assert_eq!(reparsed.apply(&dn), mapped);
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode & 3 {
        0 => plain_case(mode, rest),
        1 => scram_case(mode, rest),
        2 => subject_case(rest),
        _ => mapping_case(rest),
    }
});

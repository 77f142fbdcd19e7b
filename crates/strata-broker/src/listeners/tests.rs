use super::*;

/// Settings from `(key, value)` pairs.
pub(super) fn settings(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn without_listeners_the_short_form_is_one_plaintext_listener() {
    let l = resolve(&BTreeMap::new(), "127.0.0.1:9092", ("localhost", 9092)).unwrap();
    assert_eq!(l.len(), 1);
    assert_eq!(l[0].name, "PLAINTEXT");
    assert_eq!(l[0].protocol, SecurityProtocol::Plaintext);
    assert_eq!(l[0].advertised_host, "localhost");
}

#[test]
fn named_listeners_with_map_advertised_and_prefixed_overrides() {
    let s = settings(&[
        (
            "listeners",
            "PLAINTEXT://127.0.0.1:9092,secure://:9093,Sasl://[::1]:9094",
        ),
        ("advertised.listeners", "SECURE://broker.example:19093"),
        (
            "listener.security.protocol.map",
            "SECURE:SSL,SASL:SASL_SSL,PLAINTEXT:PLAINTEXT",
        ),
        ("ssl.keystore.type", "PEM"),
        ("ssl.keystore.location", "/etc/strata/server.pem"),
        ("ssl.truststore.location", "/etc/strata/ca.pem"),
        ("ssl.client.auth", "required"),
        (
            "listener.name.sasl.sasl.enabled.mechanisms",
            "plain,SCRAM-SHA-512",
        ),
    ]);
    let l = resolve(&s, "unused", ("unused", 1)).unwrap();
    assert_eq!(l.len(), 3);
    assert_eq!(l[1].name, "SECURE");
    assert_eq!(l[1].bind, "0.0.0.0:9093");
    assert_eq!(l[1].advertised_host, "broker.example");
    assert_eq!(l[1].advertised_port, 19093);
    let tls = l[1].tls.as_ref().unwrap();
    assert_eq!(tls.client_auth, ClientAuth::Required);
    assert_eq!(tls.key, Pem::File("/etc/strata/server.pem".into()));
    // KIP-684: the unprefixed ssl.client.auth does not apply to SASL_SSL.
    assert_eq!(l[2].bind, "[::1]:9094");
    assert_eq!(l[2].tls.as_ref().unwrap().client_auth, ClientAuth::None);
    assert_eq!(l[2].sasl_mechanisms, vec!["PLAIN", "SCRAM-SHA-512"]);
    assert_eq!(inter_broker_listener(&s, &l).unwrap(), "PLAINTEXT");
}

#[test]
fn endpoint_identification_per_listener() {
    let base = [
        ("listeners", "A://h:1,B://h:2,C://h:3"),
        ("listener.security.protocol.map", "A:SSL,B:SSL,C:SASL_SSL"),
        ("ssl.keystore.location", "/k.pem"),
    ];
    let checks = |extra: &[(&str, &str)]| -> Vec<bool> {
        let s = settings(&[&base[..], extra].concat());
        let l = resolve(&s, "unused", ("unused", 1)).unwrap();
        l.iter()
            .map(|l| l.tls.as_ref().unwrap().verify_host_name)
            .collect()
    };
    // Unset: Kafka's default, https.
    assert_eq!(checks(&[]), [true, true, true]);
    // Empty turns the check off; the prefixed form wins for its listener, any case.
    assert_eq!(
        checks(&[
            ("ssl.endpoint.identification.algorithm", ""),
            (
                "listener.name.b.ssl.endpoint.identification.algorithm",
                "HTTPS"
            ),
        ]),
        [false, true, false]
    );
    assert_eq!(
        checks(&[
            ("ssl.endpoint.identification.algorithm", "https"),
            ("listener.name.c.ssl.endpoint.identification.algorithm", ""),
        ]),
        [true, true, false]
    );
}

#[test]
fn mistakes_name_the_setting() {
    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[("listeners", "FOO://:1")],
            "listener.security.protocol.map",
        ),
        (
            &[("listeners", "SSL://127.0.0.1:1")],
            "ssl.keystore.location",
        ),
        (
            &[
                ("listeners", "SSL://127.0.0.1:1"),
                ("ssl.keystore.type", "JKS"),
            ],
            "PEM",
        ),
        (
            &[("listeners", "PLAINTEXT://0.0.0.0:1")],
            "advertised.listeners",
        ),
        (&[("listeners", "PLAINTEXT://h:x")], "not a port"),
        (&[("listeners", "PLAINTEXT://h:1,PLAINTEXT://h:2")], "twice"),
        (
            &[
                ("listeners", "SASL_PLAINTEXT://h:1"),
                ("sasl.enabled.mechanisms", "GSSAPI"),
            ],
            "GSSAPI",
        ),
        (&[("ssl.cipher.suitez", "x")], "ssl.cipher.suitez"),
        (
            &[
                ("listeners", "SSL://h:1"),
                ("ssl.keystore.location", "/k"),
                (
                    "listener.name.ssl.ssl.endpoint.identification.algorithm",
                    "none",
                ),
            ],
            "ssl.endpoint.identification.algorithm 'none' is not https",
        ),
        (
            &[
                ("listeners", "SSL://h:1"),
                ("ssl.keystore.location", "/k"),
                ("ssl.client.auth", "required"),
            ],
            "ssl.truststore.location",
        ),
    ];
    for (pairs, needle) in cases {
        let e = resolve(&settings(pairs), "h:1", ("h", 1)).unwrap_err();
        assert!(e.contains(needle), "{pairs:?}: {e}");
    }
}

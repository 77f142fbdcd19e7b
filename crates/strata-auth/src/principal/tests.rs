use rcgen::{CertificateParams, DistinguishedName, DnType, DnValue, KeyPair};
use x509_parser::asn1_rs::{Any, Tag};

use super::*;

fn cert_with(entries: Vec<(DnType, DnValue)>) -> Vec<u8> {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    let mut dn = DistinguishedName::new();
    for (ty, value) in entries {
        dn.push(ty, value);
    }
    params.distinguished_name = dn;
    let key = KeyPair::generate().unwrap();
    params.self_signed(&key).unwrap().der().to_vec()
}

fn utf8(s: &str) -> DnValue {
    DnValue::Utf8String(s.to_owned())
}

#[test]
fn subject_in_java_order() {
    let der = cert_with(vec![
        (
            DnType::CountryName,
            DnValue::PrintableString("US".try_into().unwrap()),
        ),
        (DnType::OrganizationName, utf8("Acme")),
        (DnType::OrganizationalUnitName, utf8("eng")),
        (DnType::CommonName, utf8("client")),
    ]);
    assert_eq!(subject_dn(&der).unwrap(), "CN=client,OU=eng,O=Acme,C=US");
}

#[test]
fn subject_escaping() {
    let der = cert_with(vec![
        (DnType::OrganizationName, utf8(" Acme, Inc. ")),
        (DnType::CommonName, utf8("a+b=c<d>#e;\"f\\g")),
    ]);
    assert_eq!(
        subject_dn(&der).unwrap(),
        r#"CN=a\+b\=c\<d\>\#e\;\"f\\g,O=\ Acme\, Inc.\ "#
    );
}

#[test]
fn subject_other_attributes_as_hex() {
    // emailAddress (1.2.840.113549.1.9.1) is not an RFC 2253 keyword.
    let der = cert_with(vec![
        (
            DnType::CustomDnType(vec![1, 2, 840, 113549, 1, 9, 1]),
            utf8("a@b"),
        ),
        (DnType::LocalityName, utf8("Paris")),
        (DnType::StateOrProvinceName, utf8("IDF")),
        (
            DnType::CommonName,
            DnValue::Ia5String("ia5".try_into().unwrap()),
        ),
    ]);
    assert_eq!(
        subject_dn(&der).unwrap(),
        "CN=ia5,ST=IDF,L=Paris,1.2.840.113549.1.9.1=#0c03614062"
    );
    let no_subject = cert_with(vec![]);
    assert_eq!(subject_dn(&no_subject).unwrap(), "");
    assert!(subject_dn(b"not a certificate").is_err());
}

#[test]
fn ava_formatting() {
    let bmp = Any::from_tag_and_data(Tag::BmpString, &[0, b'h', 0, b'i']);
    // Java reads every string type as UTF-8.
    assert_eq!(format_ava("2.5.4.3", &bmp), "CN=\\00h\\00i");
    let t61 = Any::from_tag_and_data(Tag::T61String, &[b'z', 0xfc]);
    assert_eq!(format_ava("2.5.4.3", &t61), "CN=z\u{fffd}");
    // NumericString is not printed as text, even under a keyword.
    let numeric = Any::from_tag_and_data(Tag::NumericString, b"12");
    assert_eq!(format_ava("2.5.4.3", &numeric), "CN=#12023132");
    let dc = Any::from_tag_and_data(Tag::Ia5String, b"example");
    assert_eq!(format_ava("0.9.2342.19200300.100.1.25", &dc), "DC=example");
    let long = vec![b'x'; 200];
    let value = Any::from_tag_and_data(Tag::Utf8String, &long);
    assert!(format_ava("2.5.4.5", &value).starts_with("2.5.4.5=#0c81c87878"));
}

#[test]
fn value_escaping() {
    assert_eq!(escape_value("plain"), "plain");
    assert_eq!(escape_value("  a b  "), "\\ \\ a b\\ \\ ");
    assert_eq!(escape_value("a\0b"), "a\\00b");
    assert_eq!(escape_value("#x"), "\\#x");
    assert_eq!(escape_value(" "), "\\ ");
}

#[test]
fn principal_parse_and_display() {
    let p = KafkaPrincipal::parse("User:alice").unwrap();
    assert_eq!(p, KafkaPrincipal::user("alice"));
    assert_eq!(p.to_string(), "User:alice");
    let p: KafkaPrincipal = "User:CN=a:b,O=x".parse().unwrap();
    assert_eq!(p.name, "CN=a:b,O=x");
    assert_eq!(KafkaPrincipal::anonymous().to_string(), ANONYMOUS);
    assert!(KafkaPrincipal::parse("alice").is_err());
    assert!(KafkaPrincipal::parse(":alice").is_err());
}

#[test]
fn mapping_rules_kafka_examples() {
    let rules = PrincipalMappingRules::parse(
        "RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/,\n\
         RULE:^CN=(.*?),OU=(.*?),O=(.*?),L=(.*?),ST=(.*?),C=(.*?)$/$1@$2/L,\n\
         RULE:^.*[Cc][Nn]=([a-zA-Z0-9.]*).*$/$1/L,\n\
         DEFAULT",
    )
    .unwrap();
    assert_eq!(
        rules
            .apply("CN=kafka-svc,OU=ServiceUsers,O=Acme,C=US")
            .unwrap(),
        "kafka-svc"
    );
    assert_eq!(
        rules
            .apply("CN=Duke,OU=JavaSoft,O=Sun Microsystems,L=SF,ST=CA,C=US")
            .unwrap(),
        "duke@javasoft"
    );
    assert_eq!(rules.apply("O=x,cn=Bob.Smith,C=US").unwrap(), "bob.smith");
    assert_eq!(rules.apply("O=nobody").unwrap(), "O=nobody");
}

#[test]
fn mapping_rules_default_and_no_match() {
    let default = PrincipalMappingRules::default();
    assert_eq!(default.apply("CN=a,O=b").unwrap(), "CN=a,O=b");
    let only = PrincipalMappingRules::parse("RULE:^CN=([a-z]+)$/$1/U").unwrap();
    assert_eq!(only.apply("CN=abc").unwrap(), "ABC");
    assert_eq!(only.apply("CN=abc,O=x"), Err(NoMatch));
    let empty = PrincipalMappingRules::parse("").unwrap();
    assert_eq!(empty.apply("CN=a"), Err(NoMatch));
    let spaced = PrincipalMappingRules::parse("  , RULE:^CN=(.*)$/$1/ ,, DEFAULT , ").unwrap();
    assert_eq!(spaced.apply("CN=x").unwrap(), "x");
    assert_eq!(spaced.apply("O=x").unwrap(), "O=x");
    assert_eq!(spaced.to_string(), "RULE:^CN=(.*)$/$1/,DEFAULT");
}

#[test]
fn mapping_replacement_syntax() {
    // Escaped slashes in pattern and replacement.
    let r = PrincipalMappingRules::parse(r"RULE:^CN=(.*)\/(.*)$/$2\/$1/").unwrap();
    assert_eq!(r.apply("CN=a/b").unwrap(), "b/a");
    // A reference past the groups is literal text (Kafka's rule).
    let r = PrincipalMappingRules::parse(r"RULE:^CN=(.*)$/$1@$4/").unwrap();
    assert_eq!(r.apply("CN=a").unwrap(), "a@$4");
    // `$12` with one group is group 1 then "2".
    let r = PrincipalMappingRules::parse(r"RULE:^CN=(.*)$/$12/").unwrap();
    assert_eq!(r.apply("CN=a").unwrap(), "a2");
    // Named groups and `$0`.
    let r = PrincipalMappingRules::parse(r"RULE:^CN=(?P<n>[a-z]+)$/${n}-$0/").unwrap();
    assert_eq!(r.apply("CN=ab").unwrap(), "ab-CN=ab");
    // Escaped dollar.
    let r = PrincipalMappingRules::parse(r"RULE:^CN=(.*)$/\$$1/").unwrap();
    assert_eq!(r.apply("CN=a").unwrap(), "$a");
}

#[test]
fn mapping_rules_refused() {
    for bad in [
        "NOPE",
        "RULE:^CN=(.*)$",
        "RULE:^CN=(.*)$/$1",
        "RULE:^CN=(.*)$/$1/X",
        "DEFAULTX",
        "RULE:^CN=((.*)$/$1/",
        "RULE:^CN=.*$/$1/",
        "RULE:^CN=(.*)$/${missing}/",
        "RULE:^CN=(.*)$/$/",
        "RULE:^CN=(.*)$/a\\/",
        "RULE:(?=x)/a/",
    ] {
        assert!(PrincipalMappingRules::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn certificate_to_principal() {
    let der = cert_with(vec![
        (DnType::OrganizationName, utf8("Acme")),
        (DnType::OrganizationalUnitName, utf8("ServiceUsers")),
        (DnType::CommonName, utf8("billing")),
    ]);
    let dn = subject_dn(&der).unwrap();
    let rules =
        PrincipalMappingRules::parse("RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/,DEFAULT").unwrap();
    let principal = KafkaPrincipal::user(rules.apply(&dn).unwrap());
    assert_eq!(principal.to_string(), "User:billing");
}

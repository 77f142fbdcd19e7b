//! Principals: the `Type:name` identity ACLs name, the subject of a client
//! certificate as Java prints it, and `ssl.principal.mapping.rules`.

mod mapping;
#[cfg(test)]
mod tests;

use std::fmt;
use std::str::FromStr;

use x509_parser::asn1_rs::{Any, Class, Tag};
use x509_parser::prelude::{FromDer, X509Certificate};

pub use mapping::{MappingRuleError, NoMatch, PrincipalMappingRules};

/// The principal of a client that did not authenticate.
pub const ANONYMOUS: &str = "User:ANONYMOUS";

/// Kafka's principal type for users.
pub const USER_TYPE: &str = "User";

/// A principal: a type (`User`) and a name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KafkaPrincipal {
    /// The type, e.g. `User`.
    pub principal_type: String,
    /// The name within the type.
    pub name: String,
}

/// Why a principal string was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("expected a principal of the form Type:name, got `{0}`")]
pub struct PrincipalParseError(pub String);

impl KafkaPrincipal {
    /// A principal of any type.
    pub fn new(principal_type: impl Into<String>, name: impl Into<String>) -> Self {
        KafkaPrincipal {
            principal_type: principal_type.into(),
            name: name.into(),
        }
    }

    /// `User:<name>`.
    pub fn user(name: impl Into<String>) -> Self {
        Self::new(USER_TYPE, name)
    }

    /// `User:ANONYMOUS`.
    pub fn anonymous() -> Self {
        Self::user("ANONYMOUS")
    }

    /// Parses `Type:name`, split at the first colon; the type must not be
    /// empty (the name may contain further colons).
    pub fn parse(s: &str) -> Result<Self, PrincipalParseError> {
        match s.split_once(':') {
            Some((t, name)) if !t.is_empty() => Ok(Self::new(t, name)),
            _ => Err(PrincipalParseError(s.to_owned())),
        }
    }
}

impl fmt::Display for KafkaPrincipal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.principal_type, self.name)
    }
}

impl FromStr for KafkaPrincipal {
    type Err = PrincipalParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// Why a certificate's subject could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("cannot read the certificate subject: {0}")]
pub struct CertificateError(String);

/// The subject of a DER certificate, formatted as Java's
/// `X500Principal.getName()` (RFC 2253), which is what Kafka maps:
/// RDNs last to first, joined by `,`; the attributes of a multi-valued RDN
/// joined by `+`; the keywords `CN C L ST O OU STREET DC UID`, every other
/// attribute as its dotted OID with the value as `#` and the hex of its DER
/// encoding (so are values of types other than the directory string types);
/// values escaped as Java does.
pub fn subject_dn(cert_der: &[u8]) -> Result<String, CertificateError> {
    let (_, cert) =
        X509Certificate::from_der(cert_der).map_err(|e| CertificateError(e.to_string()))?;
    let mut rdns = Vec::new();
    for rdn in cert.subject().iter_rdn() {
        let avas: Vec<String> = rdn
            .iter()
            .map(|ava| format_ava(&ava.attr_type().to_id_string(), ava.attr_value()))
            .collect();
        rdns.push(avas.join("+"));
    }
    rdns.reverse();
    Ok(rdns.join(","))
}

/// The RFC 2253 keyword of an attribute type, for those Java prints by name.
fn keyword(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "2.5.4.3" => "CN",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.9" => "STREET",
        "0.9.2342.19200300.100.1.25" => "DC",
        "0.9.2342.19200300.100.1.1" => "UID",
        _ => return None,
    })
}

fn format_ava(oid: &str, value: &Any<'_>) -> String {
    match (keyword(oid), decode_string(value)) {
        (Some(key), Some(text)) => format!("{key}={}", escape_value(&text)),
        (key, _) => format!("{}=#{}", key.unwrap_or(oid), hex(&der_encoding(value))),
    }
}

/// The text of the string types Java prints as text (PrintableString,
/// T61String, IA5String, GeneralString, BMPString, UTF8String); `None` for
/// others. Like Java, the contents are read as UTF-8 whatever the type (so a
/// BMPString's zero bytes show as `\00`), invalid sequences replaced.
fn decode_string(value: &Any<'_>) -> Option<String> {
    if value.class() != Class::Universal {
        return None;
    }
    match value.tag() {
        Tag::PrintableString
        | Tag::T61String
        | Tag::Ia5String
        | Tag::GeneralString
        | Tag::BmpString
        | Tag::Utf8String => Some(String::from_utf8_lossy(value.data).into_owned()),
        _ => None,
    }
}

/// Escapes an attribute value as Java does for RFC 2253: `, = + < > # ; " \`
/// get a backslash, NUL becomes `\00`, and leading or trailing spaces (and
/// carriage returns) each get a backslash.
pub(crate) fn escape_value(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len() + 4);
    for c in value.chars() {
        match c {
            ',' | '=' | '+' | '<' | '>' | '#' | ';' | '"' | '\\' => {
                escaped.push('\\');
                escaped.push(c);
            }
            '\0' => escaped.push_str("\\00"),
            _ => escaped.push(c),
        }
    }
    let is_space = |c: char| c == ' ' || c == '\r';
    let chars: Vec<char> = escaped.chars().collect();
    let lead = chars.iter().take_while(|c| is_space(**c)).count();
    let trail = chars.iter().rev().take_while(|c| is_space(**c)).count();
    if lead == 0 && trail == 0 {
        return escaped;
    }
    let mut out = String::with_capacity(escaped.len() + lead + trail);
    for (i, c) in chars.iter().enumerate() {
        if i < lead || i >= chars.len() - trail {
            out.push('\\');
        }
        out.push(*c);
    }
    out
}

/// The DER encoding (tag, length, contents) of a value.
fn der_encoding(value: &Any<'_>) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.data.len() + 6);
    match value.header.raw_tag() {
        Some(raw) => out.extend_from_slice(raw),
        None => {
            let class = (value.class() as u8) << 6;
            let constructed = if value.header.is_constructed() {
                0x20
            } else {
                0
            };
            let number = value.tag().0;
            if number < 31 {
                out.push(class | constructed | number as u8);
            } else {
                out.push(class | constructed | 0x1f);
                let mut groups = Vec::new();
                let mut n = number;
                loop {
                    groups.push((n & 0x7f) as u8);
                    n >>= 7;
                    if n == 0 {
                        break;
                    }
                }
                for (i, g) in groups.iter().enumerate().rev() {
                    out.push(if i == 0 { *g } else { g | 0x80 });
                }
            }
        }
    }
    let len = value.data.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(value.data);
    out
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    s
}

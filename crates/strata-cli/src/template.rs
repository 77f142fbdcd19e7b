//! `consume -f FORMAT`: kcat-style output templates.
//!
//! Tokens: `%t` topic, `%p` partition, `%o` offset, `%k` key, `%v` value, `%h` headers
//! (`k=v` joined by `,`), `%T` timestamp (ms), `%K` key length, `%S` value length (`-1`
//! for a null key or value), `%%` a percent sign. Escapes: `\n`, `\t`, `\r`, `\0`, `\\`.
//! Keys and values are written as their raw bytes; a null key or value prints nothing.

use anyhow::{bail, Result};
use bytes::Bytes;
use strata_client::ConsumerRecord;

/// One piece of a parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Piece {
    Literal(Vec<u8>),
    Topic,
    Partition,
    Offset,
    Key,
    Value,
    Headers,
    Timestamp,
    KeyLength,
    ValueLength,
}

/// A parsed output template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pieces: Vec<Piece>,
}

impl Template {
    /// Parses `s`, refusing unknown `%` tokens and `\` escapes by name.
    pub fn parse(s: &str) -> Result<Template> {
        let mut pieces = Vec::new();
        let mut literal = Vec::new();
        let mut chars = s.chars();
        while let Some(c) = chars.next() {
            match c {
                '%' => {
                    let token = match chars.next() {
                        Some('t') => Piece::Topic,
                        Some('p') => Piece::Partition,
                        Some('o') => Piece::Offset,
                        Some('k') => Piece::Key,
                        Some('v') => Piece::Value,
                        Some('h') => Piece::Headers,
                        Some('T') => Piece::Timestamp,
                        Some('K') => Piece::KeyLength,
                        Some('S') => Piece::ValueLength,
                        Some('%') => {
                            literal.push(b'%');
                            continue;
                        }
                        Some(other) => bail!(
                            "unknown token %{other} in the output template (known: %t %p %o %k \
                             %v %h %T %K %S %%)"
                        ),
                        None => bail!("the output template ends with a lone %"),
                    };
                    if !literal.is_empty() {
                        pieces.push(Piece::Literal(std::mem::take(&mut literal)));
                    }
                    pieces.push(token);
                }
                '\\' => {
                    let b = match chars.next() {
                        Some('n') => b'\n',
                        Some('t') => b'\t',
                        Some('r') => b'\r',
                        Some('0') => 0,
                        Some('\\') => b'\\',
                        Some(other) => bail!(
                            "unknown escape \\{other} in the output template (known: \\n \\t \\r \
                             \\0 \\\\)"
                        ),
                        None => bail!("the output template ends with a lone \\"),
                    };
                    literal.push(b);
                }
                c => {
                    let mut buf = [0u8; 4];
                    literal.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
                }
            }
        }
        if !literal.is_empty() {
            pieces.push(Piece::Literal(literal));
        }
        Ok(Template { pieces })
    }

    /// Appends `r` rendered with this template to `out`.
    pub fn render(&self, r: &ConsumerRecord, out: &mut Vec<u8>) {
        for piece in &self.pieces {
            match piece {
                Piece::Literal(b) => out.extend_from_slice(b),
                Piece::Topic => out.extend_from_slice(r.topic.as_bytes()),
                Piece::Partition => out.extend_from_slice(r.partition.to_string().as_bytes()),
                Piece::Offset => out.extend_from_slice(r.offset.to_string().as_bytes()),
                Piece::Key => out.extend_from_slice(r.key.as_deref().unwrap_or_default()),
                Piece::Value => out.extend_from_slice(r.value.as_deref().unwrap_or_default()),
                Piece::Timestamp => out.extend_from_slice(r.timestamp.to_string().as_bytes()),
                Piece::KeyLength => out.extend_from_slice(length(r.key.as_ref()).as_bytes()),
                Piece::ValueLength => out.extend_from_slice(length(r.value.as_ref()).as_bytes()),
                Piece::Headers => {
                    for (i, (k, v)) in r.headers.iter().enumerate() {
                        if i > 0 {
                            out.push(b',');
                        }
                        out.extend_from_slice(k.as_bytes());
                        out.push(b'=');
                        out.extend_from_slice(v.as_deref().unwrap_or_default());
                    }
                }
            }
        }
    }
}

fn length(b: Option<&Bytes>) -> String {
    b.map_or_else(|| "-1".to_string(), |b| b.len().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record() -> ConsumerRecord {
        ConsumerRecord {
            topic: "orders".into(),
            partition: 3,
            offset: 42,
            timestamp: 1_700_000_000_123,
            key: Some(Bytes::from_static(b"k1")),
            value: None,
            headers: vec![
                ("a".into(), Some(Bytes::from_static(b"1"))),
                ("a".into(), Some(Bytes::from_static(b"2"))),
                ("n".into(), None),
            ],
        }
    }

    fn render(t: &str, r: &ConsumerRecord) -> String {
        let mut out = Vec::new();
        Template::parse(t).expect("valid").render(r, &mut out);
        String::from_utf8(out).expect("utf8")
    }

    #[test]
    fn every_token() {
        let r = record();
        assert_eq!(
            render("%t/%p@%o %k=%v [%h] %T %K %S 100%%\\n", &r),
            "orders/3@42 k1= [a=1,a=2,n=] 1700000000123 2 -1 100%\n"
        );
        assert_eq!(render("\\t\\\\x\\r\\0é", &r), "\t\\x\r\0é");
        assert_eq!(render("", &r), "");
    }

    #[test]
    fn bad_templates_name_the_problem() {
        let e = Template::parse("%v %x").expect_err("unknown token");
        assert!(e.to_string().contains("%x"), "{e}");
        let e = Template::parse("abc%").expect_err("lone percent");
        assert!(e.to_string().contains("lone %"), "{e}");
        let e = Template::parse("\\q").expect_err("unknown escape");
        assert!(e.to_string().contains("\\q"), "{e}");
        assert!(Template::parse("x\\").is_err());
    }
}

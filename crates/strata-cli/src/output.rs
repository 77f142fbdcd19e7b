//! Rendering records for people and scripts.

use bytes::Bytes;
use serde_json::{json, Value};
use strata_client::ConsumerRecord;

/// Bytes as JSON: `null`, a string when valid UTF-8, otherwise `{"base64": "..."}` so binary
/// data survives the trip.
pub fn bytes_json(b: Option<&Bytes>) -> Value {
    match b {
        None => Value::Null,
        Some(b) => match std::str::from_utf8(b) {
            Ok(s) => Value::String(s.to_string()),
            Err(_) => json!({ "base64": base64(b) }),
        },
    }
}

/// One record as a JSON object (the `consume --format json` line format). Headers are a
/// list of `{"key", "value"}` in record order, so repeated keys are kept.
pub fn record_json(r: &ConsumerRecord) -> Value {
    let headers: Vec<Value> = r
        .headers
        .iter()
        .map(|(k, v)| json!({"key": k, "value": bytes_json(v.as_ref())}))
        .collect();
    json!({
        "topic": r.topic,
        "partition": r.partition,
        "offset": r.offset,
        "timestamp": r.timestamp,
        "key": bytes_json(r.key.as_ref()),
        "value": bytes_json(r.value.as_ref()),
        "headers": headers,
    })
}

/// Bytes as text, replacing invalid UTF-8; `null` for a missing value.
pub fn bytes_text(b: Option<&Bytes>) -> String {
    match b {
        None => "null".to_string(),
        Some(b) => String::from_utf8_lossy(b).into_owned(),
    }
}

/// Standard base64 with padding.
pub fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_rfc4648_vectors() {
        // Test vectors from RFC 4648 §10.
        for (plain, enc) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), enc);
        }
    }

    #[test]
    fn record_json_shape() {
        let r = ConsumerRecord {
            topic: "t".into(),
            partition: 2,
            offset: 7,
            timestamp: 1234,
            key: Some(Bytes::from_static(b"k")),
            value: Some(Bytes::from_static(&[0xff, 0x00])),
            headers: vec![
                ("h".into(), Some(Bytes::from_static(b"v"))),
                ("n".into(), None),
                ("h".into(), Some(Bytes::from_static(&[0x80]))),
            ],
        };
        let v = record_json(&r);
        assert_eq!(v["topic"], "t");
        assert_eq!(v["partition"], 2);
        assert_eq!(v["offset"], 7);
        assert_eq!(v["timestamp"], 1234);
        assert_eq!(v["key"], "k");
        assert_eq!(v["value"]["base64"], "/wA=");
        assert_eq!(
            v["headers"],
            json!([
                {"key": "h", "value": "v"},
                {"key": "n", "value": null},
                {"key": "h", "value": {"base64": "gA=="}},
            ])
        );
        assert_eq!(bytes_json(None), Value::Null);
    }
}

//! Answers for request versions we advertise but cannot serve (the ones Kafka 4
//! removed) and for too-new ApiVersions requests.
//!
//! The codec crate no longer knows these old formats, so the few error responses are
//! written here by hand: every partition gets `UNSUPPORTED_VERSION`, which tells the
//! client exactly what happened instead of leaving it with a dropped connection.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, ApiVersionsResponse, ResponseKind};
use kafka_protocol::ResponseError;
use strata_proto::frame;

use super::api_versions;

const UNSUPPORTED: i16 = ResponseError::UnsupportedVersion.code();

/// Builds the rejection, or `None` when the connection should be closed instead.
pub fn reject(key: ApiKey, version: i16, correlation_id: i32, frame: Bytes) -> Option<Bytes> {
    match key {
        // KIP-511: answer in v0 with the error and our table so the client can retry
        // with a version we support.
        ApiKey::ApiVersions => {
            let body = ApiVersionsResponse::default()
                .with_error_code(UNSUPPORTED)
                .with_api_keys(api_versions::table());
            frame::encode_response(key, 0, correlation_id, &ResponseKind::ApiVersions(body)).ok()
        }
        ApiKey::Produce if version < 3 => old_body(frame).and_then(|b| produce(b, version)),
        ApiKey::Fetch if version < 4 => old_body(frame).and_then(|b| fetch(b, version)),
        ApiKey::ListOffsets if version < 1 => old_body(frame).and_then(list_offsets),
        _ => None,
    }
    .map(|body| match key {
        ApiKey::ApiVersions => body,
        _ => frame::encode_raw_response(correlation_id, &body),
    })
}

/// Skips a non-flexible (v1) request header: key, version, correlation id, client id.
fn old_body(mut frame: Bytes) -> Option<Bytes> {
    if frame.remaining() < 10 {
        return None;
    }
    frame.advance(8);
    let len = frame.get_i16();
    if len > 0 {
        skip(&mut frame, len as usize)?;
    }
    Some(frame)
}

fn skip(b: &mut Bytes, n: usize) -> Option<()> {
    (b.remaining() >= n).then(|| b.advance(n))
}

fn i32_of(b: &mut Bytes) -> Option<i32> {
    (b.remaining() >= 4).then(|| b.get_i32())
}

fn string_of(b: &mut Bytes) -> Option<Bytes> {
    if b.remaining() < 2 {
        return None;
    }
    let len = b.get_i16();
    let len = usize::try_from(len).ok()?;
    (b.remaining() >= len).then(|| b.split_to(len))
}

fn count_of(b: &mut Bytes) -> Option<usize> {
    // A count larger than the bytes left cannot be honest; refuse it before looping.
    let n = usize::try_from(i32_of(b)?).ok()?;
    (n <= b.remaining()).then_some(n)
}

/// Walks `[topic, [partition, <skip>]]` and writes `[topic, [partition, <fill>]]`.
fn per_partition(
    b: &mut Bytes,
    out: &mut BytesMut,
    mut skip_rest: impl FnMut(&mut Bytes) -> Option<()>,
    fill: impl Fn(&mut BytesMut),
) -> Option<()> {
    let topics = count_of(b)?;
    out.put_i32(topics as i32);
    for _ in 0..topics {
        let name = string_of(b)?;
        out.put_i16(name.len() as i16);
        out.put_slice(&name);
        let parts = count_of(b)?;
        out.put_i32(parts as i32);
        for _ in 0..parts {
            let p = i32_of(b)?;
            skip_rest(b)?;
            out.put_i32(p);
            out.put_i16(UNSUPPORTED);
            fill(out);
        }
    }
    Some(())
}

fn produce(mut b: Bytes, version: i16) -> Option<Bytes> {
    skip(&mut b, 6)?; // acks, timeout
    let mut out = BytesMut::new();
    per_partition(
        &mut b,
        &mut out,
        |b| {
            let n = i32_of(b)?;
            if n > 0 {
                skip(b, n as usize)?;
            }
            Some(())
        },
        |out| {
            out.put_i64(-1); // base offset
            if version >= 2 {
                out.put_i64(-1); // log append time
            }
        },
    )?;
    if version >= 1 {
        out.put_i32(0); // throttle time
    }
    Some(out.freeze())
}

fn fetch(mut b: Bytes, version: i16) -> Option<Bytes> {
    skip(&mut b, if version >= 3 { 16 } else { 12 })?;
    let mut out = BytesMut::new();
    if version >= 1 {
        out.put_i32(0); // throttle time
    }
    per_partition(
        &mut b,
        &mut out,
        |b| skip(b, 12), // fetch offset, max bytes
        |out| {
            out.put_i64(-1); // high watermark
            out.put_i32(-1); // null records
        },
    )?;
    Some(out.freeze())
}

fn list_offsets(mut b: Bytes) -> Option<Bytes> {
    skip(&mut b, 4)?; // replica id
    let mut out = BytesMut::new();
    per_partition(
        &mut b,
        &mut out,
        |b| skip(b, 12),      // timestamp, max number of offsets
        |out| out.put_i32(0), // no offsets
    )?;
    Some(out.freeze())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(key: i16, version: i16) -> BytesMut {
        let mut b = BytesMut::new();
        b.put_i16(key);
        b.put_i16(version);
        b.put_i32(42);
        b.put_i16(1);
        b.put_u8(b'c');
        b
    }

    #[test]
    fn produce_v2_gets_unsupported_version_per_partition() {
        let mut b = header(0, 2);
        b.put_i16(1);
        b.put_i32(1000);
        b.put_i32(1);
        b.put_i16(1);
        b.put_u8(b't');
        b.put_i32(1);
        b.put_i32(0);
        b.put_i32(3);
        b.put_slice(b"abc");
        let out = reject(ApiKey::Produce, 2, 42, b.freeze()).unwrap();
        let mut r = out.clone();
        assert_eq!(r.get_i32() as usize, out.len() - 4);
        assert_eq!(r.get_i32(), 42);
        assert_eq!(r.get_i32(), 1);
        assert_eq!(r.get_i16(), 1);
        r.advance(1);
        assert_eq!(r.get_i32(), 1);
        assert_eq!(r.get_i32(), 0);
        assert_eq!(r.get_i16(), UNSUPPORTED);
    }

    #[test]
    fn lying_counts_close_the_connection() {
        let mut b = header(1, 0);
        b.put_slice(&[0; 12]);
        b.put_i32(i32::MAX);
        assert!(reject(ApiKey::Fetch, 0, 42, b.freeze()).is_none());
        assert!(reject(ApiKey::Metadata, 99, 42, Bytes::new()).is_none());
    }
}

//! Request framing and decoding, response encoding. Sans-I/O: bytes in, values out.
//!
//! A Kafka frame is a big-endian i32 length followed by that many bytes. The request
//! header's first four bytes (api key, api version) decide how the rest is parsed, so a
//! request we cannot serve is classified before its body is touched.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::{ApiKey, RequestHeader, RequestKind, ResponseHeader, ResponseKind};
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Request as ApiRequest};

use crate::shape;
use crate::versions::{self, VersionCheck};

/// Kafka's default `socket.request.max.bytes`.
pub const DEFAULT_MAX_REQUEST_BYTES: usize = 100 * 1024 * 1024;

/// Why a frame could not be accepted. Every variant means: close the connection.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FrameError {
    /// The length prefix was negative.
    #[error("negative frame length {0}")]
    NegativeLength(i32),
    /// The length prefix exceeded `socket.request.max.bytes`.
    #[error("frame length {len} exceeds socket.request.max.bytes {max}")]
    TooLarge {
        /// Claimed length.
        len: usize,
        /// Configured limit.
        max: usize,
    },
}

/// Validates a frame's 4-byte length prefix against the configured limit.
pub fn frame_length(prefix: [u8; 4], max: usize) -> Result<usize, FrameError> {
    let len = i32::from_be_bytes(prefix);
    if len < 0 {
        return Err(FrameError::NegativeLength(len));
    }
    let len = len as usize;
    if len > max {
        return Err(FrameError::TooLarge { len, max });
    }
    Ok(len)
}

/// A decoded request ready for a handler.
#[derive(Debug)]
pub struct Request {
    /// The API.
    pub api_key: ApiKey,
    /// The request header (version, correlation id, client id).
    pub header: RequestHeader,
    /// The decoded body.
    pub body: RequestKind,
}

/// Why a frame's content could not be served.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// Too short to hold even the key, version and correlation id.
    #[error("truncated request header ({0} bytes)")]
    Truncated(usize),
    /// An API key the broker does not serve.
    #[error("unknown api key {key} (correlation id {correlation_id})")]
    UnknownApiKey {
        /// The raw key.
        key: i16,
        /// From the header.
        correlation_id: i32,
    },
    /// A key we serve at a version we cannot serve.
    #[error("unsupported version {version} of {key:?}")]
    UnsupportedVersion {
        /// The API.
        key: ApiKey,
        /// The requested version.
        version: i16,
        /// From the header.
        correlation_id: i32,
        /// The raw frame, for handlers that can still answer in the old format.
        frame: Bytes,
    },
    /// The header or body did not parse at a version we serve, or failed the wire-shape
    /// check ([`crate::shape`]) that runs before the decoder.
    #[error("malformed {key:?} v{version} request: {reason}")]
    Malformed {
        /// The API.
        key: ApiKey,
        /// The requested version.
        version: i16,
        /// What the decoder said.
        reason: String,
    },
}

/// Decodes one frame (without its length prefix) into a request.
///
/// The frame's lengths and counts are checked against its size ([`shape::check_request`])
/// before kafka-protocol sees it: the crate sizes allocations from wire counts.
pub fn decode_request(mut frame: Bytes) -> Result<Request, RequestError> {
    if frame.len() < 8 {
        return Err(RequestError::Truncated(frame.len()));
    }
    let raw_key = i16::from_be_bytes([frame[0], frame[1]]);
    let version = i16::from_be_bytes([frame[2], frame[3]]);
    let correlation_id = i32::from_be_bytes([frame[4], frame[5], frame[6], frame[7]]);
    let api_key = match versions::check(raw_key, version) {
        VersionCheck::Serve(k) => k,
        VersionCheck::UnknownKey => {
            return Err(RequestError::UnknownApiKey {
                key: raw_key,
                correlation_id,
            })
        }
        VersionCheck::Unsupported(key) => {
            return Err(RequestError::UnsupportedVersion {
                key,
                version,
                correlation_id,
                frame,
            })
        }
    };
    let malformed = |e: anyhow::Error| RequestError::Malformed {
        key: api_key,
        version,
        reason: e.to_string(),
    };
    shape::check_request(api_key, version, &frame).map_err(|e| RequestError::Malformed {
        key: api_key,
        version,
        reason: e.detail(),
    })?;
    let header_version = api_key.request_header_version(version);
    let header = RequestHeader::decode(&mut frame, header_version).map_err(malformed)?;
    let body = RequestKind::decode(api_key, &mut frame, version).map_err(malformed)?;
    Ok(Request {
        api_key,
        header,
        body,
    })
}

/// Why a response frame could not be decoded (client side: the follower fetcher, the
/// Rust client). The connection it came on should be dropped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed {} v{version} response: {reason}", api_label(*.key))]
pub struct ResponseError {
    /// The raw API key.
    pub key: i16,
    /// The response version.
    pub version: i16,
    /// What the shape check or the decoder said.
    pub reason: String,
}

fn api_label(key: i16) -> String {
    match ApiKey::try_from(key) {
        Ok(k) => format!("{k:?}"),
        Err(_) => format!("api key {key}"),
    }
}

/// Decodes a response frame (without its length prefix) of `api_key` at `version`:
/// header and body, after the wire-shape check ([`shape::check_response`]).
///
/// Bytes after the body are ignored, as kafka-protocol does.
pub fn decode_response_kind(
    api_key: ApiKey,
    version: i16,
    mut frame: Bytes,
) -> Result<(ResponseHeader, ResponseKind), ResponseError> {
    let err = |reason: String| ResponseError {
        key: api_key as i16,
        version,
        reason,
    };
    shape::check_response(api_key, version, &frame).map_err(|e| err(e.detail()))?;
    let header = ResponseHeader::decode(&mut frame, api_key.response_header_version(version))
        .map_err(|e| err(format!("header: {e:#}")))?;
    let body =
        ResponseKind::decode(api_key, &mut frame, version).map_err(|e| err(format!("{e:#}")))?;
    Ok((header, body))
}

/// Typed [`decode_response_kind`]: decodes the response to a request of type `R` at
/// `version`, after the same wire-shape check.
pub fn decode_response<R: ApiRequest>(
    version: i16,
    mut frame: Bytes,
) -> Result<(ResponseHeader, R::Response), ResponseError> {
    let err = |reason: String| ResponseError {
        key: R::KEY,
        version,
        reason,
    };
    let api_key = ApiKey::try_from(R::KEY).map_err(|_| err("unknown api key".into()))?;
    shape::check_response(api_key, version, &frame).map_err(|e| err(e.detail()))?;
    let header = ResponseHeader::decode(&mut frame, R::Response::header_version(version))
        .map_err(|e| err(format!("header: {e:#}")))?;
    let body = R::Response::decode(&mut frame, version).map_err(|e| err(format!("{e:#}")))?;
    Ok((header, body))
}

/// Encodes a response, length prefix included, for the given request key and version.
pub fn encode_response(
    api_key: ApiKey,
    version: i16,
    correlation_id: i32,
    body: &ResponseKind,
) -> anyhow::Result<Bytes> {
    let mut buf = BytesMut::with_capacity(256);
    buf.put_i32(0);
    let header = ResponseHeader::default().with_correlation_id(correlation_id);
    header.encode(&mut buf, api_key.response_header_version(version))?;
    body.encode(&mut buf, version)?;
    let len = (buf.len() - 4) as i32;
    buf[..4].copy_from_slice(&len.to_be_bytes());
    Ok(buf.freeze())
}

/// Encodes a response body that was written by hand (legacy formats the codec crate no
/// longer knows), behind a v0 response header.
pub fn encode_raw_response(correlation_id: i32, body: &[u8]) -> Bytes {
    let mut buf = BytesMut::with_capacity(8 + body.len());
    buf.put_i32((4 + body.len()) as i32);
    buf.put_i32(correlation_id);
    buf.put_slice(body);
    buf.freeze()
}

/// Reads the correlation id of a response frame (client side).
pub fn response_correlation_id(frame: &[u8]) -> Option<i32> {
    let mut b = frame.get(..4)?;
    Some(b.get_i32())
}

#[cfg(test)]
mod tests {
    use super::*;
    use kafka_protocol::messages::{ApiVersionsRequest, MetadataRequest};
    use kafka_protocol::protocol::StrBytes;

    fn frame_of(key: ApiKey, version: i16, body: &RequestKind) -> Bytes {
        let mut buf = BytesMut::new();
        let header = RequestHeader::default()
            .with_request_api_key(key as i16)
            .with_request_api_version(version)
            .with_correlation_id(7)
            .with_client_id(Some(StrBytes::from_static_str("t")));
        header
            .encode(&mut buf, key.request_header_version(version))
            .unwrap();
        body.encode(&mut buf, version).unwrap();
        buf.freeze()
    }

    #[test]
    fn length_prefix_limits() {
        assert_eq!(frame_length(10i32.to_be_bytes(), 100), Ok(10));
        assert_eq!(
            frame_length((-1i32).to_be_bytes(), 100),
            Err(FrameError::NegativeLength(-1))
        );
        assert!(matches!(
            frame_length(101i32.to_be_bytes(), 100),
            Err(FrameError::TooLarge { .. })
        ));
    }

    #[test]
    fn decodes_a_flexible_request() {
        let body = RequestKind::ApiVersions(ApiVersionsRequest::default());
        let req = decode_request(frame_of(ApiKey::ApiVersions, 3, &body)).unwrap();
        assert_eq!(req.api_key, ApiKey::ApiVersions);
        assert_eq!(req.header.correlation_id, 7);
    }

    #[test]
    fn classifies_bad_frames_without_panicking() {
        assert!(matches!(
            decode_request(Bytes::from_static(&[0, 3])),
            Err(RequestError::Truncated(2))
        ));
        let unknown = Bytes::from_static(&[0x7f, 0x7f, 0, 0, 0, 0, 0, 9]);
        assert!(matches!(
            decode_request(unknown),
            Err(RequestError::UnknownApiKey {
                correlation_id: 9,
                ..
            })
        ));
        let body = RequestKind::Metadata(MetadataRequest::default());
        let mut f = frame_of(ApiKey::Metadata, 9, &body).to_vec();
        f.truncate(f.len() - 1);
        assert!(matches!(
            decode_request(Bytes::from(f)),
            Err(RequestError::Malformed { .. })
        ));
    }

    proptest::proptest! {
        #[test]
        fn garbage_never_panics(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256)) {
            let _ = decode_request(Bytes::from(bytes));
        }
    }
}

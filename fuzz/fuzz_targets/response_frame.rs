//! Response decoding as the follower fetcher (`strata-broker/src/replication/`) and
//! `strata-client` do it: `strata_proto::frame::decode_response_kind(api_key, version,
//! frame)` over arbitrary frames (without the length prefix).
//!
//! Input: api key (i16 BE), api version (i16 BE), then the response frame as read off
//! the wire after its length prefix (header with the correlation id, then the body).
#![no_main]

use bytes::Bytes;
use kafka_protocol::messages::ApiKey;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 4 {
        return;
    }
    let raw_key = i16::from_be_bytes([data[0], data[1]]);
    let version = i16::from_be_bytes([data[2], data[3]]);
    let Ok(api_key) = ApiKey::try_from(raw_key) else {
        return;
    };
    // Versions the codec crate does not know are the decoder's to refuse, not ours to
    // skip: a peer can send any version number.
    let frame = Bytes::copy_from_slice(&data[4..]);
    let _ = strata_proto::frame::decode_response_kind(api_key, version, frame);
});

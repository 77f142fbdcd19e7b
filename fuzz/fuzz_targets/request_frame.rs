//! `strata_proto::frame::decode_request` over arbitrary request frames (without the
//! 4-byte length prefix, as the connection hands them over). The header's first four
//! bytes name the API key and version, so this one target covers every API and version
//! in `strata_proto::versions::SUPPORTED`; the seed corpus holds real frames of each.
//!
//! Run with `-malloc_limit_mb`: a length or count read from the wire that allocates more
//! than the frame could hold is a crash.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use strata_proto::frame::{decode_request, RequestError};
use strata_proto::versions::{check, VersionCheck};

fuzz_target!(|data: &[u8]| {
    let frame = Bytes::copy_from_slice(data);
    match decode_request(frame) {
        Ok(req) => {
            // A decoded request is one we serve, at the version its header names.
            let key = i16::from_be_bytes([data[0], data[1]]);
            let version = i16::from_be_bytes([data[2], data[3]]);
            assert_eq!(check(key, version), VersionCheck::Serve(req.api_key));
            assert_eq!(req.header.request_api_key, key);
            assert_eq!(req.header.request_api_version, version);
        }
        Err(RequestError::Truncated(n)) => assert!(n < 8 && n == data.len()),
        Err(RequestError::UnsupportedVersion { frame, .. }) => assert_eq!(&frame[..], data),
        Err(_) => {}
    }
});

//! The controller (Raft) port's request decoding: `strata_raft::network::decode_request`
//! is what the server runs on every frame payload before dispatching it to openraft
//! (JSON into a `Request`, then the shape checks openraft's assertions rely on).
//!
//! Input: the payload of one length-prefixed frame (the prefix itself is checked against
//! a constant limit before anything is read).
#![no_main]

use libfuzzer_sys::fuzz_target;
use strata_raft::network::{decode_request, Request};

fuzz_target!(|data: &[u8]| {
    if let Ok(Request::AppendEntries(rpc)) = decode_request(data) {
        // What `check` promises openraft: consecutive indexes after prev_log_id, terms
        // never going back.
        let mut expected = rpc.prev_log_id.map_or(Some(0), |p| p.index.checked_add(1));
        let mut last_leader = rpc.prev_log_id.map(|p| p.leader_id);
        for entry in &rpc.entries {
            assert_eq!(Some(entry.log_id.index), expected);
            if let Some(prev) = last_leader {
                assert!(entry.log_id.leader_id >= prev);
            }
            last_leader = Some(entry.log_id.leader_id);
            expected = expected.and_then(|e| e.checked_add(1));
        }
    }
});

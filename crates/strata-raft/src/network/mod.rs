//! The controller network: openraft RPCs and Strata's own (forwarding to the leader,
//! learners joining) over TCP with length-prefixed JSON frames, in TLS with client
//! certificates when configured ([`ControllerTls`]).

pub(crate) mod client;
pub(crate) mod frame;
pub(crate) mod messages;
pub(crate) mod pool;
pub(crate) mod server;
pub(crate) mod stream;

pub use messages::Request;
pub use stream::ControllerTls;

/// Decodes one controller-port frame payload (the bytes after the length prefix) the way
/// the server does before it dispatches: JSON into a [`Request`], then the shape checks
/// openraft relies on. An `Err` closes the connection. Public so the fuzz target
/// (`fuzz/fuzz_targets/controller_frame.rs`) exercises exactly the served code.
pub fn decode_request(payload: &[u8]) -> Result<Request, String> {
    let request: Request =
        serde_json::from_slice(payload).map_err(|e| format!("undecodable request: {e}"))?;
    server::check(&request).map_err(|why| format!("malformed request: {why}"))?;
    Ok(request)
}

#[cfg(test)]
mod tests {
    use super::*;

    const VOTE: &str = r#"{"leader_id":{"term":2,"node_id":3},"committed":true}"#;
    const LOG_ID: &str = r#"{"leader_id":{"term":1,"node_id":2},"index":5}"#;

    #[test]
    fn decodes_every_request_kind() {
        let membership = r#"{"configs":[[1,2,3]],"nodes":{"1":{"addr":"127.0.0.1:9093"}}}"#;
        let frames = [
            format!(
                r#"{{"AppendEntries":{{"vote":{VOTE},"prev_log_id":{LOG_ID},"entries":[],"leader_commit":null}}}}"#
            ),
            format!(r#"{{"Vote":{{"vote":{VOTE},"last_log_id":{LOG_ID}}}}}"#),
            format!(
                r#"{{"InstallSnapshot":{{"vote":{VOTE},"meta":{{"last_log_id":{LOG_ID},"last_membership":{{"log_id":{LOG_ID},"membership":{membership}}},"snapshot_id":"2-5-1"}},"offset":0,"data":[1,2,3],"done":true}}}}"#
            ),
            r#"{"Forward":[123,125]}"#.to_string(),
            r#"{"JoinLearner":{"node_id":4,"addr":"127.0.0.1:9093"}}"#.to_string(),
        ];
        for f in &frames {
            assert!(decode_request(f.as_bytes()).is_ok(), "{f}");
        }
    }

    #[test]
    fn garbage_and_bad_shapes_are_errors() {
        assert!(decode_request(b"").is_err());
        assert!(decode_request(b"{\"Forward\":").is_err());
        assert!(decode_request(b"[1,2,3]").is_err());
        // prev_log_id at the last index: the next index does not exist.
        let max = u64::MAX;
        let overflow = format!(
            r#"{{"AppendEntries":{{"vote":{VOTE},"prev_log_id":{{"leader_id":{{"term":1,"node_id":2}},"index":{max}}},"entries":[{{"log_id":{{"leader_id":{{"term":1,"node_id":2}},"index":0}},"payload":"Blank"}}],"leader_commit":null}}}}"#
        );
        assert!(decode_request(overflow.as_bytes()).is_err());
    }
}

//! The background heartbeat task of a group member.

use std::sync::Arc;

use kafka_protocol::messages::leave_group_request::MemberIdentity;
use kafka_protocol::messages::{GroupId, HeartbeatRequest, LeaveGroupRequest};
use kafka_protocol::protocol::StrBytes;
use parking_lot::Mutex;

use super::coordinator::{is_coordinator_error, CoordinatorLink};
use super::member::{MemberSettings, MemberState, Shared};
use crate::error::{codes, ClientError, Result};

fn str_bytes(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

/// Sends Heartbeats while the member holds (or is completing) an assignment, and turns the
/// coordinator's answers into state changes the consumer acts on at its next poll.
pub(super) async fn heartbeat_loop(
    link: Arc<CoordinatorLink>,
    shared: Arc<Mutex<Shared>>,
    settings: MemberSettings,
) {
    let mut ticker = tokio::time::interval(settings.heartbeat_interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        enum Next {
            Skip,
            Stop,
            Leave(String),
            Beat(i32, String),
        }
        let next = {
            let mut s = shared.lock();
            if s.fatal.is_some() {
                Next::Stop
            } else if !matches!(s.state, MemberState::Stable | MemberState::Syncing) {
                Next::Skip
            } else if s.last_poll.elapsed() > settings.rebalance_timeout {
                // The application stopped polling: give the partitions up rather than hold
                // them while nobody consumes (Kafka's max.poll.interval.ms).
                tracing::warn!(
                    group = %link.group_id(),
                    "poll not called within the rebalance timeout; leaving the group"
                );
                let id = s.member_id.clone();
                s.reset(true, "poll interval exceeded");
                Next::Leave(id)
            } else {
                Next::Beat(s.generation, s.member_id.clone())
            }
        };
        let (generation, member_id) = match next {
            Next::Stop => return,
            Next::Skip => continue,
            Next::Leave(id) => {
                if settings.group_instance_id.is_none() && !id.is_empty() {
                    let _ = leave_quietly(&link, &id).await;
                }
                continue;
            }
            Next::Beat(g, m) => (g, m),
        };
        let version = match link.version::<HeartbeatRequest>().await {
            Ok(v) => v,
            Err(e) => {
                tracing::debug!(error = %e, "heartbeat: no coordinator");
                continue;
            }
        };
        let mut req = HeartbeatRequest::default()
            .with_group_id(GroupId(str_bytes(link.group_id())))
            .with_generation_id(generation)
            .with_member_id(str_bytes(&member_id));
        if version >= 3 {
            req.group_instance_id = settings.group_instance_id.as_deref().map(str_bytes);
        }
        let timeout = link
            .cluster()
            .config
            .request_timeout
            .min(settings.session_timeout);
        let code = match link.request(&req, version, timeout).await {
            Ok(r) => r.error_code,
            Err(e) => {
                tracing::debug!(error = %e, "heartbeat failed");
                continue;
            }
        };
        let rediscover = {
            let mut s = shared.lock();
            if s.generation != generation {
                // A rejoin happened meanwhile; this answer is about the old generation.
                continue;
            }
            match code {
                0 => false,
                codes::REBALANCE_IN_PROGRESS => {
                    s.request_rejoin("the group is rebalancing");
                    false
                }
                codes::UNKNOWN_MEMBER_ID | codes::ILLEGAL_GENERATION => {
                    let why = format!("heartbeat: {}", crate::error::error_code_name(code));
                    s.reset(code == codes::UNKNOWN_MEMBER_ID, &why);
                    false
                }
                codes::FENCED_INSTANCE_ID => {
                    s.fatal = Some(ClientError::from_code(
                        code,
                        None,
                        &format!(
                            "group '{}': another consumer joined with the same group_instance_id",
                            link.group_id()
                        ),
                    ));
                    return;
                }
                c if is_coordinator_error(c) => true,
                other => {
                    tracing::warn!(group = %link.group_id(), code = other, "unexpected heartbeat error");
                    false
                }
            }
        };
        if rediscover {
            link.mark_unknown().await;
        }
    }
}

async fn leave_quietly(link: &CoordinatorLink, member_id: &str) -> Result<()> {
    let version = link.version::<LeaveGroupRequest>().await?;
    let mut req = LeaveGroupRequest::default().with_group_id(GroupId(str_bytes(link.group_id())));
    if version >= 3 {
        req.members = vec![MemberIdentity::default().with_member_id(str_bytes(member_id))];
    } else {
        req.member_id = str_bytes(member_id);
    }
    link.request(&req, version, link.cluster().config.request_timeout)
        .await
        .map(|_| ())
}

//! Producer id allocation for idempotent producers: blocks of ids are reserved through
//! the metadata log, so an id is never handed out twice, even across restarts.

use std::sync::Arc;

use strata_meta::MetadataRecord;

use crate::Broker;

/// Ids reserved per metadata write.
const BLOCK: i64 = 1000;

/// The unhanded part of the current block: `next..end`.
#[derive(Debug, Default)]
pub(crate) struct ProducerIdBlock {
    next: i64,
    end: i64,
}

impl Broker {
    /// A fresh producer id.
    pub(crate) async fn allocate_producer_id(self: &Arc<Self>) -> anyhow::Result<i64> {
        {
            let mut block = self.producer_ids.lock();
            if block.next < block.end {
                block.next += 1;
                return Ok(block.next - 1);
            }
        }
        // The controller refuses a block decided on a stale image, so two brokers
        // never get overlapping blocks.
        let _decider = self.decider.lock().await;
        let start = self
            .meta
            .decide_and_commit(|image| {
                let start = image.next_producer_id();
                Ok::<_, std::convert::Infallible>((
                    start,
                    vec![MetadataRecord::ProducerIdsAllocated {
                        next_producer_id: start + BLOCK,
                    }],
                ))
            })
            .await
            .map_err(|e| match e {
                crate::metadata::DecideError::Refused(never) => match never {},
                crate::metadata::DecideError::Commit(e) => anyhow::Error::new(e),
            })?;
        let mut block = self.producer_ids.lock();
        *block = ProducerIdBlock {
            next: start + 1,
            end: start + BLOCK,
        };
        Ok(start)
    }
}

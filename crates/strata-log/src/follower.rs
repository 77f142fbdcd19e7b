//! Appending batches replicated from the partition leader: they already carry their
//! offsets, leader epochs and timestamps, and are stored byte for byte.

use std::io::IoSlice;

use strata_proto::batch::{self, BatchError, BatchHeader};

use crate::checkpoint;
use crate::error::LogError;
use crate::log::Log;
use crate::slice::AppendInfo;

impl Log {
    /// Appends batches fetched from the leader (a follower's append).
    ///
    /// Every batch must be complete with a valid CRC-32C (record contents are the
    /// leader's business; `max.message.bytes` is not applied, as in Kafka). The first
    /// batch must start at the log end offset and each next batch where the previous
    /// one ended, else [`LogError::UnexpectedAppendOffset`] /
    /// [`LogError::NonContiguousOffsets`] and nothing is written. On a compacted topic
    /// (`cleanup.policy` contains `compact`) batches may start later than that, as the
    /// leader's cleaner leaves gaps; recovery is told to accept those gaps before they
    /// are written. Leader epochs (of batches that have one) must not go below the
    /// latest epoch of the log's data ([`LogError::EpochRegression`]).
    ///
    /// Kept exactly as received: offsets, epochs, timestamps (no LogAppendTime
    /// stamping). The producer state takes every batch without sequence checks (the
    /// leader already decided), new epochs enter the epoch cache (persisted before
    /// the data), and segments roll and indexes grow as for [`Log::append`].
    ///
    /// One exception to the offset rule, as in Kafka: an empty log whose start lies
    /// inside the first batch (the leader's log start was moved into a batch by
    /// DeleteRecords) is restarted at that batch's base offset, which becomes the log
    /// start; the broker raises it again from the leader's log start offset with
    /// [`Log::delete_records_before`].
    pub fn append_as_follower(
        &mut self,
        records: &[u8],
        now_ms: i64,
    ) -> Result<AppendInfo, LogError> {
        let headers = validate_replicated(records)?;
        let (first, last) = match (headers.first(), headers.last()) {
            (Some(first), Some(last)) => (*first, *last),
            _ => {
                return Err(LogError::Batch(BatchError::InvalidRecord(
                    "replicated payload holds no record batch".to_string(),
                )))
            }
        };
        let end = self.log_end_offset();
        let empty = self.size_bytes == 0 && end == self.log_start_offset;
        if empty && first.base_offset < end && first.last_offset() >= end {
            self.truncate_fully_and_start_at(first.base_offset)?;
        }
        let gaps = self.check_replicated_offsets(&headers)?;
        self.check_replicated_epochs(&headers)?;

        self.roll_if_needed(records.len() as u64, last.last_offset(), now_ms)?;
        if gaps {
            self.allow_gaps_through(last.next_offset())?;
        }
        self.assign_batch_epochs(headers.iter())?;

        let limit = self.config.effective_segment_bytes();
        let last_index = self.segments.len() - 1;
        let start = self.segments[last_index].write_at_end(
            &mut [IoSlice::new(records)],
            records.len() as u64,
            limit,
        )?;
        let markers = crate::txn_log::replicated_markers(records, &headers);
        for (header, marker) in headers.iter().zip(markers) {
            let completed = self.producers.apply(header, header.base_offset, marker);
            self.record_completed(completed);
        }
        let interval = self.config.index_interval_bytes;
        let active = &mut self.segments[last_index];
        let mut position = start;
        for header in &headers {
            active.track_batch(position, header, interval);
            position += header.total_size() as u64;
        }
        // Every batch's CRC was checked before it was written.
        active.mark_verified(start, position);
        if active.roll_base_ms.is_none() {
            active.roll_base_ms = Some(now_ms);
        }
        self.size_bytes += records.len() as u64;
        Ok(AppendInfo {
            base_offset: first.base_offset,
            last_offset: last.last_offset(),
            record_count: headers.iter().map(|h| i64::from(h.records_count)).sum(),
            max_timestamp: headers.iter().map(|h| h.max_timestamp).max().unwrap_or(-1),
            log_append_time: -1,
            log_start_offset: self.log_start_offset,
            bytes: records.len() as u64,
            // Followers copy without walking records.
            uncompressed_bytes: 0,
            duplicate: false,
        })
    }

    /// Checks that the batches continue the log; returns whether they leave gaps
    /// (only allowed on compacted topics).
    fn check_replicated_offsets(&self, headers: &[BatchHeader]) -> Result<bool, LogError> {
        let allow_gaps = self.config.cleanup_compact;
        let mut expected = self.log_end_offset();
        let mut gaps = false;
        for (i, header) in headers.iter().enumerate() {
            let base = header.base_offset;
            if header.last_offset() == i64::MAX {
                // No offset after it: the log could never end past this batch.
                return Err(LogError::OffsetOverflow {
                    end: expected,
                    records: i64::from(header.last_offset_delta) + 1,
                });
            }
            let fits = base == expected || (allow_gaps && base > expected);
            if !fits {
                return Err(if i == 0 {
                    LogError::UnexpectedAppendOffset {
                        expected,
                        first_offset: base,
                        last_offset: header.last_offset(),
                    }
                } else {
                    LogError::NonContiguousOffsets {
                        expected,
                        actual: base,
                    }
                });
            }
            gaps |= base > expected;
            expected = header.next_offset();
        }
        Ok(gaps)
    }

    /// Checks that leader epochs never go back, within the payload or against the
    /// latest epoch that has data in the log (an epoch a leader started at the log end
    /// without writing anything does not count: this append supersedes it).
    fn check_replicated_epochs(&self, headers: &[BatchHeader]) -> Result<(), LogError> {
        let end = self.log_end_offset();
        let mut latest = self
            .epochs
            .entries()
            .iter()
            .rev()
            .find(|e| e.start_offset < end)
            .map_or(-1, |e| e.epoch);
        for header in headers {
            let epoch = header.partition_leader_epoch;
            if epoch < 0 {
                continue;
            }
            if epoch < latest {
                return Err(LogError::EpochRegression { epoch, latest });
            }
            latest = epoch;
        }
        Ok(())
    }

    /// Makes recovery accept offset gaps in every segment starting below `offset`,
    /// durably, before gapped data is written.
    fn allow_gaps_through(&mut self, offset: i64) -> Result<(), LogError> {
        if self.cleaner.compacted_below >= offset {
            return Ok(());
        }
        let cleaner = checkpoint::CleanerCheckpoint {
            compacted_below: offset,
            ..self.cleaner
        };
        checkpoint::write_cleaner(&self.dir, cleaner)?;
        self.cleaner = cleaner;
        Ok(())
    }
}

/// Parses and checks every batch of a replicated payload: complete, CRC-32C right,
/// offsets not running backwards inside the batch, no more records than offsets.
/// Compacted batches (fewer records than their offset range, even none) are fine.
fn validate_replicated(records: &[u8]) -> Result<Vec<BatchHeader>, LogError> {
    let mut headers = Vec::new();
    let mut pos = 0usize;
    while pos < records.len() {
        let header = batch::check_stored_batch(&records[pos..]).map_err(|e| {
            LogError::Batch(BatchError::CorruptMessage(format!(
                "replicated batch at byte {pos}: {e}"
            )))
        })?;
        if header.records_count < 0
            || i64::from(header.records_count) > i64::from(header.last_offset_delta) + 1
        {
            return Err(LogError::Batch(BatchError::CorruptMessage(format!(
                "replicated batch at byte {pos} has {} records for {} offsets",
                header.records_count,
                i64::from(header.last_offset_delta) + 1
            ))));
        }
        headers.push(header);
        pos += header.total_size();
    }
    Ok(headers)
}

//! CRC-32C (Castagnoli), the checksum of Kafka's record batches and of Strata's own
//! files, computed by `crc-fast` (carry-less multiplication with AVX-512 / VPCLMULQDQ
//! where the CPU has it, SSE / PCLMULQDQ or ARM's instructions otherwise): on this
//! project's machines about 1.7 times the rate of the SSE 4.2 `crc32` instruction loop
//! over data in memory (`bench/RESULTS.md` § Scale, "Session 2026-12-07: reserved
//! segment space, CRC-32C by carry-less multiply").

use crc_fast::{CrcAlgorithm, Digest};

/// The CRC-32C of `data`.
#[inline]
pub fn crc32c(data: &[u8]) -> u32 {
    crc_fast::crc32_iscsi(data)
}

/// The CRC-32C of the bytes `crc` was computed over followed by `data`.
#[inline]
pub fn crc32c_append(crc: u32, data: &[u8]) -> u32 {
    // The running state of the reflected CRC is the finished value without its final
    // inversion.
    let mut digest = Digest::new_with_init_state(CrcAlgorithm::Crc32Iscsi, u64::from(!crc));
    digest.update(data);
    // A CRC-32 digest's value fits in 32 bits.
    digest.finalize() as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_check_value_of_the_catalogue() {
        // CRC-32/ISCSI in the CRC RevEng catalogue: check = 0xe3069283.
        assert_eq!(crc32c(b"123456789"), 0xe306_9283);
        assert_eq!(crc32c(b""), 0);
    }

    #[test]
    fn appending_equals_one_pass_at_every_split() {
        let data: Vec<u8> = (0..5_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        let whole = crc32c(&data);
        for split in [
            0, 1, 7, 15, 16, 17, 63, 64, 100, 255, 256, 1_000, 4_999, 5_000,
        ] {
            let (a, b) = data.split_at(split);
            assert_eq!(crc32c_append(crc32c(a), b), whole, "split at {split}");
        }
        assert_eq!(crc32c_append(0, &data), whole);
    }
}

use std::collections::BTreeMap;
use std::fs::OpenOptions;

use proptest::prelude::*;
use uuid::Uuid;

use super::*;

fn batch(i: u128) -> Vec<MetadataRecord> {
    let topic_id = Uuid::from_u128(i + 1);
    vec![
        MetadataRecord::CreateTopic {
            name: format!("topic-{i}"),
            topic_id,
            configs: BTreeMap::new(),
        },
        MetadataRecord::CreatePartition {
            topic_id,
            partition: 0,
            replicas: vec![1],
            isr: vec![1],
            leader: 1,
            leader_epoch: 0,
        },
    ]
}

fn log_path(dir: &Path) -> PathBuf {
    dir.join(METADATA_DIR).join(LOG_FILE)
}

/// Writes `n` batches; returns the file length after each.
fn write_batches(dir: &Path, n: u128) -> Vec<u64> {
    let (mut store, _, _) = MetadataStore::open(dir).unwrap();
    (0..n)
        .map(|i| {
            store.append(&batch(i)).unwrap();
            fs::metadata(store.path()).unwrap().len()
        })
        .collect()
}

fn expected_image(n: u128) -> MetadataImage {
    let mut image = MetadataImage::new();
    for i in 0..n {
        image = image.applied(&batch(i)).unwrap();
    }
    image
}

fn append_bytes(path: &Path, bytes: &[u8]) {
    let mut f = OpenOptions::new().append(true).open(path).unwrap();
    f.write_all(bytes).unwrap();
}

#[test]
fn empty_log_round_trip_and_offsets() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, image, last) = MetadataStore::open(dir.path()).unwrap();
    assert_eq!(last, None);
    assert_eq!(image, MetadataImage::new());
    assert!(log_path(dir.path()).exists());
    assert_eq!(store.append(&batch(0)).unwrap(), 1);
    assert_eq!(store.append(&batch(1)[..1]).unwrap(), 2);
    assert_eq!(store.next_offset(), 3);
    drop(store);

    let (mut store, image, last) = MetadataStore::open(dir.path()).unwrap();
    assert_eq!(last, Some(2));
    assert_eq!(image, expected_image(1).applied(&batch(1)[..1]).unwrap());
    // Appends after a reopen continue the offsets and survive another reopen.
    assert_eq!(store.append(&batch(1)[1..]).unwrap(), 3);
    drop(store);
    let (_, image, last) = MetadataStore::open(dir.path()).unwrap();
    assert_eq!(last, Some(3));
    assert_eq!(image, expected_image(2));
}

#[test]
fn empty_batch_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (mut store, _, _) = MetadataStore::open(dir.path()).unwrap();
    let err = store.append(&[]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidInput);
    assert_eq!(fs::metadata(store.path()).unwrap().len(), 0);
}

#[test]
fn garbage_tail_is_truncated() {
    let tails: [&[u8]; 4] = [
        b"\x00",
        b"\x00\x00\x00\x05garbage!",
        b"\xff\xff\xff\xff\x00\x00\x00\x00",
        b"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",
    ];
    for tail in tails {
        let dir = tempfile::tempdir().unwrap();
        let ends = write_batches(dir.path(), 3);
        append_bytes(&log_path(dir.path()), tail);
        let (mut store, image, last) = MetadataStore::open(dir.path()).unwrap();
        assert_eq!(last, Some(5));
        assert_eq!(image, expected_image(3));
        assert_eq!(fs::metadata(store.path()).unwrap().len(), ends[2]);
        store.append(&batch(3)).unwrap();
        drop(store);
        let (_, image, last) = MetadataStore::open(dir.path()).unwrap();
        assert_eq!((image, last), (expected_image(4), Some(7)));
    }
}

#[test]
fn corrupt_entry_ends_the_log() {
    let dir = tempfile::tempdir().unwrap();
    let ends = write_batches(dir.path(), 3);
    let path = log_path(dir.path());
    let mut bytes = fs::read(&path).unwrap();
    // Flip a payload byte of the second entry.
    let pos = ends[0] as usize + HEADER_LEN + 3;
    bytes[pos] ^= 0x01;
    fs::write(&path, &bytes).unwrap();
    let (_, image, last) = MetadataStore::open(dir.path()).unwrap();
    assert_eq!((image, last), (expected_image(1), Some(1)));
    assert_eq!(fs::metadata(&path).unwrap().len(), ends[0]);
}

/// Appends a frame with a correct CRC around `payload`.
fn append_valid_frame(path: &Path, payload: &[u8]) {
    let len = (payload.len() as u32).to_be_bytes();
    let crc = crc32c::crc32c_append(crc32c::crc32c(&len), payload);
    let mut frame = len.to_vec();
    frame.extend_from_slice(&crc.to_be_bytes());
    frame.extend_from_slice(payload);
    append_bytes(path, &frame);
}

#[test]
fn intact_but_unusable_entries_fail_open_without_truncating() {
    let payloads: [&[u8]; 4] = [
        b"not json",
        br#"{"base_offset":0,"records":[{"type":"FutureRecord"}]}"#,
        // Wrong base offset (the log holds offsets 0..=1).
        br#"{"base_offset":7,"records":[{"type":"UnregisterBroker","node_id":1}]}"#,
        // Decodes, but the image rejects it.
        br#"{"base_offset":2,"records":[{"type":"UnregisterBroker","node_id":1}]}"#,
    ];
    for payload in payloads {
        let dir = tempfile::tempdir().unwrap();
        write_batches(dir.path(), 1);
        let path = log_path(dir.path());
        append_valid_frame(&path, payload);
        let len = fs::metadata(&path).unwrap().len();
        let err = MetadataStore::open(dir.path()).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidData, "{err}");
        assert_eq!(fs::metadata(&path).unwrap().len(), len);
    }
}

#[test]
fn hand_written_valid_frame_is_accepted() {
    // Pins the on-disk format: a frame written independently of `encode_frame`.
    let dir = tempfile::tempdir().unwrap();
    MetadataStore::open(dir.path()).unwrap();
    append_valid_frame(
        &log_path(dir.path()),
        br#"{"base_offset":0,"records":[{"type":"RegisterBroker","node_id":4,"host":"h","port":1,"rack":null,"incarnation":"00000000-0000-0000-0000-000000000009"}]}"#,
    );
    let (_, image, last) = MetadataStore::open(dir.path()).unwrap();
    assert_eq!(last, Some(0));
    assert_eq!(image.broker(4).unwrap().host, "h");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]
    /// A crash can leave the file cut at any byte: every whole batch before the
    /// cut survives, the rest is dropped, and the log stays appendable.
    #[test]
    fn torn_tail_keeps_every_whole_batch(n in 1u128..6, cut_frac in 0.0f64..1.0) {
        let dir = tempfile::tempdir().unwrap();
        let ends = write_batches(dir.path(), n);
        let total = *ends.last().unwrap();
        let cut = ((total as f64) * cut_frac) as u64;
        let path = log_path(dir.path());
        OpenOptions::new().write(true).open(&path).unwrap().set_len(cut).unwrap();

        let whole = ends.iter().filter(|&&e| e <= cut).count() as u128;
        let (mut store, image, last) = MetadataStore::open(dir.path()).unwrap();
        prop_assert_eq!(&image, &expected_image(whole));
        prop_assert_eq!(last, (whole * 2).checked_sub(1).map(|v| v as u64));
        let kept = if whole == 0 { 0 } else { ends[whole as usize - 1] };
        prop_assert_eq!(fs::metadata(&path).unwrap().len(), kept);

        store.append(&batch(whole)).unwrap();
        drop(store);
        let (_, image, _) = MetadataStore::open(dir.path()).unwrap();
        prop_assert_eq!(image, expected_image(whole + 1));
    }
}

//! Mutated frames of every API never panic and never allocate out of proportion to their
//! size, through the request decoder (broker) and the response decoder (clients).
//!
//! The binary's allocator records the largest single allocation per thread, and refuses
//! (so the process aborts, as it would in production) anything above 1 GiB.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use bytes::Bytes;
use proptest::prelude::*;
use strata_proto::frame::{decode_request, decode_response_kind};
use strata_proto::shape::sample::{self, Rng};
use strata_proto::versions::SUPPORTED;

const HARD_LIMIT: usize = 1 << 30;

struct Recording;

thread_local! {
    static LARGEST: Cell<usize> = const { Cell::new(0) };
}

fn note(size: usize) {
    let _ = LARGEST.try_with(|l| l.set(l.get().max(size)));
}

// SAFETY: forwards to the system allocator; refusing a request (null) is allowed.
unsafe impl GlobalAlloc for Recording {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if layout.size() > HARD_LIMIT {
            return std::ptr::null_mut();
        }
        note(layout.size());
        System.alloc(layout)
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if layout.size() > HARD_LIMIT {
            return std::ptr::null_mut();
        }
        note(layout.size());
        System.alloc_zeroed(layout)
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > HARD_LIMIT {
            return std::ptr::null_mut();
        }
        note(new_size);
        System.realloc(ptr, layout, new_size)
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        System.dealloc(ptr, layout)
    }
}

#[global_allocator]
static ALLOCATOR: Recording = Recording;

/// The largest single allocation `f` makes on this thread.
fn largest_allocation<T>(f: impl FnOnce() -> T) -> (T, usize) {
    LARGEST.with(|l| l.set(0));
    let out = f();
    (out, LARGEST.with(|l| l.get()))
}

/// What a decoded frame may legitimately allocate at once: a vector of at most one element
/// per frame byte, of the largest decoded element (a few hundred bytes), or the client id
/// and error strings.
fn allowance(frame_len: usize) -> usize {
    (64 << 10) + 512 * frame_len
}

#[derive(Debug, Clone)]
enum Mutation {
    Byte(usize, u8),
    /// A large count or length, as `INT16`, `INT32` or a 5-byte varint.
    Huge(usize, u8),
    Insert(usize, u8),
    Delete(usize),
    Truncate(usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => (any::<usize>(), any::<u8>()).prop_map(|(p, b)| Mutation::Byte(p, b)),
        3 => (any::<usize>(), 0u8..5).prop_map(|(p, k)| Mutation::Huge(p, k)),
        1 => (any::<usize>(), any::<u8>()).prop_map(|(p, b)| Mutation::Insert(p, b)),
        1 => any::<usize>().prop_map(Mutation::Delete),
        1 => any::<usize>().prop_map(Mutation::Truncate),
    ]
}

fn apply(frame: &mut Vec<u8>, m: &Mutation) {
    if frame.is_empty() {
        return;
    }
    let at = |p: usize| p % frame.len();
    match *m {
        Mutation::Byte(p, b) => {
            let i = at(p);
            frame[i] = b;
        }
        Mutation::Huge(p, kind) => {
            let i = at(p);
            let patch: &[u8] = match kind {
                0 => &[0x7f, 0xff],
                1 => &[0x7f, 0xff, 0xff, 0xff],
                2 => &[0xff, 0xff, 0xff, 0xfe],
                3 => &[0xff, 0xff, 0xff, 0xff, 0x0f],
                _ => &[0xfe, 0xff, 0xff, 0xff, 0x0f],
            };
            for (k, b) in patch.iter().enumerate() {
                if let Some(slot) = frame.get_mut(i + k) {
                    *slot = *b;
                }
            }
        }
        Mutation::Insert(p, b) => {
            let i = at(p);
            frame.insert(i, b)
        }
        Mutation::Delete(p) => {
            let i = at(p);
            frame.remove(i);
        }
        Mutation::Truncate(p) => {
            let i = at(p);
            frame.truncate(i)
        }
    }
}

/// A valid request or response frame of a supported API and version.
fn frame(which: usize, version: usize, seed: u64, response: bool) -> (usize, i16, Vec<u8>) {
    let s = &SUPPORTED[which % SUPPORTED.len()];
    let span = (s.max - s.decode_min + 1) as usize;
    let v = s.decode_min + (version % span) as i16;
    let mut rng = Rng::new(seed);
    let f = if response {
        sample::response_frame(s.key, v, &mut rng)
    } else {
        sample::request_frame(s.key, v, &mut rng)
    };
    (
        which % SUPPORTED.len(),
        v,
        f.expect("the table covers SUPPORTED"),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn mutated_requests_never_panic_nor_allocate_unboundedly(
        which in any::<usize>(),
        version in any::<usize>(),
        seed in any::<u64>(),
        mutations in proptest::collection::vec(mutation(), 1..4),
    ) {
        let (_, _, mut f) = frame(which, version, seed, false);
        for m in &mutations {
            apply(&mut f, m);
        }
        let len = f.len();
        let frame = Bytes::from(f);
        let (_, largest) = largest_allocation(|| decode_request(frame));
        prop_assert!(largest <= allowance(len), "{largest} bytes for a {len}-byte frame");
    }

    #[test]
    fn mutated_responses_never_panic_nor_allocate_unboundedly(
        which in any::<usize>(),
        version in any::<usize>(),
        seed in any::<u64>(),
        mutations in proptest::collection::vec(mutation(), 1..4),
    ) {
        let (i, v, mut f) = frame(which, version, seed, true);
        for m in &mutations {
            apply(&mut f, m);
        }
        let len = f.len();
        let frame = Bytes::from(f);
        let key = SUPPORTED[i].key;
        let (_, largest) = largest_allocation(|| decode_response_kind(key, v, frame));
        prop_assert!(largest <= allowance(len), "{largest} bytes for a {len}-byte frame");
    }
}

/// Unmutated samples decode, so the mutations above start from frames that reach deep
/// into the decoder.
#[test]
fn unmutated_samples_decode() {
    for which in 0..SUPPORTED.len() {
        for version in 0..20 {
            let (_, _, f) = frame(which, version, version as u64, false);
            decode_request(Bytes::from(f)).expect("valid sample");
            let (i, v, f) = frame(which, version, version as u64, true);
            decode_response_kind(SUPPORTED[i].key, v, Bytes::from(f)).expect("valid sample");
        }
    }
}

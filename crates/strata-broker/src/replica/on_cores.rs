//! Work over many partitions spread on every core, for the blocking steps whose cost is
//! file-system calls per partition (opening logs at start, closing them at stop).

/// Runs `work` on each item, on as many scoped threads as there are cores (at most one
/// per `min_per_thread` items), and returns the results in the order of `items`. A
/// thread that panicked did an unknown part of its share: each of its items gets
/// `on_panic()`.
pub(super) fn map_on_cores<T: Send, R: Send>(
    items: Vec<T>,
    min_per_thread: usize,
    work: impl Fn(T) -> R + Sync,
    on_panic: impl Fn() -> R + Sync,
) -> Vec<R> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(items.len().div_ceil(min_per_thread.max(1)))
        .max(1);
    if threads == 1 {
        return items.into_iter().map(work).collect();
    }
    let chunk = items.len().div_ceil(threads);
    let mut chunks: Vec<Vec<T>> = Vec::new();
    let mut rest = items;
    while !rest.is_empty() {
        let tail = rest.split_off(chunk.min(rest.len()));
        chunks.push(std::mem::replace(&mut rest, tail));
    }
    let work = &work;
    std::thread::scope(|scope| {
        let handles: Vec<_> = chunks
            .into_iter()
            .map(|chunk| {
                let len = chunk.len();
                (
                    len,
                    scope.spawn(move || chunk.into_iter().map(work).collect::<Vec<_>>()),
                )
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|(len, h)| {
                h.join()
                    .unwrap_or_else(|_| (0..len).map(|_| on_panic()).collect())
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_keep_the_order_of_the_items() {
        let out = map_on_cores((0..1000).collect(), 10, |i: i32| i * 2, || -1);
        assert_eq!(out, (0..1000).map(|i| i * 2).collect::<Vec<_>>());
        let few = map_on_cores(vec![1, 2, 3], 64, |i: i32| i + 1, || -1);
        assert_eq!(few, vec![2, 3, 4]);
        assert!(map_on_cores(Vec::<i32>::new(), 1, |i| i, || -1).is_empty());
    }

    #[test]
    fn a_panicking_share_counts_as_failed() {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        if threads < 2 {
            return; // one thread: the panic would reach the caller, as without threads
        }
        let out = map_on_cores(
            (0..100).collect(),
            1,
            |i: i32| {
                if i == 0 {
                    panic!("boom");
                }
                Ok(i)
            },
            || Err(()),
        );
        assert_eq!(out.len(), 100);
        assert_eq!(out[0], Err(()));
        assert_eq!(out[99], Ok(99));
    }
}

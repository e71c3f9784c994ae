//! Records kept per worker: one slot each, alone on its cache lines, so the hot path shares
//! nothing between workers; a scenario reads the slots together once the run is over.

/// One `T` per worker.
pub(crate) struct PerWorker<T> {
    slots: Box<[Slot<T>]>,
}

/// A slot padded to two cache lines (the adjacent-line prefetcher fetches pairs).
#[repr(align(128))]
struct Slot<T>(T);

impl<T: Default> PerWorker<T> {
    /// A default slot for each of `workers` workers (at least one).
    pub(crate) fn new(workers: usize) -> Self {
        Self {
            slots: (0..workers.max(1)).map(|_| Slot(T::default())).collect(),
        }
    }
}

impl<T> PerWorker<T> {
    /// The slot of `worker` (the runner's worker indices are `0..workers`).
    pub(crate) fn get(&self, worker: usize) -> &T {
        &self.slots[worker % self.slots.len()].0
    }

    /// Every slot, in worker order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &T> {
        self.slots.iter().map(|slot| &slot.0)
    }
}

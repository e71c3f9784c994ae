//! Evaluation must not allocate: a counting global allocator watches the calls.
//!
//! The count is per thread, so other tests running in parallel cannot disturb it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use jiff::Timestamp;
use sentinel_policy::Policy;

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: delegates to the system allocator; only counts calls.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.with(|n| n.set(n.get() + 1));
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
}

#[test]
fn evaluation_does_not_allocate() {
    let policy = Policy::from_yaml(include_str!("../../../examples/policy.yaml")).unwrap();
    let instants: Vec<Timestamp> = [
        "2026-11-30T10:00:00Z",
        "2026-11-28T10:00:00Z",
        "2026-07-01T03:00:00Z",
        "2031-03-30T08:30:00Z",
        "1990-01-01T00:00:00Z",
    ]
    .iter()
    .map(|t| t.parse().unwrap())
    .collect();
    let requests = [
        ("bob", "production"),
        ("alice", "production"),
        ("alice", "staging"),
        ("carol", "break-glass"),
        ("mallory", "nothing"),
    ];
    // Warm up once so lazily initialised time zone data is not counted.
    for &(user, profile) in &requests {
        for &at in &instants {
            std::hint::black_box(policy.evaluate(user, profile, at));
        }
    }
    let before = allocations();
    let mut decided = 0;
    for &(user, profile) in &requests {
        for &at in &instants {
            decided += usize::from(std::hint::black_box(policy.evaluate(user, profile, at)).rule.is_some());
        }
    }
    assert_eq!(allocations() - before, 0, "evaluate allocated");
    assert!(decided > 0, "the requests exercised matching rules");
    // The counter works: a real allocation is seen.
    let before = allocations();
    std::hint::black_box(String::from("x"));
    assert_eq!(allocations() - before, 1);
}

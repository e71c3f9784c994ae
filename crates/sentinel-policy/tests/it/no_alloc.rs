//! Evaluation must not allocate: a counting global allocator watches the calls.
//!
//! The count is per thread, so other tests running in parallel cannot disturb it.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use jiff::Timestamp;
use sentinel_policy::{Policy, Request};

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: delegates to the system allocator; only counts calls.
#[allow(unsafe_code)]
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

/// The example policy (scanned rule by rule) and a large one (searched through the index).
fn policies() -> Vec<Policy> {
    let mut large = String::from("version: \"1\"\nrules:\n");
    for i in 0..100 {
        large += &format!(
            "  - name: r{i}\n    effect: allow\n    conditions: {{ users: [user{i}, alice], \
             time: {{ hours: {{ start: \"22:00\", end: \"06:00\" }}, timezone: Europe/London }} }}\n"
        );
    }
    [include_str!("../../../../examples/policy.yaml"), &large]
        .iter()
        .map(|source| Policy::from_yaml(source).unwrap())
        .collect()
}

#[test]
fn evaluation_does_not_allocate() {
    for policy in policies() {
        assert_no_allocation(&policy);
    }
}

fn assert_no_allocation(policy: &Policy) {
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
        ("user42", "production"),
    ];
    // Warm up once so lazily initialised time zone data is not counted.
    for &(user, profile) in &requests {
        for &at in &instants {
            std::hint::black_box(policy.evaluate(&Request::new(user, profile, at)));
        }
    }
    let before = allocations();
    let mut decided = 0;
    for &(user, profile) in &requests {
        for &at in &instants {
            decided += usize::from(
                std::hint::black_box(policy.evaluate(&Request::new(user, profile, at)))
                    .rule
                    .is_some(),
            );
        }
    }
    assert_eq!(allocations() - before, 0, "evaluate allocated");
    assert!(decided > 0, "the requests exercised matching rules");
}

#[test]
fn the_counter_sees_allocations() {
    let before = allocations();
    std::hint::black_box(String::from("x"));
    assert_eq!(allocations() - before, 1);
}

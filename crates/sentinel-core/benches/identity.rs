//! Cost of making identities on the issuance path: a request ID per request (target ≤ 40 ns)
//! and the SourceIdentity built from it.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use sentinel_core::identity::{RequestId, SourceIdentity};

fn identity(c: &mut Criterion) {
    c.bench_function("request_id_generate", |b| {
        b.iter(|| RequestId::generate().expect("OS RNG available"));
    });
    let id = RequestId::from_u64(0x0123_4567_89ab_cdef);
    c.bench_function("source_identity_new", |b| {
        b.iter(|| SourceIdentity::new(black_box("alice@example.com"), black_box(id)));
    });
    let text = "sentinel.alice@example.com.0123456789abcdef";
    c.bench_function("source_identity_parse", |b| {
        b.iter(|| SourceIdentity::parse(black_box(text)).map(|(_, id)| id));
    });
}

criterion_group!(benches, identity);
criterion_main!(benches);

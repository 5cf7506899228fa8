//! Throughput of the pure block core (`process_block`) on blocks of the test chain with many
//! matched fills (each fill comes with its two subaccount updates). No database: this measures
//! ender's own CPU cost per block. Run with `cargo bench -p ender`.

#[path = "../tests/common/mod.rs"]
mod common;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use ender::block::process_block;
use ender::state::{Caches, State};
use ender::{decode_message, DecodedBlock};

/// Caches after the genesis block of the chain, and the next block with up to `fills` fills.
fn fixture(fills: u64) -> (Caches, DecodedBlock) {
    let mut chain = common::Chain::new(11).with_max_fills(fills);
    let genesis = decode_message(&chain.next_block()).unwrap();
    let empty = Caches::default();
    let mut state = State::new(&empty);
    state.open_interest = Some(Default::default());
    let outcome = process_block(&genesis, &state).unwrap();
    let mut caches = Caches::default();
    caches.apply(outcome.cache_delta);
    let block = decode_message(&chain.next_block()).unwrap();
    (caches, block)
}

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("process_block");
    group.sample_size(10);
    for fills in [100u64, 1_000] {
        let (caches, block) = fixture(fills);
        group.throughput(Throughput::Elements(block.events.len() as u64));
        group.bench_function(format!("up_to_{fills}_fills"), |b| {
            b.iter_batched(
                || {
                    let mut state = State::new(&caches);
                    state.open_interest = Some(Default::default());
                    state
                },
                |state| process_block(&block, &state).unwrap(),
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

//! `Simulation::step` must not allocate: a counting global allocator watches it.
//!
//! Allocations are counted per thread. With a process-wide count, CI once saw 4 allocations
//! in the measured window that no local run reproduces (with AVX2 or SSE2 kernels);
//! the likeliest source is libtest's main thread, which does its own allocating bookkeeping
//! while the test thread runs and can be delayed into the window on a busy machine.
#![cfg(not(target_arch = "wasm32"))] // native; the browser suite is tests/wasm.rs

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::Arc;

use dynconf::{Engine, Model, Simulation};

struct Counting;

thread_local! {
    // Const-initialised and without a destructor, so reading it never allocates.
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn count_allocation() {
    // `try_with`: an allocation during thread teardown must not panic inside the allocator.
    let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
}

fn allocations_on_this_thread() -> usize {
    ALLOCATIONS.with(Cell::get)
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count_allocation();
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count_allocation();
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn the_counter_sees_this_threads_allocations() {
    let before = allocations_on_this_thread();
    drop(std::hint::black_box(vec![0u8; 64]));
    assert_eq!(allocations_on_this_thread() - before, 1);
}

#[test]
fn steps_do_not_allocate() {
    let model = Arc::new(Model::from_bytes(&common::random_model(5).build()).unwrap());
    let input = common::random_input(1, model.input().len());
    for engine in [Engine::Dense, Engine::EventDriven] {
        let mut sim = Simulation::new(Arc::clone(&model), engine);
        sim.set_input_f64(&input).unwrap();
        let before = allocations_on_this_thread();
        let mut spikes = 0;
        for _ in 0..20 {
            spikes += sim.step().spikes;
        }
        sim.reset();
        let after = allocations_on_this_thread();
        assert!(spikes > 0);
        assert_eq!(after - before, 0, "{engine:?}: step allocated");
    }
}

/// The same on the shapes of the field's networks: a residual graph (ResNet-18's) and a deep
/// chain (VGG-16's).
#[test]
fn steps_of_resnet18_and_vgg16_shapes_do_not_allocate() {
    for builder in [
        common::random_resnet18_shape(2),
        common::random_vgg16_shape(2),
    ] {
        let model = Arc::new(Model::from_bytes(&builder.build()).unwrap());
        let input = common::random_input(1, model.input().len());
        let mut sim = Simulation::new(Arc::clone(&model), Engine::EventDriven);
        sim.set_input_f64(&input).unwrap();
        let before = allocations_on_this_thread();
        for _ in 0..3 {
            std::hint::black_box(sim.step().spikes);
        }
        assert_eq!(
            allocations_on_this_thread() - before,
            0,
            "{}: step allocated",
            model.name()
        );
    }
}

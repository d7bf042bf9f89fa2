//! `Simulation::step` must not allocate: a counting global allocator watches it.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use dynconf::{Engine, Model, Simulation};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::SeqCst);
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::SeqCst);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn steps_do_not_allocate() {
    let model = Arc::new(Model::from_bytes(&common::random_model(5).build()).unwrap());
    let input = common::random_input(1, model.input().len());
    for engine in [Engine::Dense, Engine::EventDriven] {
        let mut sim = Simulation::new(Arc::clone(&model), engine);
        sim.set_input_f64(&input).unwrap();
        let before = ALLOCATIONS.load(Ordering::SeqCst);
        let mut spikes = 0;
        for _ in 0..20 {
            spikes += sim.step().spikes;
        }
        sim.reset();
        let after = ALLOCATIONS.load(Ordering::SeqCst);
        assert!(spikes > 0);
        assert_eq!(after - before, 0, "{engine:?}: step allocated");
    }
}

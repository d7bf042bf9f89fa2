//! A model file (safetensors + the `dynconf` layer list): loading must refuse or accept,
//! never panic; an accepted small model must run a few steps in both engines and the ANN.
#![no_main]

use std::sync::Arc;

use dynconf::ann::QuantizedAnn;
use dynconf::{Engine, Model, Simulation};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let Ok(model) = Model::from_bytes(bytes) else {
        return;
    };
    // Valid but large models are the loader's concern, not a run's: keep each input fast.
    if model.neuron_count() > 50_000 || model.input().len() > 50_000 {
        return;
    }
    let model = Arc::new(model);
    let input = vec![0.5; model.input().len()];
    for engine in [Engine::Dense, Engine::EventDriven] {
        let mut simulation = Simulation::new(Arc::clone(&model), engine);
        simulation
            .set_input_f64(&input)
            .expect("an input of the model's size");
        for _ in 0..3 {
            simulation.step();
        }
    }
    let _ = QuantizedAnn::new(&model).logits(&model, &input);
});

//! Dynamic Confidence for spiking neural networks (Li, Jones & Furber, ICCV 2023).
//!
//! A quantized ANN (QCFS activations) converted to integrate-and-fire neurons is simulated
//! one time step at a time; after every step a confidence is decoded from the accumulated
//! output, and the run stops as soon as it exceeds a threshold calibrated offline.
//!
//! The data path, in module order:
//! image → [`crop`] (the part the network sees) → [`preprocess`] (any size → normalised 32×32) → [`model`] (loaded and validated
//! once) → [`snn::Simulation::set_input`] (the analog first layer, once, in f64, with the
//! channels-first forms of [`layers`]) → [`snn::Simulation::step`] (IF layers, [`neurons`],
//! and the spiking engine between them, on channels-last maps) → accumulated output →
//! [`decode`] (confidence, stop rule).
//! Around it: [`ann`] (the quantized ANN the SNN approximates), [`calibrate`] (traces,
//! Pareto front, threshold choice), [`eval`] (accuracy and cost over a data set) and
//! [`cifar`] (the CIFAR-10 binary format).
//!
//! The library is platform-free (no threads, no file access except [`cifar::load_split`] on
//! native targets), so it builds for `wasm32-unknown-unknown`; `wasm` (wasm32 only) is its browser
//! binding. The command line (threads, files, image decoding) is the `dynconf-cli` package
//! in `cli/`.

mod analog;
pub mod ann;
pub mod calibrate;
pub mod cifar;
pub mod crop;
pub mod decode;
mod engine;
pub mod eval;
pub mod layers;
pub mod model;
pub mod neurons;
pub mod preprocess;
pub mod snn;

pub use decode::{Decision, Decoder, Stop, StopRule};
pub use engine::{ChannelsFirst, ChannelsFirstIter};
pub use model::{InputError, Model, ModelError};
pub use snn::{Engine, Simulation, StepReport};

#[cfg(target_arch = "wasm32")]
pub mod wasm;

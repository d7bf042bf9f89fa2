//! The model: its file format ([`spec`]), loading and validation (`load.rs`), and its
//! structure as a layer graph: an analog prefix, IF layers, and what each layer's output
//! carries ([`Topology`], [`Signal`]).

mod load;
pub mod spec;
mod topology;

pub use spec::InputSpec;
pub use topology::{Signal, SpikingStage, Topology};

use crate::layers::{ConvPool, IntConv, Layer};

/// Why a model file was rejected.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The file is larger than [`MAX_FILE_BYTES`] (its size in bytes).
    #[error("the model file is {:.1} MB; the limit is {} MB (a CIFAR-scale QCFS network in int8 is a few MB)", *.0 as f64 / (1024.0 * 1024.0), MAX_FILE_BYTES / (1024 * 1024))]
    TooLarge(u64),
    /// The bytes are not a safetensors file (the parser's message).
    #[error("not a readable safetensors file ({0}); the file may be truncated or not a model")]
    Container(String),
    /// The header has no `dynconf` metadata key.
    #[error("the file has no `dynconf` metadata entry; is it a dynconf-snn model written by training/export.py?")]
    MissingMetadata,
    /// The metadata is not JSON of the expected form (serde's message).
    #[error("the `dynconf` metadata is not a valid dynconf-snn description: {0}")]
    Json(String),
    /// A top-level field is wrong (format, version, input, classes, levels, no IF layer).
    #[error("model metadata: {0}")]
    Spec(String),
    /// Entry `index` (0-based) of `layers`, named `name`, is wrong.
    #[error("layer {index} (`{name}`): {message}")]
    Layer {
        index: usize,
        name: String,
        message: String,
    },
    /// Tensor `name` is missing, stray, or of the wrong dtype, shape or values.
    #[error("tensor `{name}` {message}")]
    Tensor { name: String, message: String },
}

/// The largest model file accepted, in bytes (256 MiB), by the CLI (before reading it) and
/// the page (`maxModelFileBytes()`, before reading it): a ResNet-18 in f32 is 45 MB; the limit
/// keeps a wrong file from exhausting the memory of a browser tab.
pub const MAX_FILE_BYTES: u64 = 256 * 1024 * 1024;

/// [`ModelError::TooLarge`] when a model file of `bytes` bytes is over [`MAX_FILE_BYTES`].
pub fn check_file_size(bytes: u64) -> Result<(), ModelError> {
    if bytes > MAX_FILE_BYTES {
        return Err(ModelError::TooLarge(bytes));
    }
    Ok(())
}

impl ModelError {
    pub(crate) fn layer(index: usize, name: &str, message: String) -> Self {
        ModelError::Layer {
            index,
            name: name.to_string(),
            message,
        }
    }

    pub(crate) fn tensor(name: &str, message: String) -> Self {
        ModelError::Tensor {
            name: name.to_string(),
            message,
        }
    }
}

/// An input of the wrong length for the model.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the input has {found} values but the model expects {expected} (channels × height × width)"
)]
pub struct InputError {
    /// Values the model takes: channels × height × width of its input.
    pub expected: usize,
    /// Values given.
    pub found: usize,
}

/// A validated network, ready to simulate. Immutable and `Sync`: share one between threads
/// (in an `Arc`) and give each thread its own [`crate::snn::Simulation`].
#[derive(Clone, Debug)]
pub struct Model {
    name: String,
    input: InputSpec,
    classes: Vec<String>,
    levels: u32,
    layers: Vec<Layer>,
    topology: Topology,
    /// Per layer, a spike-fed conv2d fused with the average pool that alone reads it: built
    /// once here and shared by every simulation.
    conv_pools: Vec<Option<ConvPool>>,
    /// Per layer, a spike-fed convolution (fused like `conv_pools`) in integers for the
    /// event-driven SNN, when its weights are int8 and the integer form is exact
    /// (`load::int_conv`).
    int_convs: Vec<Option<IntConv>>,
    metadata_json: String,
}

impl Model {
    /// Parses and validates a `dynconf-snn` safetensors file held in memory.
    ///
    /// # Errors
    /// [`ModelError::TooLarge`] over [`MAX_FILE_BYTES`] ([`check_file_size`]); otherwise what
    /// is wrong with the file, by name.
    pub fn from_bytes(bytes: &[u8]) -> Result<Model, ModelError> {
        check_file_size(bytes.len() as u64)?;
        load::load(bytes)
    }

    /// The model's name from its metadata (may be empty).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Input size and normalisation; inputs are normalised images, flattened CHW.
    pub fn input(&self) -> &InputSpec {
        &self.input
    }

    /// Class names, in output order (the last layer has one output per class).
    pub fn classes(&self) -> &[String] {
        &self.classes
    }

    /// Quantization levels L of the QCFS activations.
    pub fn levels(&self) -> u32 {
        self.levels
    }

    /// All layers, in file order (topological: every layer after its inputs), with resolved
    /// inputs and shapes.
    pub fn layers(&self) -> &[Layer] {
        &self.layers
    }

    /// Layers before the first IF layer (the analog prefix: a chain of one weighted layer and
    /// any pooling, computed once per image in f64; its output is the constant input current
    /// of the IF layers that read it).
    pub fn analog_layers(&self) -> &[Layer] {
        &self.layers[self.topology.analog()]
    }

    /// Shape of the analog prefix's output: the constant input current of the IF layers that
    /// read it ([`crate::snn::Simulation::input_current`]).
    pub fn analog_output_shape(&self) -> crate::layers::Shape {
        self.layers[self.topology.analog().end - 1].output_shape
    }

    /// Indices of the layers after the analog prefix, the ones every time step runs, in the
    /// order they run.
    pub fn spiking_layers(&self) -> std::ops::Range<usize> {
        self.topology.analog().end..self.layers.len()
    }

    /// The IF layers in order.
    pub fn stages(&self) -> &[SpikingStage] {
        self.topology.stages()
    }

    /// What the output of layer `layer` (an index into [`Model::layers`]) carries.
    pub fn signal(&self, layer: usize) -> Signal {
        self.topology.signal(layer)
    }

    /// The layers that read layer `layer`'s output, in list order.
    pub fn consumers(&self, layer: usize) -> &[usize] {
        self.topology.consumers(layer)
    }

    /// The stage (IF layer number, an index into [`Model::stages`]) of layer `layer`, if it
    /// is an IF layer.
    pub fn stage_of(&self, layer: usize) -> Option<usize> {
        self.topology.stage_of(layer)
    }

    /// The factor input `input` of `add` layer `layer` is multiplied by: the θ of the IF
    /// layer whose spikes it carries, or `None` for a current.
    pub(crate) fn add_scale(&self, layer: usize, input: usize) -> Option<f32> {
        match self.signal(self.layers[layer].inputs[input]) {
            Signal::Spikes { source } => {
                let stage = self.stage_of(source).expect("spikes come from an IF layer");
                Some(self.stages()[stage].threshold)
            }
            Signal::Analog | Signal::Current { .. } => None,
        }
    }

    /// Total number of IF neurons, all layers.
    pub fn neuron_count(&self) -> usize {
        self.stages().iter().map(SpikingStage::neurons).sum()
    }

    /// Layer `layer`'s convolution and the average pool that alone reads it as one
    /// convolution, if `layer` is a spike-fed conv2d read only by an avgpool2d (the
    /// event-driven engine runs the pair in this form).
    pub(crate) fn conv_pool(&self, layer: usize) -> Option<&ConvPool> {
        self.conv_pools[layer].as_ref()
    }

    /// Layer `layer`'s convolution in integers, fused with its pool when
    /// [`Model::conv_pool`] is: the event-driven SNN runs it on spikes (or spikes averaged by
    /// power-of-two pools) when the model's weights allow it exactly.
    pub(crate) fn int_conv(&self, layer: usize) -> Option<&IntConv> {
        self.int_convs[layer].as_ref()
    }

    /// The spike-fed convolutions the event-driven engine runs in integers (see
    /// [`Model::int_conv`]), numbered in list order among the model's weighted layers after
    /// the analog prefix, for tests and benchmarks.
    #[doc(hidden)]
    pub fn integer_event_stages(&self) -> Vec<usize> {
        self.spiking_layers()
            .filter(|&i| self.layers[i].is_weighted())
            .enumerate()
            .filter(|&(_, i)| self.int_convs[i].is_some())
            .map(|(k, _)| k)
            .collect()
    }

    /// The raw `dynconf` metadata JSON, including keys this crate does not interpret
    /// (`validation`, `training`, ...).
    pub fn metadata_json(&self) -> &str {
        &self.metadata_json
    }
}

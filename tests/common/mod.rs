//! Builds small random `dynconf-snn` model files in memory (docs/model-format.md): f16
//! weights (or int8 with row scales, [`ModelBuilder::int8`]), f32 biases, the layer list as
//! JSON under the `dynconf` metadata key. Weights of spike-fed layers and thresholds sit on the
//! exporter's grids (2^-16, 2^-15), as in real models, so dense and event-driven engines must
//! agree bit for bit.
#![allow(dead_code)]

use std::collections::HashMap;

use half::f16;
use safetensors::tensor::TensorView;
use safetensors::Dtype;
use serde_json::{json, Value};

/// xorshift64*: deterministic, dependency-free test randomness.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform integer in [-bound, bound].
    pub fn int(&mut self, bound: i64) -> i64 {
        (self.next_u64() % (2 * bound as u64 + 1)) as i64 - bound
    }
}

/// A tensor to be written: dtype, shape, little-endian bytes.
#[derive(Clone, Debug)]
pub struct Tensor {
    pub dtype: Dtype,
    pub shape: Vec<usize>,
    pub bytes: Vec<u8>,
}

impl Tensor {
    pub fn f16(shape: &[usize], values: &[f32]) -> Self {
        let bytes = values
            .iter()
            .flat_map(|&v| f16::from_f32(v).to_le_bytes())
            .collect();
        Tensor {
            dtype: Dtype::F16,
            shape: shape.to_vec(),
            bytes,
        }
    }

    pub fn i8(shape: &[usize], values: &[i8]) -> Self {
        Tensor {
            dtype: Dtype::I8,
            shape: shape.to_vec(),
            bytes: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        }
    }

    pub fn f32(shape: &[usize], values: &[f32]) -> Self {
        let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        Tensor {
            dtype: Dtype::F32,
            shape: shape.to_vec(),
            bytes,
        }
    }
}

/// Writes a safetensors file with `metadata` under the `dynconf` key.
pub fn serialize(metadata: &Value, tensors: &HashMap<String, Tensor>) -> Vec<u8> {
    let views: Vec<(String, TensorView<'_>)> = tensors
        .iter()
        .map(|(name, t)| {
            (
                name.clone(),
                TensorView::new(t.dtype, t.shape.clone(), &t.bytes).expect("tensor view"),
            )
        })
        .collect();
    let info = HashMap::from([("dynconf".to_string(), metadata.to_string())]);
    safetensors::serialize(views, Some(info)).expect("serialize")
}

/// A model under construction: metadata JSON plus tensors, both open to tampering by tests.
#[derive(Clone, Debug)]
pub struct ModelBuilder {
    pub metadata: Value,
    pub tensors: HashMap<String, Tensor>,
    rng: Rng,
    /// Channels and side of the current activation map (square maps only).
    channels: usize,
    side: usize,
    /// Whether an IF layer has been added (weights after it go on the grid).
    spiking: bool,
    /// Whether spike-fed weights are written as int8 with row scales, as the exporter does.
    int8: bool,
    /// Channels and side of every layer so far, by name, for [`ModelBuilder::from`].
    shapes: HashMap<String, (usize, usize)>,
    /// The `inputs` of the next layer, if it does not read the previous one.
    inputs: Option<Vec<String>>,
}

/// Spike-fed weights are `k · 2^-12` with |k| ≤ 2048: on the 2^-16 grid and exact in f16.
const WEIGHT_STEP: f64 = 1.0 / 4096.0;

impl ModelBuilder {
    /// A model with a `channels × side × side` input and 10 classes, quantization `levels`.
    pub fn new(seed: u64, channels: usize, side: usize, levels: u32) -> Self {
        let metadata = json!({
            "format": "dynconf-snn", "version": 1, "name": "random-test-model",
            "input": {"channels": channels, "height": side, "width": side,
                      "mean": vec![0.5; channels], "std": vec![0.25; channels]},
            "classes": (0..10).map(|i| format!("class{i}")).collect::<Vec<_>>(),
            "levels": levels,
            "layers": [],
            "validation": {"note": "random weights"},
        });
        ModelBuilder {
            metadata,
            tensors: HashMap::new(),
            rng: Rng::new(seed),
            channels,
            side,
            spiking: false,
            int8: false,
            shapes: HashMap::new(),
            inputs: None,
        }
    }

    /// The next layer reads layer `name` instead of the previous one (format version 2).
    pub fn from(mut self, name: &str) -> Self {
        (self.channels, self.side) = self.shapes[name];
        self.inputs = Some(vec![name.to_string()]);
        self.metadata["version"] = json!(2);
        self
    }

    /// An `add` of the named layers (format version 2), all of one shape.
    pub fn add(mut self, name: &str, inputs: &[&str]) -> Self {
        (self.channels, self.side) = self.shapes[inputs[0]];
        self.inputs = Some(inputs.iter().map(|s| s.to_string()).collect());
        self.metadata["version"] = json!(2);
        self.push_layer(json!({"kind": "add", "name": name}));
        self
    }

    /// Spike-fed weights from here on are int8 `q` with one scale `c · 2^e` per output row
    /// (c in 1..15, e ≥ -14: the exporter's choice for layers fed through a 2×2 pool, on the
    /// 2^-16 grid either way), as `training/export.py` writes them.
    pub fn int8(mut self) -> Self {
        self.int8 = true;
        self
    }

    /// The weight tensors of a weighted layer: `<name>.weight` (and `<name>.weight_scale`).
    fn weight_tensors(&mut self, name: &str, shape: &[usize], gain: f64) {
        let (out, fan_in) = (shape[0], shape[1..].iter().product::<usize>());
        if !(self.spiking && self.int8) {
            let weight = self.weights(out * fan_in, fan_in, gain);
            self.tensors
                .insert(format!("{name}.weight"), Tensor::f16(shape, &weight));
            return;
        }
        // Uniform weights of the same spread as `weights`, in 127 steps of the row scale.
        let spread = gain / (fan_in as f64).sqrt() * 3f64.sqrt();
        let mut q = Vec::with_capacity(out * fan_in);
        let mut scale = Vec::with_capacity(out);
        for _ in 0..out {
            let c = 1 + (self.rng.next_u64() % 15) as i32;
            let e = (spread / 127.0 / c as f64).log2().round().max(-14.0) as i32;
            scale.push(c as f32 * 2f32.powi(e));
            q.extend((0..fan_in).map(|_| self.rng.int(127) as i8));
        }
        self.tensors
            .insert(format!("{name}.weight"), Tensor::i8(shape, &q));
        self.tensors
            .insert(format!("{name}.weight_scale"), Tensor::f32(&[out], &scale));
    }

    /// Appends `layer`, whose output has the builder's current channels and side.
    fn push_layer(&mut self, mut layer: Value) {
        if let Some(inputs) = self.inputs.take() {
            layer["inputs"] = json!(inputs);
        }
        let layers = self.metadata["layers"].as_array_mut().expect("layers");
        let name = match layer["name"].as_str() {
            Some(name) => name.to_string(),
            None => format!("{}_{}", layer["kind"].as_str().unwrap(), layers.len()),
        };
        layers.push(layer);
        self.shapes.insert(name, (self.channels, self.side));
    }

    /// Random weights scaled so a unit input pattern drives currents of about `gain`.
    fn weights(&mut self, count: usize, fan_in: usize, gain: f64) -> Vec<f32> {
        let scale = gain / (fan_in as f64).sqrt();
        (0..count)
            .map(|_| {
                let w = (self.rng.uniform() * 2.0 - 1.0) * scale * 3f64.sqrt();
                if self.spiking {
                    ((w / WEIGHT_STEP).round().clamp(-2048.0, 2048.0) * WEIGHT_STEP) as f32
                } else {
                    f16::from_f64(w).to_f32()
                }
            })
            .collect()
    }

    fn biases(&mut self, count: usize, center: f64, spread: f64) -> Vec<f32> {
        (0..count)
            .map(|_| {
                let b = center + spread * (self.rng.uniform() * 2.0 - 1.0);
                if self.spiking {
                    ((b * 65536.0).round() / 65536.0) as f32
                } else {
                    b as f32
                }
            })
            .collect()
    }

    pub fn conv(
        mut self,
        name: &str,
        out: usize,
        kernel: usize,
        stride: usize,
        padding: usize,
        gain: f64,
    ) -> Self {
        self.weight_tensors(name, &[out, self.channels, kernel, kernel], gain);
        let bias = self.biases(out, 0.1 * gain, 0.1 * gain);
        self.tensors
            .insert(format!("{name}.bias"), Tensor::f32(&[out], &bias));
        self.channels = out;
        self.side = (self.side + 2 * padding - kernel) / stride + 1;
        self.push_layer(
            json!({"kind": "conv2d", "name": name, "stride": stride, "padding": padding}),
        );
        self
    }

    pub fn avgpool(mut self, kernel: usize) -> Self {
        self.side /= kernel;
        self.push_layer(json!({"kind": "avgpool2d", "kernel": kernel, "stride": kernel}));
        self
    }

    /// An average pool named `name` (for [`ModelBuilder::add`] and [`ModelBuilder::from`]).
    pub fn avgpool_as(mut self, name: &str, kernel: usize) -> Self {
        self.side /= kernel;
        self.push_layer(
            json!({"kind": "avgpool2d", "name": name, "kernel": kernel, "stride": kernel}),
        );
        self
    }

    pub fn global_avgpool(mut self) -> Self {
        self.side = 1;
        self.push_layer(json!({"kind": "global_avgpool"}));
        self
    }

    /// An IF layer; `threshold` is rounded onto the 2^-15 grid.
    pub fn if_layer(mut self, name: &str, threshold: f64) -> Self {
        let theta = (threshold * 32768.0).round() / 32768.0;
        self.push_layer(json!({"kind": "if", "name": name, "threshold": theta}));
        self.spiking = true;
        self
    }

    pub fn linear(mut self, name: &str, out: usize, gain: f64) -> Self {
        let fan_in = self.channels * self.side * self.side;
        self.weight_tensors(name, &[out, fan_in], gain);
        let bias = self.biases(out, 0.0, 0.05 * gain);
        self.tensors
            .insert(format!("{name}.bias"), Tensor::f32(&[out], &bias));
        self.channels = out;
        self.side = 1;
        self.push_layer(json!({"kind": "linear", "name": name}));
        self
    }

    pub fn build(&self) -> Vec<u8> {
        serialize(&self.metadata, &self.tensors)
    }
}

/// A small network shaped like the project's (patch conv without padding, pooling after
/// convs, a global average over an odd map, a linear head): 3×16×16 input.
pub fn random_model(seed: u64) -> ModelBuilder {
    ModelBuilder::new(seed, 3, 16, 4)
        .conv("conv0", 8, 2, 1, 0, 2.0) // 15×15
        .if_layer("if0", 1.0)
        .conv("conv1", 12, 3, 1, 1, 2.5)
        .avgpool(2) // 7×7
        .if_layer("if1", 0.75)
        .conv("conv2", 12, 3, 2, 1, 2.5) // 4×4
        .if_layer("if2", 1.25)
        .conv("conv3", 16, 2, 1, 0, 2.5) // 3×3: the global average divides by 9
        .if_layer("if3", 1.0)
        .global_avgpool()
        .linear("fc", 10, 4.0)
}

/// A small network with int8 weights, as the exporter writes them, that pools both ways: a
/// convolution then its pool before an IF layer (fused by the event-driven engine) and an IF
/// layer's spikes pooled before a convolution (graded inputs, k/4), as in the v5–v7 models.
pub fn random_int8_model(seed: u64) -> ModelBuilder {
    ModelBuilder::new(seed, 3, 16, 4)
        .int8()
        .conv("conv0", 8, 2, 1, 0, 2.0) // 15×15
        .if_layer("if0", 1.0)
        .conv("conv1", 12, 3, 1, 1, 2.5)
        .avgpool(2) // 7×7
        .if_layer("if1", 0.75)
        .conv("conv2", 16, 3, 1, 1, 2.5)
        .if_layer("if2", 1.0)
        .avgpool(2) // 3×3
        .conv("conv3", 16, 3, 1, 1, 3.0)
        .if_layer("if3", 1.0)
        .global_avgpool()
        .linear("fc", 10, 4.0)
}

/// A small random model with CIFAR-10's 3×32×32 input, for command-line tests.
pub fn random_cifar_model(seed: u64) -> ModelBuilder {
    ModelBuilder::new(seed, 3, 32, 4)
        .conv("conv0", 4, 2, 1, 0, 2.0) // 31×31
        .if_layer("if0", 1.0)
        .conv("conv1", 8, 3, 2, 1, 2.5) // 16×16
        .avgpool(2) // 8×8
        .if_layer("if1", 0.75)
        .conv("conv2", 8, 3, 2, 1, 2.5) // 4×4
        .if_layer("if2", 1.0)
        .global_avgpool()
        .linear("fc", 10, 4.0)
}

/// A random network with the project's real layout and size (patch conv 3→24, then blocks of
/// widths 64, 128, 256 with pooling, global average, linear head): for timing.
pub fn random_full_size_model(seed: u64) -> ModelBuilder {
    let mut builder = ModelBuilder::new(seed, 3, 32, 4)
        .conv("whiten", 24, 2, 1, 0, 2.0)
        .if_layer("if0", 1.0);
    let mut index = 1;
    for width in [64, 128, 256] {
        builder = builder
            .conv(&format!("conv{index}"), width, 3, 1, 1, 2.0)
            .avgpool(2)
            .if_layer(&format!("if{index}"), 1.0)
            .conv(&format!("conv{}", index + 1), width, 3, 1, 1, 2.0)
            .if_layer(&format!("if{}", index + 1), 1.0);
        index += 2;
    }
    builder.global_avgpool().linear("fc", 10, 4.0)
}

/// [`random_full_size_model`]'s widths laid out as the v5–v7 models (each block pools its first
/// IF layer's spikes), with int8 weights.
pub fn random_full_size_int8_model(seed: u64) -> ModelBuilder {
    let mut builder = ModelBuilder::new(seed, 3, 32, 4)
        .int8()
        .conv("whiten", 24, 2, 1, 0, 2.0)
        .if_layer("if0", 1.0);
    let mut index = 1;
    for width in [64, 160, 256] {
        builder = builder
            .conv(&format!("conv{index}"), width, 3, 1, 1, 2.0)
            .if_layer(&format!("if{index}"), 1.0)
            .avgpool(2)
            .conv(&format!("conv{}", index + 1), width, 3, 1, 1, 2.0)
            .if_layer(&format!("if{}", index + 1), 1.0);
        index += 2;
    }
    builder.global_avgpool().linear("fc", 10, 4.0)
}

/// A small residual network (format version 2) with every kind of edge: an identity shortcut
/// from an IF layer, a strided 1×1 convolution shortcut, an identity shortcut of pooled spikes
/// (the pool after an IF layer, as in v7's blocks), and a convolution pooled before its IF
/// layer: 3×16×16 input.
pub fn random_residual_model(seed: u64) -> ModelBuilder {
    residual_layers(ModelBuilder::new(seed, 3, 16, 4))
}

/// [`random_residual_model`] with int8 weights, as the exporter writes them.
pub fn random_residual_int8_model(seed: u64) -> ModelBuilder {
    residual_layers(ModelBuilder::new(seed, 3, 16, 4).int8())
}

fn residual_layers(builder: ModelBuilder) -> ModelBuilder {
    builder
        .conv("stem", 8, 3, 1, 1, 2.0) // 8×16×16
        .if_layer("if0", 1.0)
        .conv("b1.conv1", 8, 3, 1, 1, 2.0)
        .if_layer("b1.if1", 1.0)
        .conv("b1.conv2", 8, 3, 1, 1, 2.0)
        .add("b1.add", &["b1.conv2", "if0"])
        .if_layer("b1.if2", 1.5)
        .conv("b2.conv1", 12, 3, 2, 1, 2.0) // 12×8×8
        .if_layer("b2.if1", 1.0)
        .conv("b2.conv2", 12, 3, 1, 1, 2.0)
        .from("b1.if2")
        .conv("b2.shortcut", 12, 1, 2, 0, 1.5)
        .add("b2.add", &["b2.conv2", "b2.shortcut"])
        .if_layer("b2.if2", 1.5)
        .conv("b3.conv1", 12, 3, 1, 1, 2.0)
        .if_layer("b3.if1", 1.0)
        .avgpool_as("b3.pool", 2) // 12×4×4
        .conv("b3.conv2", 12, 3, 1, 1, 2.0)
        .add("b3.add", &["b3.conv2", "b3.pool"])
        .if_layer("b3.if2", 1.5)
        .conv("b4.conv", 16, 3, 1, 1, 2.0)
        .avgpool(2) // 16×2×2, pooled currents
        .if_layer("b4.if", 1.0)
        .global_avgpool()
        .linear("fc", 10, 4.0)
}

/// The shape of the CIFAR ResNet-18 (3×3 stem of 64 channels, four stages of two basic
/// blocks, 64 to 512 channels, strided 1×1 convolution shortcuts where the shape changes,
/// identity shortcuts elsewhere), random int8 weights: 11 M parameters, for loading, speed and
/// allocation tests.
pub fn random_resnet18_shape(seed: u64) -> ModelBuilder {
    let mut b = ModelBuilder::new(seed, 3, 32, 2)
        .int8()
        .conv("conv1", 64, 3, 1, 1, 2.0)
        .if_layer("act1", 1.0);
    let mut input = "act1".to_string();
    let mut channels = 64;
    for (stage, width) in [64, 128, 256, 512].into_iter().enumerate() {
        for block in 0..2 {
            let stride = if stage > 0 && block == 0 { 2 } else { 1 };
            let p = format!("layer{}.{block}", stage + 1);
            b = b
                .from(&input)
                .conv(&format!("{p}.conv1"), width, 3, stride, 1, 2.0)
                .if_layer(&format!("{p}.act1"), 1.0)
                .conv(&format!("{p}.conv2"), width, 3, 1, 1, 2.0);
            let shortcut = if stride != 1 || channels != width {
                b = b
                    .from(&input)
                    .conv(&format!("{p}.shortcut"), width, 1, stride, 0, 1.0);
                format!("{p}.shortcut")
            } else {
                input.clone()
            };
            b = b
                .add(&format!("{p}.add"), &[&format!("{p}.conv2"), &shortcut])
                .if_layer(&format!("{p}.act2"), 1.5);
            input = format!("{p}.act2");
            channels = width;
        }
    }
    b.global_avgpool().linear("fc", 10, 4.0)
}

/// The shape of VGG-16 for CIFAR (13 3×3 convolutions of 64 to 512 channels in five groups,
/// each group ending in a 2×2 average pool, then linear 512→4096→4096→10 with IF layers
/// between), random int8 weights: 34 M parameters.
pub fn random_vgg16_shape(seed: u64) -> ModelBuilder {
    let mut b = ModelBuilder::new(seed, 3, 32, 2).int8();
    let groups: [&[usize]; 5] = [
        &[64, 64],
        &[128, 128],
        &[256, 256, 256],
        &[512, 512, 512],
        &[512, 512, 512],
    ];
    let mut index = 0;
    for (g, widths) in groups.iter().enumerate() {
        for &width in widths.iter() {
            b = b
                .conv(&format!("features.conv{index}"), width, 3, 1, 1, 2.0)
                .if_layer(&format!("features.act{index}"), 1.0);
            index += 1;
        }
        b = b.avgpool_as(&format!("features.pool{g}"), 2);
    }
    b.linear("classifier.0", 4096, 2.0)
        .if_layer("classifier.act0", 1.0)
        .linear("classifier.1", 4096, 2.0)
        .if_layer("classifier.act1", 1.0)
        .linear("classifier.2", 10, 4.0)
}

/// A CIFAR-10 binary batch of `records` random images with labels `i % 10`.
pub fn random_cifar_batch(seed: u64, records: usize) -> Vec<u8> {
    let mut rng = Rng::new(seed);
    let mut bytes = Vec::with_capacity(records * 3073);
    for i in 0..records {
        bytes.push((i % 10) as u8);
        bytes.extend((0..3072).map(|_| (rng.next_u64() >> 56) as u8));
    }
    bytes
}

/// Deterministic normalised inputs for a model of `len` input values.
pub fn random_input(seed: u64, len: usize) -> Vec<f64> {
    let mut rng = Rng::new(seed);
    (0..len)
        .map(|_| (rng.uniform() * 255.0).round() / 255.0 / 0.25 - 2.0)
        .collect()
}

/// The repository's root (the library package's directory; the CLI's tests run in `cli/`).
pub fn repo_root() -> std::path::PathBuf {
    let here = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    here.ancestors()
        .find(|dir| dir.join("Trunk.toml").exists())
        .unwrap_or(here)
        .to_path_buf()
}

/// `../shared/cifar10/cifar-10-batches-bin`, if the CIFAR-10 batches are there. Without them
/// the caller skips, saying how to get the data; but when `CI` is set (as `.ci/run` does) a
/// missing data set fails the test, so that CI never passes a data test it did not run.
pub fn cifar_dir() -> Option<std::path::PathBuf> {
    let dir = repo_root().join("../shared/cifar10/cifar-10-batches-bin");
    if dir.join("data_batch_5.bin").exists() {
        return Some(dir);
    }
    let message = format!(
        "CIFAR-10 not found at {}. Put the CIFAR-10 binary batches there (data_batch_1.bin .. \
         data_batch_5.bin from the official cifar-10-binary.tar.gz; ../shared/cifar10/README.md)",
        dir.display()
    );
    let in_ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false");
    assert!(!in_ci, "CI is set but {message}");
    eprintln!("skipped: {message} to run this test.");
    None
}

//! Parsing and validating a model file: safetensors bytes → [`Model`].
//!
//! Everything is checked here, once (container, metadata, layer kinds, tensor names, dtypes
//! and shapes, the chain of activation shapes from the input size), so the simulation can run
//! without checks. Errors name the layer or tensor and say what was expected.

use std::collections::HashSet;

use half::f16;
use safetensors::{tensor::TensorView, Dtype, SafeTensors};

use super::spec::{InputSpec, LayerSpec, ModelSpec, FORMAT, METADATA_KEY, VERSION};
use super::{topology, Model, ModelError, SpikingStage};
use crate::layers::{
    AvgPool2d, Conv2d, ConvPool, GlobalAvgPool, IntConv, Layer, Linear, Op, Shape,
};

pub(super) fn load(bytes: &[u8]) -> Result<Model, ModelError> {
    let (_, header) = SafeTensors::read_metadata(bytes)
        .map_err(|e| ModelError::Container(container_error(bytes, e)))?;
    let tensors =
        SafeTensors::deserialize(bytes).map_err(|e| ModelError::Container(e.to_string()))?;
    let metadata_json = header
        .metadata()
        .as_ref()
        .and_then(|m| m.get(METADATA_KEY))
        .ok_or(ModelError::MissingMetadata)?
        .clone();
    let spec: ModelSpec =
        serde_json::from_str(&metadata_json).map_err(|e| ModelError::Json(e.to_string()))?;
    check_header(&spec)?;

    let mut reader = TensorReader {
        tensors: &tensors,
        used: HashSet::new(),
    };
    let mut shape = Shape::new(spec.input.channels, spec.input.height, spec.input.width);
    let mut layers: Vec<Layer> = Vec::with_capacity(spec.layers.len());
    let mut names = HashSet::new();
    let mut quantized = Vec::with_capacity(spec.layers.len());
    for (index, value) in spec.layers.iter().enumerate() {
        let layer_spec = LayerSpec::from_json(value, index).map_err(|message| {
            let name = value.get("name").and_then(|n| n.as_str());
            let kind = value
                .get("kind")
                .and_then(|k| k.as_str())
                .unwrap_or("layer");
            ModelError::layer(index, name.unwrap_or(kind), message)
        })?;
        let (layer, int8) = build_layer(index, layer_spec, shape, &mut reader)?;
        quantized.push(int8);
        if values(&layer.output_shape).is_none() {
            return Err(ModelError::layer(
                index,
                &layer.name,
                format!(
                    "its {} output exceeds {MAX_VALUES} values",
                    layer.output_shape
                ),
            ));
        }
        if !names.insert(layer.name.clone()) {
            return Err(ModelError::layer(
                index,
                &layer.name,
                "the layer name is used twice".into(),
            ));
        }
        shape = layer.output_shape;
        layers.push(layer);
    }
    reader.check_all_used()?;
    let topology = topology::build(&layers)?;
    let output = layers.last().map(|l| l.output_shape.len()).unwrap_or(0);
    if output != spec.classes.len() {
        let last = layers.len() - 1;
        return Err(ModelError::layer(
            last,
            &layers[last].name,
            format!(
                "has {output} outputs but the model lists {} classes",
                spec.classes.len()
            ),
        ));
    }
    let conv_pools = topology
        .stages()
        .iter()
        .map(|stage| conv_pool(&layers, stage))
        .collect();
    let int_convs = topology
        .stages()
        .iter()
        .map(|stage| int_conv(&layers, &quantized, stage))
        .collect();
    Ok(Model {
        conv_pools,
        int_convs,
        name: spec.name,
        input: spec.input,
        classes: spec.classes,
        levels: spec.levels,
        layers,
        topology,
        metadata_json,
    })
}

/// The stage's weighted layer and the layer after it as one convolution, if they are a
/// conv2d and an avgpool2d.
fn conv_pool(layers: &[Layer], stage: &SpikingStage) -> Option<ConvPool> {
    let downstream = &layers[stage.downstream.clone()];
    let weighted = stage.weighted - stage.downstream.start;
    match (
        &downstream[weighted].op,
        downstream.get(weighted + 1).map(|l| &l.op),
    ) {
        (Op::Conv2d(conv), Some(Op::AvgPool2d(pool))) => Some(ConvPool::new(conv, pool)),
        _ => None,
    }
}

/// The stage's convolution in integers for the event-driven SNN (fused with the average pool
/// after it, as [`conv_pool`] fuses it), if its weights are int8 in the file, only average
/// pools of power-of-two windows lie between the IF layer and it (so its inputs are spike
/// counts over a power of two), and [`IntConv::new`] finds the integer form exact.
fn int_conv(
    layers: &[Layer],
    quantized: &[Option<Quantized>],
    stage: &SpikingStage,
) -> Option<IntConv> {
    let Quantized { q, scale } = quantized[stage.weighted].as_ref()?;
    let Op::Conv2d(conv) = &layers[stage.weighted].op else {
        return None;
    };
    let mut input_unit = 1u32;
    for layer in &layers[stage.downstream.start..stage.weighted] {
        match &layer.op {
            Op::AvgPool2d(pool) => {
                let window = u32::try_from(pool.kernel * pool.kernel).ok()?;
                input_unit = input_unit.checked_mul(window)?;
            }
            _ => return None,
        }
    }
    if !input_unit.is_power_of_two() {
        return None;
    }
    let pool = match layers.get(stage.weighted + 1).map(|l| &l.op) {
        Some(Op::AvgPool2d(pool)) if stage.weighted + 1 < stage.downstream.end => Some(pool),
        _ => None,
    };
    IntConv::new(conv, q, scale, pool, input_unit).ok()
}

/// Largest activation map accepted (64 Mi values): far above any CIFAR-scale network, and a
/// guard against sizes in a corrupt header that would exhaust memory.
const MAX_VALUES: usize = 1 << 26;

/// Number of values in `shape`, if it is at most [`MAX_VALUES`].
fn values(shape: &Shape) -> Option<usize> {
    let n = shape
        .channels
        .checked_mul(shape.height)?
        .checked_mul(shape.width)?;
    (n <= MAX_VALUES).then_some(n)
}

fn check_header(spec: &ModelSpec) -> Result<(), ModelError> {
    let fail = |message: String| Err(ModelError::Spec(message));
    if spec.format != FORMAT {
        return fail(format!(
            "`format` is {:?}, expected {FORMAT:?}",
            spec.format
        ));
    }
    if spec.version != VERSION {
        return fail(format!(
            "`version` is {}, this build reads version {VERSION}",
            spec.version
        ));
    }
    let InputSpec {
        channels,
        height,
        width,
        mean,
        std,
    } = &spec.input;
    if *channels == 0 || *height == 0 || *width == 0 {
        return fail(format!(
            "`input` size {channels}×{height}×{width} has a zero dimension"
        ));
    }
    if values(&Shape::new(*channels, *height, *width)).is_none() {
        return fail(format!(
            "`input` size {channels}×{height}×{width} exceeds {MAX_VALUES} values"
        ));
    }
    if mean.len() != *channels || std.len() != *channels {
        return fail(format!(
            "`input.mean` and `input.std` need one value per channel ({channels}), found {} and {}",
            mean.len(),
            std.len()
        ));
    }
    if mean.iter().any(|m| !m.is_finite()) || std.iter().any(|s| !(s.is_finite() && *s > 0.0)) {
        return fail("`input.mean` must be finite and `input.std` finite and positive".into());
    }
    if spec.classes.is_empty() {
        return fail("`classes` is empty".into());
    }
    if spec.levels == 0 {
        return fail("`levels` (quantization levels L) must be at least 1".into());
    }
    Ok(())
}

/// A layer's weights as f32 (`[out][in][...]`), their dimensions, and the int8 values and row
/// scales they came from, if the file has int8.
struct Weight {
    values: Vec<f32>,
    dims: Vec<usize>,
    quantized: Option<Quantized>,
}

/// The int8 weights of a layer as the file has them, `[out][in][...]`, and their row scales.
struct Quantized {
    q: Vec<i8>,
    scale: Vec<f32>,
}

fn build_layer(
    index: usize,
    spec: LayerSpec,
    input_shape: Shape,
    reader: &mut TensorReader,
) -> Result<(Layer, Option<Quantized>), ModelError> {
    let mut quantized = None;
    let (name, op, output_shape) = match spec {
        LayerSpec::Conv2d {
            name,
            stride,
            padding,
        } => {
            let err = |message: String| ModelError::layer(index, &name, message);
            let Weight {
                values: weight,
                dims,
                quantized: int8,
            } = reader.weight(&name, 4)?;
            quantized = int8;
            let [out_channels, in_channels, kh, kw] = [dims[0], dims[1], dims[2], dims[3]];
            if kh != kw || kh == 0 {
                return Err(err(format!("kernel must be square and non-empty, the weight is {out_channels}×{in_channels}×{kh}×{kw}")));
            }
            if in_channels != input_shape.channels {
                return Err(err(format!(
                    "weight expects {in_channels} input channels but the layer receives {input_shape}"
                )));
            }
            if stride == 0 {
                return Err(err("`stride` must be at least 1".into()));
            }
            if padding >= kh {
                return Err(err(format!(
                    "`padding` {padding} must be smaller than the kernel ({kh})"
                )));
            }
            let bias = reader.bias(&name, out_channels)?;
            let conv = Conv2d::new(weight, bias, in_channels, kh, stride, padding);
            let (h, w) = conv.output_size(input_shape.height, input_shape.width).ok_or_else(|| {
                err(format!("a {kh}×{kh} kernel with padding {padding} does not fit the {input_shape} input"))
            })?;
            (name, Op::Conv2d(conv), Shape::new(out_channels, h, w))
        }
        LayerSpec::AvgPool2d {
            name,
            kernel,
            stride,
        } => {
            if kernel == 0 || stride == 0 {
                return Err(ModelError::layer(
                    index,
                    &name,
                    "`kernel` and `stride` must be at least 1".into(),
                ));
            }
            let pool = AvgPool2d { kernel, stride };
            let (h, w) = pool
                .output_size(input_shape.height, input_shape.width)
                .ok_or_else(|| {
                    ModelError::layer(
                        index,
                        &name,
                        format!("a {kernel}×{kernel} window does not fit the {input_shape} input"),
                    )
                })?;
            (
                name,
                Op::AvgPool2d(pool),
                Shape::new(input_shape.channels, h, w),
            )
        }
        LayerSpec::GlobalAvgPool { name } => (
            name,
            Op::GlobalAvgPool(GlobalAvgPool),
            Shape::new(input_shape.channels, 1, 1),
        ),
        LayerSpec::Linear { name } => {
            let Weight {
                values: weight,
                dims,
                ..
            } = reader.weight(&name, 2)?;
            let [out_features, in_features] = [dims[0], dims[1]];
            if in_features != input_shape.len() {
                return Err(ModelError::layer(
                    index,
                    &name,
                    format!("weight expects {in_features} inputs but the layer receives {input_shape} = {} values", input_shape.len()),
                ));
            }
            let bias = reader.bias(&name, out_features)?;
            (
                name,
                Op::Linear(Linear::new(&weight, bias, in_features)),
                Shape::new(out_features, 1, 1),
            )
        }
        LayerSpec::If { name, threshold } => {
            let theta = threshold as f32;
            if !(theta.is_finite() && theta > 0.0) {
                return Err(ModelError::layer(
                    index,
                    &name,
                    format!("`threshold` must be finite and positive, found {threshold}"),
                ));
            }
            (name, Op::If { threshold: theta }, input_shape)
        }
    };
    let layer = Layer {
        name,
        op,
        input_shape,
        output_shape,
    };
    Ok((layer, quantized))
}

/// Reads weight and bias tensors by name, checking dtype, rank and values, and remembers
/// which tensors were used so that stray ones (a misspelt layer name) are reported.
struct TensorReader<'a> {
    tensors: &'a SafeTensors<'a>,
    used: HashSet<String>,
}

impl<'a> TensorReader<'a> {
    fn view(
        &mut self,
        name: &str,
        dtypes: &[Dtype],
        rank: usize,
    ) -> Result<TensorView<'a>, ModelError> {
        let view = self
            .tensors
            .tensor(name)
            .map_err(|_| ModelError::tensor(name, "is missing from the file".into()))?;
        if !dtypes.contains(&view.dtype()) {
            let expected: Vec<String> = dtypes.iter().map(|d| format!("{d:?}")).collect();
            return Err(ModelError::tensor(
                name,
                format!(
                    "has dtype {:?}, expected {}",
                    view.dtype(),
                    expected.join(" or ")
                ),
            ));
        }
        if view.shape().len() != rank {
            return Err(ModelError::tensor(
                name,
                format!("has shape {:?}, expected {rank} dimensions", view.shape()),
            ));
        }
        if let Some(axis) = view.shape().iter().position(|&d| d == 0) {
            return Err(ModelError::tensor(
                name,
                format!(
                    "has shape {:?}: dimension {axis} is 0, every dimension must be at least 1",
                    view.shape()
                ),
            ));
        }
        self.used.insert(name.to_string());
        Ok(view)
    }

    /// `<layer>.weight`: int8 with one f32 scale per output row in `<layer>.weight_scale`
    /// (f16 and f32 weights are accepted too), converted to f32 once; int8 weights are also
    /// returned as they are, for the event-driven engine's integer form.
    fn weight(&mut self, layer: &str, rank: usize) -> Result<Weight, ModelError> {
        let name = format!("{layer}.weight");
        let view = self.view(&name, &[Dtype::I8, Dtype::F16, Dtype::F32], rank)?;
        let dims = view.shape().to_vec();
        let mut quantized = None;
        let values: Vec<f32> = match view.dtype() {
            Dtype::I8 => {
                let scale = self.f32_vector(&format!("{name}_scale"), dims[0], "output row")?;
                let row_len = dims[1..].iter().product::<usize>().max(1);
                let q: Vec<i8> = view.data().iter().map(|&b| b as i8).collect();
                let values = q
                    .chunks(row_len)
                    .zip(&scale)
                    .flat_map(|(row, &scale)| row.iter().map(move |&q| f32::from(q) * scale))
                    .collect();
                quantized = Some(Quantized { q, scale });
                values
            }
            Dtype::F16 => view
                .data()
                .chunks_exact(2)
                .map(|b| f16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
            _ => view
                .data()
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
        };
        let values = finite(&name, values)?;
        Ok(Weight {
            values,
            dims,
            quantized,
        })
    }

    /// `<layer>.bias`: f32 of length `len`.
    fn bias(&mut self, layer: &str, len: usize) -> Result<Vec<f32>, ModelError> {
        self.f32_vector(&format!("{layer}.bias"), len, "output")
    }

    /// A finite f32 vector with one value per `item`.
    fn f32_vector(&mut self, name: &str, len: usize, item: &str) -> Result<Vec<f32>, ModelError> {
        let view = self.view(name, &[Dtype::F32], 1)?;
        if view.shape()[0] != len {
            return Err(ModelError::tensor(
                name,
                format!(
                    "has length {}, expected {len} (one per {item})",
                    view.shape()[0]
                ),
            ));
        }
        let values = view
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        finite(name, values)
    }

    fn check_all_used(&self) -> Result<(), ModelError> {
        let mut stray: Vec<&str> = self
            .tensors
            .names()
            .into_iter()
            .filter(|n| !self.used.contains(*n))
            .collect();
        stray.sort_unstable();
        match stray.first() {
            Some(name) => Err(ModelError::tensor(
                name,
                "belongs to no layer in the metadata".into(),
            )),
            None => Ok(()),
        }
    }
}

/// The safetensors parser's message, with the tensor named where the parser does not name
/// it: "invalid shape, data type, or offset for tensor" says neither which tensor nor why.
fn container_error(bytes: &[u8], error: safetensors::SafeTensorError) -> String {
    let message = error.to_string();
    if !matches!(error, safetensors::SafeTensorError::TensorInvalidInfo) {
        return message;
    }
    match mismatched_tensor(bytes) {
        Some(detail) => format!("{message} {detail}"),
        None => message,
    }
}

/// The first tensor (in data order, as the parser checks them) whose byte range does not
/// hold its shape × dtype, described.
fn mismatched_tensor(bytes: &[u8]) -> Option<String> {
    let length = u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?) as usize;
    let header: serde_json::Value =
        serde_json::from_slice(bytes.get(8..8usize.checked_add(length)?)?).ok()?;
    let mut tensors: Vec<(&String, &serde_json::Value)> = header
        .as_object()?
        .iter()
        .filter(|(name, _)| name.as_str() != "__metadata__")
        .collect();
    tensors.sort_by_key(|(_, info)| info["data_offsets"][0].as_u64());
    tensors.into_iter().find_map(|(name, info)| {
        let dtype = info["dtype"].as_str()?;
        let element_bytes: u64 = match dtype {
            "BOOL" | "U8" | "I8" | "F8_E4M3" | "F8_E5M2" => 1,
            "U16" | "I16" | "F16" | "BF16" => 2,
            "U32" | "I32" | "F32" => 4,
            "U64" | "I64" | "F64" => 8,
            _ => return None,
        };
        let shape: Vec<u64> = info["shape"]
            .as_array()?
            .iter()
            .map(|d| d.as_u64())
            .collect::<Option<_>>()?;
        let (start, end) = (
            info["data_offsets"][0].as_u64()?,
            info["data_offsets"][1].as_u64()?,
        );
        let needed = shape
            .iter()
            .try_fold(element_bytes, |n, &d| n.checked_mul(d))?;
        (end.checked_sub(start) != Some(needed)).then(|| {
            format!(
                "`{name}`: shape {shape:?} of {dtype} needs {needed} bytes, but its data_offsets [{start}, {end}] hold {}",
                end as i128 - start as i128
            )
        })
    })
}

fn finite(name: &str, values: Vec<f32>) -> Result<Vec<f32>, ModelError> {
    match values.iter().position(|v| !v.is_finite()) {
        Some(i) => Err(ModelError::tensor(
            name,
            format!("holds a non-finite value at element {i}"),
        )),
        None => Ok(values),
    }
}

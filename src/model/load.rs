//! Parsing and validating a model file: safetensors bytes → [`Model`].
//!
//! Everything is checked here, once (container, metadata, layer kinds, tensor names, dtypes
//! and shapes, the chain of activation shapes from the input size), so the simulation can run
//! without checks. Errors name the layer or tensor and say what was expected.

use std::collections::{HashMap, HashSet};

use half::f16;
use safetensors::{tensor::TensorView, Dtype, SafeTensors};

use super::spec::{
    inputs_from_json, InputSpec, LayerSpec, ModelSpec, FORMAT, METADATA_KEY, OLDEST_VERSION,
    VERSION,
};
use super::{topology, Model, ModelError, Signal, Topology};
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
    let entries = read_entries(&spec)?;

    let mut reader = TensorReader {
        tensors: &tensors,
        used: HashSet::new(),
    };
    let image = Shape::new(spec.input.channels, spec.input.height, spec.input.width);
    let mut layers: Vec<Layer> = Vec::with_capacity(entries.len());
    let mut index_of: HashMap<&str, usize> = HashMap::new();
    let mut quantized = Vec::with_capacity(entries.len());
    for (index, entry) in entries.iter().enumerate() {
        let name = entry.spec.name();
        let inputs = resolve_inputs(&entries, index, &index_of)?;
        let input_shape = match inputs.first() {
            None => image,
            Some(&first) => layers[first].output_shape,
        };
        for &other in inputs.iter().skip(1) {
            let shape = layers[other].output_shape;
            if shape != input_shape {
                return Err(ModelError::layer(index, name, format!(
                    "input `{}` is {shape} but input `{}` is {input_shape}; an `add` needs inputs of one shape",
                    layers[other].name, layers[inputs[0]].name
                )));
            }
        }
        let (mut layer, int8) = build_layer(index, entry.spec.clone(), input_shape, &mut reader)?;
        layer.inputs = inputs;
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
        if index_of.insert(name, index).is_some() {
            return Err(ModelError::layer(
                index,
                name,
                "the layer name is used twice".into(),
            ));
        }
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
    let conv_pools: Vec<Option<ConvPool>> = (0..layers.len())
        .map(|i| conv_pool(&layers, &topology, i))
        .collect();
    let int_convs = (0..layers.len())
        .map(|i| int_conv(&layers, &topology, &quantized, i))
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

/// One entry of the metadata's `layers`, parsed: what it is and the names of its inputs.
struct Entry {
    spec: LayerSpec,
    /// `None`: the previous layer (the image for the first).
    inputs: Option<Vec<String>>,
}

/// Parses every entry of `layers`, so that inputs can be checked against the whole list.
fn read_entries(spec: &ModelSpec) -> Result<Vec<Entry>, ModelError> {
    spec.layers
        .iter()
        .enumerate()
        .map(|(index, value)| {
            let fail = |message: String| {
                let name = value.get("name").and_then(|n| n.as_str());
                let kind = value
                    .get("kind")
                    .and_then(|k| k.as_str())
                    .unwrap_or("layer");
                ModelError::layer(index, name.unwrap_or(kind), message)
            };
            let layer_spec = LayerSpec::from_json(value, index).map_err(fail)?;
            let inputs = inputs_from_json(value).map_err(fail)?;
            if spec.version < 2 && (inputs.is_some() || matches!(layer_spec, LayerSpec::Add { .. }))
            {
                return Err(fail(format!(
                    "`inputs` and `add` layers need format version 2; the file says version {}",
                    spec.version
                )));
            }
            Ok(Entry {
                spec: layer_spec,
                inputs,
            })
        })
        .collect()
}

/// The indices of entry `index`'s inputs, all earlier layers (`index_of` holds those): the
/// previous layer when it names none. Errors say which name is wrong and why: no such layer,
/// a layer listed later (and the cycle, if it is one), the wrong number of inputs.
fn resolve_inputs(
    entries: &[Entry],
    index: usize,
    index_of: &HashMap<&str, usize>,
) -> Result<Vec<usize>, ModelError> {
    let entry = &entries[index];
    let name = entry.spec.name();
    let fail = |message: String| ModelError::layer(index, name, message);
    let is_add = matches!(entry.spec, LayerSpec::Add { .. });
    let Some(names) = &entry.inputs else {
        if is_add {
            return Err(fail(
                "an `add` needs two or more `inputs`, found none".into(),
            ));
        }
        return Ok(index.checked_sub(1).into_iter().collect());
    };
    if index == 0 {
        return Err(fail(
            "the first layer reads the image and takes no `inputs`".into(),
        ));
    }
    match (is_add, names.len()) {
        (true, 0 | 1) => {
            return Err(fail(format!(
                "an `add` needs two or more `inputs`, found {}",
                names.len()
            )))
        }
        (false, n) if n != 1 => {
            return Err(fail(format!(
                "a layer of kind `{}` takes one input, found {n} in `inputs`",
                kind_of(&entry.spec)
            )))
        }
        _ => {}
    }
    names
        .iter()
        .map(|input| {
            if let Some(&i) = index_of.get(input.as_str()) {
                return Ok(i);
            }
            let later = (index..entries.len()).find(|&i| entries[i].spec.name() == input);
            Err(fail(match later {
                None => format!("input `{input}` is no layer of the model"),
                Some(later) => match cycle(entries, later, index) {
                    Some(path) => format!(
                        "input `{input}` depends on this layer: the layers form a cycle ({}, in the direction data flows)",
                        path.join(" → ")
                    ),
                    None => format!(
                        "input `{input}` is listed after this layer; list every layer after its inputs"
                    ),
                },
            }))
        })
        .collect()
}

/// Names along the data flow from entry `to` to entry `from`, then `to` again, if `from`
/// depends on `to` (so that `to` reading `from` closes a cycle).
fn cycle(entries: &[Entry], from: usize, to: usize) -> Option<Vec<String>> {
    let by_name: HashMap<&str, usize> = entries
        .iter()
        .enumerate()
        .map(|(i, e)| (e.spec.name(), i))
        .collect();
    let inputs_of = |i: usize| -> Vec<usize> {
        match &entries[i].inputs {
            None => i.checked_sub(1).into_iter().collect(),
            Some(names) => names
                .iter()
                .filter_map(|n| by_name.get(n.as_str()).copied())
                .collect(),
        }
    };
    // Depth-first search from `from` through inputs, remembering how each entry was reached.
    let mut reached_from: Vec<Option<usize>> = vec![None; entries.len()];
    let mut stack = vec![from];
    let mut seen = vec![false; entries.len()];
    seen[from] = true;
    while let Some(i) = stack.pop() {
        if i == to {
            let mut path = vec![entries[to].spec.name().to_string()];
            let mut at = to;
            while let Some(next) = reached_from[at] {
                path.push(entries[next].spec.name().to_string());
                at = next;
            }
            path.push(entries[to].spec.name().to_string());
            return Some(path);
        }
        for input in inputs_of(i) {
            if !seen[input] {
                seen[input] = true;
                reached_from[input] = Some(i);
                stack.push(input);
            }
        }
    }
    None
}

fn kind_of(spec: &LayerSpec) -> &'static str {
    match spec {
        LayerSpec::Conv2d { .. } => "conv2d",
        LayerSpec::AvgPool2d { .. } => "avgpool2d",
        LayerSpec::GlobalAvgPool { .. } => "global_avgpool",
        LayerSpec::Linear { .. } => "linear",
        LayerSpec::If { .. } => "if",
        LayerSpec::Add { .. } => "add",
    }
}

/// The average pool that alone reads layer `layer`, if `layer` is a spike-fed conv2d: the
/// event-driven engine runs the pair as one convolution.
fn fused_pool(layers: &[Layer], topology: &Topology, layer: usize) -> Option<usize> {
    if !matches!(layers[layer].op, Op::Conv2d(_))
        || !matches!(topology.signal(layer), Signal::Current { .. })
    {
        return None;
    }
    match topology.consumers(layer) {
        [only] if matches!(layers[*only].op, Op::AvgPool2d(_)) => Some(*only),
        _ => None,
    }
}

/// Layer `layer` and the average pool that alone reads it as one convolution (see
/// [`fused_pool`]).
fn conv_pool(layers: &[Layer], topology: &Topology, layer: usize) -> Option<ConvPool> {
    let pool = fused_pool(layers, topology, layer)?;
    match (&layers[layer].op, &layers[pool].op) {
        (Op::Conv2d(conv), Op::AvgPool2d(pool)) => Some(ConvPool::new(conv, pool)),
        _ => None,
    }
}

/// Layer `layer`'s convolution in integers for the event-driven SNN (fused with the average
/// pool that alone reads it, as [`conv_pool`] fuses it), if its weights are int8 in the file,
/// only average pools of power-of-two windows lie between the IF layer and it (so its inputs
/// are spike counts over a power of two), and [`IntConv::new`] finds the integer form exact.
fn int_conv(
    layers: &[Layer],
    topology: &Topology,
    quantized: &[Option<Quantized>],
    layer: usize,
) -> Option<IntConv> {
    let Quantized { q, scale } = quantized[layer].as_ref()?;
    let Op::Conv2d(conv) = &layers[layer].op else {
        return None;
    };
    if !matches!(topology.signal(layer), Signal::Current { .. }) {
        return None; // the analog prefix's
    }
    let mut input_unit = 1u32;
    let mut at = layers[layer].inputs[0];
    while !matches!(layers[at].op, Op::If { .. }) {
        match &layers[at].op {
            Op::AvgPool2d(pool) => {
                let window = u32::try_from(pool.kernel * pool.kernel).ok()?;
                input_unit = input_unit.checked_mul(window)?;
                at = layers[at].inputs[0];
            }
            _ => return None,
        }
    }
    if !input_unit.is_power_of_two() {
        return None;
    }
    let pool = fused_pool(layers, topology, layer).map(|p| match &layers[p].op {
        Op::AvgPool2d(pool) => pool,
        _ => unreachable!("fused_pool finds average pools"),
    });
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
    if !(OLDEST_VERSION..=VERSION).contains(&spec.version) {
        return fail(format!(
            "`version` is {}, this build reads versions {OLDEST_VERSION} to {VERSION}",
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
            // The engines keep a zero-padded copy of the input (crate::engine::Scratch): it is
            // bounded as any layer's values are.
            let padded = (input_shape.height.checked_add(2 * padding))
                .zip(input_shape.width.checked_add(2 * padding))
                .map(|(h, w)| Shape::new(input_shape.channels, h, w));
            if padded.and_then(|shape| values(&shape)).is_none() {
                return Err(err(format!(
                    "its input {input_shape} zero-padded by {padding} exceeds {MAX_VALUES} values"
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
        LayerSpec::Add { name } => (name, Op::Add, input_shape),
    };
    let layer = Layer {
        name,
        op,
        inputs: Vec::new(),
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
    // A name given twice: the parser keeps one entry and then reports the other's bytes as an
    // offset problem ("may be truncated"), which points the user at the wrong thing.
    if let Some(name) = header_bytes(bytes).and_then(repeated_key) {
        return format!("the safetensors header names tensor {name:?} twice");
    }
    let message = error.to_string();
    if !matches!(error, safetensors::SafeTensorError::TensorInvalidInfo) {
        return message;
    }
    match mismatched_tensor(bytes) {
        Some(detail) => format!("{message} {detail}"),
        None => message,
    }
}

/// The JSON header of a safetensors file (after its 8-byte length), if the length fits.
fn header_bytes(bytes: &[u8]) -> Option<&[u8]> {
    let length = u64::from_le_bytes(bytes.get(..8)?.try_into().ok()?);
    bytes.get(8..8usize.checked_add(usize::try_from(length).ok()?)?)
}

/// The first key that the top-level JSON object `header` holds twice.
fn repeated_key(header: &[u8]) -> Option<String> {
    use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
    struct FirstRepeat;
    impl<'de> Visitor<'de> for FirstRepeat {
        type Value = Option<String>;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut seen = std::collections::HashSet::new();
            while let Some(key) = map.next_key::<String>()? {
                map.next_value::<IgnoredAny>()?;
                if !seen.insert(key.clone()) {
                    return Ok(Some(key));
                }
            }
            Ok(None)
        }
    }
    serde_json::Deserializer::from_slice(header)
        .deserialize_map(FirstRepeat)
        .ok()
        .flatten()
}

/// The first tensor (in data order, as the parser checks them) whose byte range does not
/// hold its shape × dtype, described.
fn mismatched_tensor(bytes: &[u8]) -> Option<String> {
    let header: serde_json::Value = serde_json::from_slice(header_bytes(bytes)?).ok()?;
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

//! Loading valid models and rejecting broken ones with messages that say what is wrong.
#![cfg(not(target_arch = "wasm32"))] // native; the browser suite is tests/wasm.rs

mod common;

use common::{random_model, ModelBuilder, Tensor};
use dynconf::layers::{Op, Shape};
use dynconf::{Model, ModelError};
use serde_json::json;

fn load_error(bytes: &[u8]) -> String {
    match Model::from_bytes(bytes) {
        Ok(_) => panic!("the model loaded but should have been rejected"),
        Err(e) => e.to_string(),
    }
}

fn assert_mentions(message: &str, words: &[&str]) {
    for word in words {
        assert!(
            message.contains(word),
            "{message:?} should mention {word:?}"
        );
    }
}

#[test]
fn random_model_loads_with_resolved_shapes() {
    let model = Model::from_bytes(&random_model(1).build()).expect("valid model");
    assert_eq!(model.classes().len(), 10);
    assert_eq!(model.levels(), 4);
    assert_eq!(model.analog_layers().len(), 1);
    let shapes: Vec<Shape> = model.stages().iter().map(|s| s.shape).collect();
    assert_eq!(
        shapes,
        vec![
            Shape::new(8, 15, 15),
            Shape::new(12, 7, 7),
            Shape::new(12, 4, 4),
            Shape::new(16, 3, 3)
        ]
    );
    assert_eq!(model.neuron_count(), 8 * 225 + 12 * 49 + 12 * 16 + 16 * 9);
    assert_eq!(model.stages()[1].threshold, 0.75);
    assert!(model.metadata_json().contains("random weights"));
    let Op::Conv2d(conv) = &model.layers()[0].op else {
        panic!("first layer is the conv")
    };
    assert_eq!((conv.kernel, conv.stride, conv.padding), (2, 1, 0));
}

#[test]
fn fan_out_counts_outgoing_synapses() {
    let model = Model::from_bytes(&random_model(1).build()).unwrap();
    let stages = model.stages();
    // if0 (15×15) → conv1 3×3 pad 1 stride 1, 12 outputs: interior 9 positions, corner 4.
    assert_eq!(stages[0].fan_out()[7 * 15 + 7], 9 * 12);
    assert_eq!(stages[0].fan_out()[0], 4 * 12);
    // if1 (7×7) → conv2 3×3 stride 2 pad 1 → 4×4: brute force over output windows.
    for y in 0..7 {
        for x in 0..7 {
            let reach = |i: usize| {
                (0..4)
                    .filter(|&o| {
                        (o * 2) as isize - 1 <= i as isize && i as isize <= (o * 2) as isize + 1
                    })
                    .count()
            };
            assert_eq!(
                stages[1].fan_out()[y * 7 + x] as usize,
                reach(y) * reach(x) * 12,
                "({y},{x})"
            );
        }
    }
    // if3 → global average → fc: every neuron reaches all 10 outputs.
    assert!(stages[3].fan_out().iter().all(|&f| f == 10));
    assert_eq!(stages[3].synapses(), 16 * 9 * 10);
}

#[test]
fn pooling_before_a_weighted_layer_is_folded_into_its_synapses() {
    let builder = ModelBuilder::new(2, 1, 8, 4)
        .conv("conv0", 2, 1, 1, 0, 1.0)
        .if_layer("if0", 1.0)
        .avgpool(2) // 8×8 → 4×4
        .conv("conv1", 3, 3, 1, 1, 1.0)
        .if_layer("if1", 1.0)
        .global_avgpool()
        .linear("fc", 10, 1.0);
    let model = Model::from_bytes(&builder.build()).unwrap();
    // Each IF layer's spikes reach one weighted layer: conv1 behind the pool, fc behind the
    // average.
    let reads = |layer: &str| -> Vec<&str> {
        let i = model.layers().iter().position(|l| l.name == layer).unwrap();
        model
            .consumers(i)
            .iter()
            .map(|&c| model.layers()[c].name.as_str())
            .collect()
    };
    assert_eq!(reads("avgpool2d_2"), ["conv1"]);
    assert_eq!(reads("global_avgpool_5"), ["fc"]);
    // Pixel (0,0) is in pool cell (0,0), which reaches conv outputs rows 0..=1, cols 0..=1.
    assert_eq!(model.stages()[0].fan_out()[0], 2 * 2 * 3);
    // Pixel (3,3) is in pool cell (1,1): rows 0..=2 and cols 0..=2.
    assert_eq!(model.stages()[0].fan_out()[3 * 8 + 3], 3 * 3 * 3);
}

#[test]
fn rejects_truncated_and_garbage_files() {
    let bytes = random_model(1).build();
    for cut in [0, 4, 8, 100, bytes.len() / 2, bytes.len() - 1] {
        assert_mentions(&load_error(&bytes[..cut]), &["safetensors"]);
    }
    assert_mentions(
        &load_error(b"this is not a model file at all, just some text"),
        &["safetensors"],
    );
    let mut longer = bytes.clone();
    longer.extend_from_slice(&[0; 16]);
    assert_mentions(&load_error(&longer), &["safetensors"]);
}

/// A header naming a tensor twice (the second entry pointing at another tensor's bytes) is
/// refused for that, by name; the parser alone says "invalid offset … may be truncated".
#[test]
fn a_tensor_named_twice_is_refused_by_name() {
    let bytes = random_model(1).build();
    let length = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header = std::str::from_utf8(&bytes[8..8 + length]).unwrap();
    let parsed: serde_json::Value = serde_json::from_str(header).unwrap();
    let names: Vec<&String> = parsed
        .as_object()
        .unwrap()
        .keys()
        .filter(|k| *k != "__metadata__")
        .collect();
    let (twice, other) = (names[0], names[1]);
    let repeated = format!(
        "{},{:?}:{}}}",
        header.trim_end().strip_suffix('}').unwrap(),
        twice,
        parsed[other.as_str()]
    );
    let mut crafted = (repeated.len() as u64).to_le_bytes().to_vec();
    crafted.extend_from_slice(repeated.as_bytes());
    crafted.extend_from_slice(&bytes[8 + length..]);
    assert_mentions(
        &load_error(&crafted),
        &["names tensor", twice.as_str(), "twice"],
    );
}

#[test]
fn rejects_missing_or_invalid_metadata() {
    let builder = random_model(1);
    let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = builder
        .tensors
        .iter()
        .map(|(n, t)| {
            (
                n.clone(),
                safetensors::tensor::TensorView::new(t.dtype, t.shape.clone(), &t.bytes).unwrap(),
            )
        })
        .collect();
    let no_metadata = safetensors::serialize(views, None).unwrap();
    assert!(matches!(
        Model::from_bytes(&no_metadata),
        Err(ModelError::MissingMetadata)
    ));
    assert_mentions(&load_error(&no_metadata), &["dynconf", "metadata"]);

    let mut broken = builder.clone();
    broken.metadata = json!("{not json");
    assert_mentions(&load_error(&broken.build()), &["dynconf"]);

    let mut wrong_format = builder.clone();
    wrong_format.metadata["format"] = json!("onnx");
    assert_mentions(
        &load_error(&wrong_format.build()),
        &["format", "dynconf-snn"],
    );

    let mut wrong_version = builder.clone();
    wrong_version.metadata["version"] = json!(3);
    assert_mentions(&load_error(&wrong_version.build()), &["version"]);

    let mut bad_std = builder.clone();
    bad_std.metadata["input"]["std"] = json!([0.25, 0.0, 0.25]);
    assert_mentions(&load_error(&bad_std.build()), &["std"]);

    let mut few_means = builder;
    few_means.metadata["input"]["mean"] = json!([0.5]);
    assert_mentions(&load_error(&few_means.build()), &["mean", "3"]);
}

#[test]
fn rejects_unknown_layer_kinds_and_missing_thresholds() {
    let mut unknown = random_model(1);
    unknown.metadata["layers"][2] = json!({"kind": "maxpool2d", "kernel": 2});
    assert_mentions(&load_error(&unknown.build()), &["layer 2", "maxpool2d"]);

    let mut missing = random_model(1);
    missing.metadata["layers"][1]
        .as_object_mut()
        .unwrap()
        .remove("threshold");
    assert_mentions(
        &load_error(&missing.build()),
        &["layer 1", "if0", "threshold"],
    );

    for bad in [json!(0.0), json!(-1.5), json!(1e-60)] {
        let mut non_positive = random_model(1);
        non_positive.metadata["layers"][1]["threshold"] = bad;
        assert_mentions(
            &load_error(&non_positive.build()),
            &["if0", "threshold", "positive"],
        );
    }
}

#[test]
fn rejects_wrong_dtypes_and_missing_or_stray_tensors() {
    // Weights may be int8, f16 or f32 (docs/model-format.md); f64 is none of them.
    let mut f64_weight = random_model(1);
    f64_weight.tensors.insert(
        "conv1.weight".into(),
        Tensor {
            dtype: safetensors::Dtype::F64,
            shape: vec![12, 8, 3, 3],
            bytes: vec![0; 12 * 8 * 9 * 8],
        },
    );
    assert_mentions(
        &load_error(&f64_weight.build()),
        &["conv1.weight", "F64", "I8 or F16 or F32"],
    );

    // An f32 weight loads, with the same values as its f16 original.
    let f16_model = random_model(1);
    let mut f32_model = f16_model.clone();
    let original = &f16_model.tensors["conv2.weight"];
    let values: Vec<f32> = original
        .bytes
        .chunks_exact(2)
        .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
        .collect();
    f32_model
        .tensors
        .insert("conv2.weight".into(), Tensor::f32(&original.shape, &values));
    let (a, b) = (
        Model::from_bytes(&f16_model.build()).unwrap(),
        Model::from_bytes(&f32_model.build()).unwrap(),
    );
    let weights = |m: &Model| match &m.layers()[5].op {
        Op::Conv2d(conv) => conv.weight().to_vec(),
        _ => panic!("layer 5 is conv2"),
    };
    assert_eq!(weights(&a), weights(&b));

    let mut f16_bias = random_model(1);
    f16_bias
        .tensors
        .insert("fc.bias".into(), Tensor::f16(&[10], &[0.0; 10]));
    assert_mentions(&load_error(&f16_bias.build()), &["fc.bias", "F16", "F32"]);

    let mut missing = random_model(1);
    missing.tensors.remove("conv2.bias");
    assert_mentions(&load_error(&missing.build()), &["conv2.bias", "missing"]);

    let mut stray = random_model(1);
    stray
        .tensors
        .insert("conv9.weight".into(), Tensor::f16(&[1], &[0.0]));
    assert_mentions(&load_error(&stray.build()), &["conv9.weight", "no layer"]);

    let mut nan = random_model(1);
    nan.tensors
        .insert("fc.bias".into(), Tensor::f32(&[10], &[f32::NAN; 10]));
    assert_mentions(&load_error(&nan.build()), &["fc.bias", "non-finite"]);
}

#[test]
fn zero_sized_dimensions_are_rejected_by_name() {
    // A conv weight of shape [0, C, k, k] once reached `Conv2d::new` and panicked there.
    let mut empty = random_model(1);
    empty
        .tensors
        .insert("conv1.weight".into(), Tensor::f16(&[0, 8, 3, 3], &[]));
    assert_mentions(
        &load_error(&empty.build()),
        &["conv1.weight", "[0, 8, 3, 3]", "dimension 0 is 0"],
    );
    let mut empty_kernel = random_model(1);
    empty_kernel
        .tensors
        .insert("conv2.weight".into(), Tensor::f16(&[12, 12, 0, 0], &[]));
    assert_mentions(
        &load_error(&empty_kernel.build()),
        &["conv2.weight", "dimension 2 is 0"],
    );
}

#[test]
fn a_tensor_whose_bytes_do_not_match_its_shape_is_named() {
    // Rewrite the header so that `fc.bias` claims 11 values while its bytes hold 10: the
    // safetensors parser says only "invalid shape, data type, or offset for tensor".
    let bytes = random_model(1).build();
    let length = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let mut header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + length]).unwrap();
    header["fc.bias"]["shape"] = json!([11]);
    let header = header.to_string().into_bytes();
    let broken = [
        &(header.len() as u64).to_le_bytes()[..],
        &header,
        &bytes[8 + length..],
    ]
    .concat();
    assert_mentions(
        &load_error(&broken),
        &["`fc.bias`", "[11]", "needs 44 bytes", "hold 40"],
    );
}

/// conv2 of `random_model` (12 outputs, 12×3×3 inputs each) as int8 values with one scale
/// per output row, and as the f32 weights they stand for.
fn int8_conv2(scales: &[f32]) -> (Tensor, Tensor, Tensor) {
    let shape = [12, 12, 3, 3];
    let q: Vec<i8> = (0..12 * 108).map(|i| ((i * 37) % 255) as i8).collect();
    let dequantized: Vec<f32> = q
        .iter()
        .enumerate()
        .map(|(i, &v)| f32::from(v) * scales[i / 108])
        .collect();
    (
        Tensor::i8(&shape, &q),
        Tensor::f32(&[scales.len()], scales),
        Tensor::f32(&shape, &dequantized),
    )
}

#[test]
fn int8_weights_load_scaled_by_their_row_scale() {
    let scales: Vec<f32> = (0..12).map(|r| (r + 1) as f32 * 2f32.powi(-12)).collect();
    let (q, scale, dequantized) = int8_conv2(&scales);
    let mut int8_model = random_model(1);
    int8_model.tensors.insert("conv2.weight".into(), q);
    int8_model
        .tensors
        .insert("conv2.weight_scale".into(), scale);
    let mut f32_model = random_model(1);
    f32_model.tensors.insert("conv2.weight".into(), dequantized);
    let weights = |bytes: Vec<u8>| match &Model::from_bytes(&bytes).unwrap().layers()[5].op {
        Op::Conv2d(conv) => conv.weight().to_vec(),
        _ => panic!("layer 5 is conv2"),
    };
    assert_eq!(weights(int8_model.build()), weights(f32_model.build()));
}

#[test]
fn rejects_int8_weights_without_valid_scales() {
    let with = |scale: Option<Tensor>| {
        let mut model = random_model(1);
        let (q, _, _) = int8_conv2(&[0.5; 12]);
        model.tensors.insert("conv2.weight".into(), q);
        if let Some(scale) = scale {
            model.tensors.insert("conv2.weight_scale".into(), scale);
        }
        load_error(&model.build())
    };
    assert_mentions(&with(None), &["conv2.weight_scale", "missing"]);
    assert_mentions(
        &with(Some(Tensor::f32(&[11], &[0.5; 11]))),
        &["conv2.weight_scale", "length 11", "expected 12"],
    );
    assert_mentions(
        &with(Some(Tensor::i8(&[12], &[1; 12]))),
        &["conv2.weight_scale", "I8", "F32"],
    );
    let mut infinite = [0.5f32; 12];
    infinite[3] = f32::INFINITY;
    assert_mentions(
        &with(Some(Tensor::f32(&[12], &infinite))),
        &["conv2.weight_scale", "non-finite"],
    );
}

#[test]
fn rejects_shape_mismatches() {
    let mut channels = random_model(1);
    channels.tensors.insert(
        "conv1.weight".into(),
        Tensor::f16(&[12, 5, 3, 3], &[0.0; 12 * 5 * 9]),
    );
    assert_mentions(
        &load_error(&channels.build()),
        &["conv1", "5 input channels", "8×15×15"],
    );

    let mut non_square = random_model(1);
    non_square.tensors.insert(
        "conv1.weight".into(),
        Tensor::f16(&[12, 8, 3, 1], &[0.0; 12 * 8 * 3]),
    );
    assert_mentions(&load_error(&non_square.build()), &["conv1", "square"]);

    let mut bias = random_model(1);
    bias.tensors
        .insert("conv1.bias".into(), Tensor::f32(&[11], &[0.0; 11]));
    assert_mentions(&load_error(&bias.build()), &["conv1.bias", "11", "12"]);

    let mut features = random_model(1);
    features
        .tensors
        .insert("fc.weight".into(), Tensor::f16(&[10, 15], &[0.0; 150]));
    assert_mentions(
        &load_error(&features.build()),
        &["fc", "15 inputs", "16×1×1"],
    );

    let mut too_big = random_model(1);
    too_big.metadata["layers"][2]["padding"] = json!(0);
    too_big.metadata["layers"][6]["stride"] = json!(1);
    too_big.metadata["layers"][6]["padding"] = json!(0);
    too_big.metadata["layers"][8]["padding"] = json!(0);
    // 15 → conv1 13 → pool 6 → conv2 4 → conv3 3: still fits; make the pool too wide instead.
    too_big.metadata["layers"][3]["kernel"] = json!(14);
    too_big.metadata["layers"][3]["stride"] = json!(14);
    assert_mentions(&load_error(&too_big.build()), &["layer 3", "does not fit"]);

    let mut classes = random_model(1);
    classes.metadata["classes"] = json!(["a", "b"]);
    assert_mentions(
        &load_error(&classes.build()),
        &["fc", "10 outputs", "2 classes"],
    );
}

#[test]
fn rejects_bad_structure() {
    // Not ending in linear.
    let mut no_linear = random_model(1);
    no_linear.metadata["layers"].as_array_mut().unwrap().pop();
    no_linear.tensors.retain(|name, _| !name.starts_with("fc."));
    assert_mentions(&load_error(&no_linear.build()), &["last layer", "linear"]);

    // Starting with a pool.
    let mut pool_first = random_model(1);
    pool_first.metadata["layers"]
        .as_array_mut()
        .unwrap()
        .insert(0, json!({"kind": "avgpool2d", "kernel": 1}));
    assert_mentions(
        &load_error(&pool_first.build()),
        &["layer 0", "first layer"],
    );

    // Two weighted layers without an IF layer between them.
    let mut no_if = random_model(1);
    no_if.metadata["layers"].as_array_mut().unwrap().remove(4); // if1
    no_if.tensors.insert(
        "conv2.weight".into(),
        Tensor::f16(&[12, 12, 3, 3], &[0.0; 12 * 12 * 9]),
    );
    assert_mentions(
        &load_error(&no_if.build()),
        &["conv2", "conv1", "no `if` layer"],
    );

    // Two IF layers in a row.
    let mut double_if = random_model(1);
    double_if.metadata["layers"]
        .as_array_mut()
        .unwrap()
        .insert(2, json!({"kind": "if", "name": "extra", "threshold": 1.0}));
    assert_mentions(
        &load_error(&double_if.build()),
        &["extra", "no weighted layer"],
    );

    // No IF layer at all.
    let analog_only = ModelBuilder::new(3, 3, 4, 4)
        .conv("conv0", 2, 1, 1, 0, 1.0)
        .global_avgpool()
        .linear("fc", 10, 1.0);
    assert_mentions(&load_error(&analog_only.build()), &["no `if` layer"]);

    // Duplicate names.
    let mut duplicate = random_model(1);
    duplicate.metadata["layers"][3]["name"] = json!("if0");
    assert_mentions(&load_error(&duplicate.build()), &["if0", "twice"]);
}

#[test]
fn rejects_absurd_sizes_without_panicking() {
    let mut huge_input = random_model(1);
    huge_input.metadata["input"]["height"] = json!(1u64 << 40);
    huge_input.metadata["input"]["width"] = json!(1u64 << 40);
    assert_mentions(&load_error(&huge_input.build()), &["input", "exceeds"]);

    let mut huge_padding = random_model(1);
    huge_padding.metadata["layers"][2]["padding"] = json!(u64::MAX / 2);
    assert_mentions(&load_error(&huge_padding.build()), &["conv1", "padding"]);

    // 1×8192×8192 is the most values a map may hold; padded by 1 it would be more (the
    // engines' padded copy of the input is bounded too).
    let padded_too_far = ModelBuilder::new(1, 1, 8192, 4)
        .conv("conv0", 2, 3, 1, 1, 1.0)
        .if_layer("if0", 1.0)
        .global_avgpool()
        .linear("fc", 10, 1.0);
    assert_mentions(
        &load_error(&padded_too_far.build()),
        &["conv0", "zero-padded by 1", "exceeds"],
    );

    let mut zero_stride = random_model(1);
    zero_stride.metadata["layers"][2]["stride"] = json!(0);
    assert_mentions(&load_error(&zero_stride.build()), &["conv1", "stride"]);

    let mut negative = random_model(1);
    negative.metadata["layers"][3]["kernel"] = json!(-2);
    assert_mentions(
        &load_error(&negative.build()),
        &[
            "layer 3 (`avgpool2d`)",
            "`kernel` must be a non-negative integer, found -2",
        ],
    );
}

/// Format version 2: a residual graph loads with its edges, signals and fan-outs.
#[test]
fn residual_graph_loads_with_its_edges() {
    use dynconf::model::Signal;
    let model = Model::from_bytes(&common::random_residual_model(1).build()).expect("valid");
    let index = |name: &str| model.layers().iter().position(|l| l.name == name).unwrap();
    let names = |layers: &[usize]| -> Vec<String> {
        layers
            .iter()
            .map(|&i| model.layers()[i].name.clone())
            .collect()
    };
    assert_eq!(names(model.consumers(index("if0"))), ["b1.conv1", "b1.add"]);
    assert_eq!(
        names(&model.layers()[index("b2.add")].inputs),
        ["b2.conv2", "b2.shortcut"]
    );
    assert_eq!(
        model.signal(index("b3.pool")),
        Signal::Spikes {
            source: index("b3.if1")
        }
    );
    assert_eq!(
        model.signal(index("b1.add")),
        Signal::Current {
            from: index("b1.add")
        }
    );
    assert_eq!(model.stages().len(), 8);
    // if0 (8×16×16) feeds b1.conv1 (3×3, 8 outputs) and, through the identity shortcut,
    // one value of b1.add: 9·8 + 1 synapses inside, 4·8 + 1 in a corner.
    assert_eq!(model.stages()[0].fan_out()[5 * 16 + 5], 9 * 8 + 1);
    assert_eq!(model.stages()[0].fan_out()[0], 4 * 8 + 1);
    // b1.if2 feeds b2.conv1 (3×3 stride 2 pad 1) and b2.shortcut (1×1 stride 2): pixel (1,1)
    // reaches conv rows/cols 0..=1 (4 positions × 12) and no shortcut position (odd pixel).
    let b1 = model
        .stages()
        .iter()
        .position(|s| s.name == "b1.if2")
        .unwrap();
    assert_eq!(model.stages()[b1].fan_out()[16 + 1], 4 * 12);
    // Pixel (2,2) reaches conv rows/cols 1..=1 … 0..=1: window_reach gives rows 1..=1 for
    // pixel 2 (o·2 − 1 ≤ 2 ≤ o·2 + 1 → o = 1), 1 position × 12, plus shortcut (1,1) × 12.
    assert_eq!(model.stages()[b1].fan_out()[2 * 16 + 2], 12 + 12);
}

/// Every rule of the layer graph, refused with a message naming the layer and what was
/// expected (docs/model-format.md, "Validation").
#[test]
fn rejects_bad_graphs_by_name() {
    let base = common::random_residual_model(1);
    let position = |b: &common::ModelBuilder, name: &str| {
        b.metadata["layers"]
            .as_array()
            .unwrap()
            .iter()
            .position(|l| l["name"] == name)
            .unwrap()
    };
    let with = |edit: &dyn Fn(&mut common::ModelBuilder)| {
        let mut b = base.clone();
        edit(&mut b);
        load_error(&b.build())
    };
    let set_inputs = |b: &mut common::ModelBuilder, layer: &str, inputs: serde_json::Value| {
        let i = position(b, layer);
        b.metadata["layers"][i]["inputs"] = inputs;
    };

    // A cycle: b1.conv1 reads b1.add, which (through b1.conv2, b1.if1) reads b1.conv1.
    let cycle = with(&|b| set_inputs(b, "b1.conv1", json!(["b1.add"])));
    assert_mentions(
        &cycle,
        &["b1.conv1", "cycle", "b1.add", "b1.conv2", "b1.if1"],
    );
    // A later layer that does not close a cycle.
    assert_mentions(
        &cycle,
        &["b1.conv1 → b1.if1 → b1.conv2 → b1.add → b1.conv1"],
    );
    let later = with(&|b| set_inputs(b, "b2.conv2", json!(["b2.shortcut"])));
    assert_mentions(&later, &["b2.conv2", "b2.shortcut", "listed after"]);
    let missing = with(&|b| set_inputs(b, "b1.add", json!(["b1.conv2", "if9"])));
    assert_mentions(&missing, &["b1.add", "`if9` is no layer"]);
    let shapes = with(&|b| set_inputs(b, "b2.add", json!(["b2.conv2", "b1.if2"])));
    assert_mentions(
        &shapes,
        &["b2.add", "b1.if2", "12×8×8", "8×16×16", "one shape"],
    );
    let one_input = with(&|b| set_inputs(b, "b1.add", json!(["b1.conv2"])));
    assert_mentions(&one_input, &["b1.add", "two or more"]);
    let two_inputs = with(&|b| set_inputs(b, "b1.conv2", json!(["b1.if1", "if0"])));
    assert_mentions(
        &two_inputs,
        &["b1.conv2", "kind `conv2d` takes one input", "2"],
    );
    let not_names = with(&|b| set_inputs(b, "b1.add", json!("b1.conv2")));
    assert_mentions(&not_names, &["b1.add", "list of layer names"]);
    // The shortcut conv's output read by nothing: b2.add takes the block's conv twice.
    let unused = with(&|b| set_inputs(b, "b2.add", json!(["b2.conv2", "b2.conv2"])));
    assert_mentions(&unused, &["b2.shortcut", "feeds no layer"]);
    // An IF layer fed by spikes, a weighted layer fed by a current.
    let spikes_into_if = with(&|b| set_inputs(b, "b1.if2", json!(["b1.if1"])));
    assert_mentions(
        &spikes_into_if,
        &["b1.if2", "spikes of `b1.if1`", "weighted layer"],
    );
    let current_into_conv = with(&|b| set_inputs(b, "b2.shortcut", json!(["b1.add"])));
    assert_mentions(
        &current_into_conv,
        &["b2.shortcut", "current of `b1.add`", "no `if` layer"],
    );
    // Reading the analog prefix from anywhere but an IF layer.
    let analog_add = with(&|b| set_inputs(b, "b1.add", json!(["b1.conv2", "stem"])));
    assert_mentions(
        &analog_add,
        &["b1.add", "`stem`", "only IF layers may read"],
    );
    let analog_conv = with(&|b| set_inputs(b, "b2.shortcut", json!(["stem"])));
    assert_mentions(
        &analog_conv,
        &["b2.shortcut", "`stem`", "only IF layers may read"],
    );
    let no_inputs = with(&|b| {
        let i = position(b, "b1.add");
        b.metadata["layers"][i]
            .as_object_mut()
            .unwrap()
            .remove("inputs");
    });
    assert_mentions(&no_inputs, &["b1.add", "two or more `inputs`, found none"]);
    // Version 1 files are chains.
    let v1 = with(&|b| b.metadata["version"] = json!(1));
    assert_mentions(&v1, &["b1.add", "version 2"]);
    let first = with(&|b| set_inputs(b, "stem", json!(["if0"])));
    assert_mentions(&first, &["stem", "first layer", "image"]);
}

//! The `dynconf` metadata JSON of a model file, as serde structs (docs/model-format.md).

use serde::{Deserialize, Serialize};

/// Value of the metadata's `format` field.
pub const FORMAT: &str = "dynconf-snn";
/// The newest format version this crate reads: 2, the layer graph (`inputs`, `add`). Version 1
/// files (a chain, no `inputs`, no `add`) still load.
pub const VERSION: u32 = 2;
/// The oldest format version this crate reads.
pub const OLDEST_VERSION: u32 = 1;
/// The safetensors `__metadata__` key that holds the JSON.
pub const METADATA_KEY: &str = "dynconf";

/// The top-level metadata object. Extra keys (`validation`, `training`, ...) are kept only
/// in the raw JSON ([`crate::model::Model::metadata_json`]).
#[derive(Debug, Deserialize)]
pub struct ModelSpec {
    /// Must be [`FORMAT`].
    pub format: String,
    /// [`OLDEST_VERSION`] to [`VERSION`].
    pub version: u32,
    /// Free text; empty when absent.
    #[serde(default)]
    pub name: String,
    /// Input size and normalisation.
    pub input: InputSpec,
    /// Class names, in output order.
    pub classes: Vec<String>,
    /// Quantization levels L of the QCFS activations the SNN was converted from.
    pub levels: u32,
    /// Read one by one with [`LayerSpec::from_json`] so that errors can name the layer.
    pub layers: Vec<serde_json::Value>,
}

/// What the network expects as input, and how pixels are normalised:
/// `x = (pixel / 255 - mean[c]) / std[c]`.
#[derive(Clone, Debug, PartialEq, Deserialize, Serialize)]
pub struct InputSpec {
    /// Colour channels (3 for RGB).
    pub channels: usize,
    /// Rows, in pixels.
    pub height: usize,
    /// Columns, in pixels.
    pub width: usize,
    /// Per channel, the mean subtracted from `pixel / 255`.
    pub mean: Vec<f64>,
    /// Per channel, the standard deviation that then divides it.
    pub std: Vec<f64>,
}

impl InputSpec {
    /// Number of values in one input (C·H·W).
    pub fn len(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// Whether an input has no values (never, for a validated model).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// One entry of `layers`, told apart by its `kind`. Layers without a `name` (pooling, IF,
/// add) are named `<kind>_<index>`.
#[derive(Clone, Debug, PartialEq)]
pub enum LayerSpec {
    /// Channels and kernel size come from the tensor `<name>.weight`, `[out][in][k][k]`;
    /// `stride` and `padding` are in pixels.
    Conv2d {
        name: String,
        stride: usize,
        padding: usize,
    },
    /// Square window of `kernel` pixels, no padding; `stride` defaults to `kernel`, as in
    /// PyTorch.
    AvgPool2d {
        name: String,
        kernel: usize,
        stride: usize,
    },
    /// The mean of each channel plane.
    GlobalAvgPool { name: String },
    /// Sizes come from the tensor `<name>.weight`, `[out][in]`, whose inputs are the previous
    /// map flattened CHW.
    Linear { name: String },
    /// Integrate-and-fire neurons; `threshold` θ is in the units of their input current
    /// (read as f32).
    If { name: String, threshold: f64 },
    /// The elementwise sum of two or more inputs of one shape (version 2): a residual
    /// connection. An input carrying spikes contributes them times its IF layer's θ.
    Add { name: String },
}

/// The layer kinds this version reads.
pub const LAYER_KINDS: [&str; 6] = [
    "conv2d",
    "avgpool2d",
    "global_avgpool",
    "linear",
    "if",
    "add",
];

/// An entry's `inputs`: the names of the layers it reads (version 2), `None` when absent
/// (the previous layer in the list, or the image for the first).
pub fn inputs_from_json(value: &serde_json::Value) -> Result<Option<Vec<String>>, String> {
    let Some(inputs) = value.get("inputs") else {
        return Ok(None);
    };
    let list = inputs
        .as_array()
        .ok_or_else(|| format!("`inputs` must be a list of layer names, found {inputs}"))?;
    list.iter()
        .map(|v| {
            v.as_str()
                .map(str::to_string)
                .ok_or_else(|| format!("`inputs` must hold layer names (strings), found {v}"))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

impl LayerSpec {
    /// The layer's name (given, or `<kind>_<index>`).
    pub fn name(&self) -> &str {
        match self {
            LayerSpec::Conv2d { name, .. }
            | LayerSpec::AvgPool2d { name, .. }
            | LayerSpec::GlobalAvgPool { name }
            | LayerSpec::Linear { name }
            | LayerSpec::If { name, .. }
            | LayerSpec::Add { name } => name,
        }
    }

    /// Reads entry `index` of `layers`. Errors name the offending field (read by hand
    /// rather than by serde, whose messages for tagged enums omit the field).
    pub fn from_json(value: &serde_json::Value, index: usize) -> Result<LayerSpec, String> {
        let fields = Fields(value.as_object().ok_or("a layer must be a JSON object")?);
        let kind = fields.string("kind")?.ok_or("missing `kind`")?;
        let name = fields.string("name")?;
        let default_name = || format!("{kind}_{index}");
        let required_name = || {
            name.clone().ok_or_else(|| format!("a `{kind}` layer needs a `name` (its tensors are `<name>.weight` and `<name>.bias`)"))
        };
        Ok(match kind.as_str() {
            "conv2d" => LayerSpec::Conv2d {
                name: required_name()?,
                stride: fields.count("stride")?.unwrap_or(1),
                padding: fields.count("padding")?.unwrap_or(0),
            },
            "avgpool2d" => {
                let kernel = fields.count("kernel")?.ok_or("missing `kernel`")?;
                let stride = fields.count("stride")?.unwrap_or(kernel);
                LayerSpec::AvgPool2d {
                    name: name.unwrap_or_else(default_name),
                    kernel,
                    stride,
                }
            }
            "global_avgpool" => LayerSpec::GlobalAvgPool {
                name: name.unwrap_or_else(default_name),
            },
            "linear" => LayerSpec::Linear {
                name: required_name()?,
            },
            "if" => LayerSpec::If {
                threshold: fields
                    .number("threshold")?
                    .ok_or("missing `threshold` (the IF layer's firing threshold)")?,
                name: name.unwrap_or_else(default_name),
            },
            "add" => LayerSpec::Add {
                name: name.unwrap_or_else(default_name),
            },
            other => {
                return Err(format!(
                    "unknown kind `{other}`; expected one of {}",
                    LAYER_KINDS.join(", ")
                ))
            }
        })
    }
}

/// Typed access to a layer object's fields.
struct Fields<'a>(&'a serde_json::Map<String, serde_json::Value>);

impl Fields<'_> {
    fn string(&self, key: &str) -> Result<Option<String>, String> {
        self.0
            .get(key)
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| format!("`{key}` must be a string, found {v}"))
            })
            .transpose()
    }

    fn count(&self, key: &str) -> Result<Option<usize>, String> {
        self.0
            .get(key)
            .map(|v| {
                v.as_u64()
                    .and_then(|n| usize::try_from(n).ok())
                    .ok_or_else(|| format!("`{key}` must be a non-negative integer, found {v}"))
            })
            .transpose()
    }

    fn number(&self, key: &str) -> Result<Option<f64>, String> {
        self.0
            .get(key)
            .map(|v| {
                v.as_f64()
                    .ok_or_else(|| format!("`{key}` must be a number, found {v}"))
            })
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_every_kind_with_defaults() {
        let read = |v: serde_json::Value| LayerSpec::from_json(&v, 3);
        assert_eq!(
            read(json!({"kind": "conv2d", "name": "c"})),
            Ok(LayerSpec::Conv2d {
                name: "c".into(),
                stride: 1,
                padding: 0
            })
        );
        assert_eq!(
            read(json!({"kind": "avgpool2d", "kernel": 2})),
            Ok(LayerSpec::AvgPool2d {
                name: "avgpool2d_3".into(),
                kernel: 2,
                stride: 2
            })
        );
        assert_eq!(
            read(json!({"kind": "global_avgpool"})),
            Ok(LayerSpec::GlobalAvgPool {
                name: "global_avgpool_3".into()
            })
        );
        assert_eq!(
            read(json!({"kind": "linear", "name": "fc"})),
            Ok(LayerSpec::Linear { name: "fc".into() })
        );
        assert_eq!(
            read(json!({"kind": "if", "threshold": 1.5, "extra": true})),
            Ok(LayerSpec::If {
                name: "if_3".into(),
                threshold: 1.5
            })
        );
        assert_eq!(
            read(json!({"kind": "add", "inputs": ["a", "b"]})),
            Ok(LayerSpec::Add {
                name: "add_3".into()
            })
        );
        assert_eq!(
            inputs_from_json(&json!({"inputs": ["a", "b"]})),
            Ok(Some(vec!["a".into(), "b".into()]))
        );
        assert_eq!(inputs_from_json(&json!({"kind": "if"})), Ok(None));
        assert!(inputs_from_json(&json!({"inputs": "a"}))
            .unwrap_err()
            .contains("list of layer names"));
        assert!(inputs_from_json(&json!({"inputs": [1]}))
            .unwrap_err()
            .contains("strings"));
    }

    #[test]
    fn errors_name_the_field() {
        let error = |v: serde_json::Value| LayerSpec::from_json(&v, 0).unwrap_err();
        assert!(error(json!({"kind": "maxpool2d"})).contains("unknown kind `maxpool2d`"));
        assert!(error(json!({"kind": "avgpool2d", "kernel": -2}))
            .contains("`kernel` must be a non-negative integer, found -2"));
        assert!(error(json!({"kind": "if", "threshold": "high"}))
            .contains("`threshold` must be a number"));
        assert!(error(json!({"kind": "if"})).contains("missing `threshold`"));
        assert!(error(json!({"kind": "conv2d"})).contains("needs a `name`"));
        assert!(error(json!({"name": "x"})).contains("missing `kind`"));
        assert!(error(json!([1, 2])).contains("JSON object"));
    }
}

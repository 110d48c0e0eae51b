//! Checkpoints as safetensors files whose tensors are exactly the PyTorch state_dict
//! of the original modules (`model.0.weight` [256, 100], ...), so a file written here
//! loads into PyTorch with `load_state_dict` and the other way round.
//!
//! A checkpoint folder holds `generator.safetensors`, `discriminator.safetensors` and
//! `optimizer.safetensors` (Adam moments, step and hyperparameters), which only
//! ganvas reads: the first two stay plain state_dicts.

use std::collections::HashMap;

use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use crate::error::{Error, ErrorKind, Result};
use crate::formats::image_shape::ImageShape;
use crate::model::state::{NetworkState, TrainingState};
use crate::model::{Convolution, Layer, Model, NamedTensor, Network, NetworkKind, TrainConfig, CLASSES};

pub const GENERATOR_FILE: &str = "generator.safetensors";
pub const DISCRIMINATOR_FILE: &str = "discriminator.safetensors";
pub const OPTIMIZER_FILE: &str = "optimizer.safetensors";

const FORMAT_KEY: &str = "ganvas.format";
const FORMAT_VALUE: &str = "ganvas-optimizer-1";

/// A network read from a state_dict: its shape is inferred from the tensors.
#[derive(Clone, Debug, PartialEq)]
pub struct LoadedNetwork {
    pub network: Network,
    pub params: Vec<f32>,
    /// Its running statistics (batch norm's), as `Network::statistics` lays them out.
    pub statistics: Vec<f32>,
}

/// The state_dict of `net` with `params`, as safetensors bytes. A generator's file
/// also says the shape of its images in its metadata (`IMAGE_SHAPE_KEY`: "3,32,32"),
/// which PyTorch's loaders ignore.
pub fn network_to_bytes(net: &Network, params: &[f32], statistics: &[f32]) -> Result<Vec<u8>> {
    let tensors = net
        .tensors()
        .into_iter()
        .map(|t| (t.name, t.shape, &params[t.offset..][..t.len]));
    // Batch norm's running estimates beside the parameters, its count of batches an
    // int64 as PyTorch keeps it.
    let (counts, estimates): (Vec<NamedTensor>, Vec<NamedTensor>) = net
        .statistics()
        .into_iter()
        .partition(|t| t.name.ends_with(COUNT_SUFFIX));
    let estimates = estimates
        .into_iter()
        .map(|t| (t.name, t.shape, &statistics[t.offset..][..t.len]));
    let counts: Vec<(String, i64)> = counts
        .into_iter()
        .map(|t| (t.name, statistics[t.offset] as i64))
        .collect();
    let shape = (net.kind == NetworkKind::Generator)
        .then(|| ImageShape::from_values(net.outputs()).ok())
        .flatten();
    let metadata = shape.map(|s| HashMap::from([(IMAGE_SHAPE_KEY.to_string(), s.to_metadata())]));
    serialize(tensors.chain(estimates), &counts, metadata)
}

/// The name a batch norm's count of batches ends with (an int64 in PyTorch).
const COUNT_SUFFIX: &str = "num_batches_tracked";

/// Where a generator's file says the shape of its images.
pub const IMAGE_SHAPE_KEY: &str = "ganvas.image_shape";

/// Parses a state_dict of the original `nn.Sequential`: `model.0.weight`, `model.0.bias`,
/// `model.2.weight`, ... each weight [out, in] feeding the next. A generator's image
/// shape, where its file says one, must be what its last layer gives.
pub fn network_from_bytes(bytes: &[u8], kind: NetworkKind) -> Result<LoadedNetwork> {
    let file = parse(bytes, kind.name())?;
    let network = infer_network(&file, kind)?;
    if kind == NetworkKind::Generator {
        let said = SafeTensors::read_metadata(bytes)
            .ok()
            .and_then(|(_, header)| header.metadata().clone())
            .and_then(|m| m.get(IMAGE_SHAPE_KEY).cloned());
        if let Some(text) = said {
            let shape = ImageShape::from_metadata(&text)
                .map_err(|e| Error::of(ErrorKind::CheckpointUnreadable, format!("the generator file: {e}")))?;
            if shape.values() != network.outputs() {
                return Err(Error::of(
                    ErrorKind::CheckpointMismatch,
                    format!(
                        "the generator file says its images are {shape} ({} values), but its last layer gives {}",
                        shape.values(),
                        network.outputs()
                    ),
                ));
            }
        }
    }
    let (params, statistics) = read_network(&file, &network, kind.name())?;
    Ok(LoadedNetwork {
        network,
        params,
        statistics,
    })
}

pub(crate) fn parse<'a>(bytes: &'a [u8], what: &str) -> Result<SafeTensors<'a>> {
    SafeTensors::deserialize(bytes).map_err(|e| {
        Error::of(
            ErrorKind::CheckpointUnreadable,
            format!("the {what} file is not a valid safetensors file ({e})"),
        )
    })
}

/// The network whose state_dict `file` holds, from the shapes of its weights: the
/// original perceptron's (`model.N`) or pytorch/examples' DCGAN's (`main.N`).
pub(crate) fn infer_network(file: &SafeTensors, kind: NetworkKind) -> Result<Network> {
    if let Some(network) = infer_dcgan(file, kind)? {
        return Ok(network);
    }
    let name = kind.name();
    let mut widths = Vec::new();
    let mut layer = 0;
    while let Ok(weight) = file.tensor(&format!("model.{}.weight", 2 * layer)) {
        let shape = weight.shape();
        if shape.len() != 2 || shape.contains(&0) {
            return Err(Error::of(
                ErrorKind::CheckpointUnreadable,
                format!(
                    "{name} tensor model.{}.weight has shape {shape:?}, expected [out, in]",
                    2 * layer
                ),
            ));
        }
        match widths.last() {
            None => widths.push(shape[1]),
            Some(&prev) if prev != shape[1] => {
                return Err(Error::of(
                    ErrorKind::CheckpointMismatch,
                    format!(
                        "{name} tensor model.{}.weight takes {} inputs but the layer before gives {prev}",
                        2 * layer,
                        shape[1]
                    ),
                ))
            }
            Some(_) => {}
        }
        widths.push(shape[0]);
        layer += 1;
    }
    if layer == 0 {
        return Err(Error::of(
            ErrorKind::CheckpointUnreadable,
            format!("the {name} file has no model.0.weight: not a ganvas or PyTorch {name} state_dict"),
        ));
    }
    let outputs = widths[widths.len() - 1];
    match kind {
        NetworkKind::Discriminator if outputs != 1 => {
            return Err(Error::of(
                ErrorKind::CheckpointMismatch,
                format!("the discriminator's last layer has {outputs} outputs, expected 1"),
            ))
        }
        NetworkKind::Generator if outputs == 1 => {
            return Err(Error::of(
                ErrorKind::CheckpointMismatch,
                "the generator's last layer has 1 output: is this a discriminator file?",
            ))
        }
        _ => {}
    }
    Ok(Network::from_widths(kind, &widths))
}

/// A DCGAN's G or D from its convolutions' weights: G's at `main.0`, `main.3`, ...
/// ([nz, ngf·2^(d−1), 4, 4] first, [ngf, nc, 4, 4] last), D's at `main.0`, `main.2`,
/// `main.5`, ... ([ndf, nc, 4, 4] first); d + 1 of them for images of 4·2^d. None
/// where the file is not a DCGAN's (no 4-D `main.0.weight`).
fn infer_dcgan(file: &SafeTensors, kind: NetworkKind) -> Result<Option<Network>> {
    let shape = |i: usize| {
        file.tensor(&format!("main.{i}.weight"))
            .ok()
            .map(|t| t.shape().to_vec())
    };
    let Some(first) = shape(0).filter(|s| s.len() == 4) else {
        return Ok(None);
    };
    let name = kind.name();
    let next = match kind {
        NetworkKind::Generator => 3,
        NetworkKind::Discriminator => 2,
        NetworkKind::Classifier => {
            return Err(Error::of(
                ErrorKind::CheckpointMismatch,
                "a classifier has no convolutions",
            ))
        }
    };
    let (mut last, mut convolutions, mut at) = (first.clone(), 1usize, next);
    while let Some(s) = shape(at).filter(|s| s.len() == 4 && convolutions < 8) {
        (last, convolutions, at) = (s, convolutions + 1, at + 3);
    }
    let depth = convolutions - 1;
    let image_size = 4 << depth;
    let fits = |what: &str, value: usize| match value {
        0 => Err(Error::of(
            ErrorKind::CheckpointUnreadable,
            format!("the {name} file's {what} is 0"),
        )),
        v => Ok(v),
    };
    let (latent, channels, width) = match kind {
        NetworkKind::Generator => (first[0], last[1], first[1] >> depth.saturating_sub(1)),
        _ => (TrainConfig::default().latent, first[1], first[0]),
    };
    let config = TrainConfig {
        latent: fits("latent size", latent)?,
        model: Model::Dcgan {
            image_size,
            channels: fits("channel count", channels)?,
            width: fits("width", width)?,
        },
        ..TrainConfig::default()
    };
    config.validate().map_err(|e| {
        Error::of(
            ErrorKind::CheckpointMismatch,
            format!("the {name} file is a DCGAN's of {convolutions} convolutions that ganvas does not train: {e}"),
        )
    })?;
    let pixels = channels * image_size * image_size;
    Ok(Some(match kind {
        NetworkKind::Generator => config.generator(pixels),
        _ => config.discriminator(pixels),
    }))
}

/// Serialises the Adam moments, the step and the hyperparameters.
pub fn optimizer_to_bytes(state: &TrainingState, pixels: usize) -> Result<Vec<u8>> {
    let config = &state.config;
    let mut tensors = Vec::new();
    for (net, s) in [
        (config.generator(pixels), &state.generator),
        (config.discriminator(pixels), &state.discriminator),
    ] {
        for t in net.tensors() {
            for (moment, values) in [("exp_avg", &s.exp_avg), ("exp_avg_sq", &s.exp_avg_sq)] {
                let name = format!("{}.{}.{moment}", net.kind.name(), t.name);
                tensors.push((name, t.shape.clone(), &values[t.offset..][..t.len]));
            }
        }
    }
    let config_json =
        serde_json::to_string(config).map_err(|e| Error::new(format!("cannot encode the config: {e}")))?;
    let metadata = HashMap::from([
        (FORMAT_KEY.to_string(), FORMAT_VALUE.to_string()),
        ("step".to_string(), state.step.to_string()),
        ("config".to_string(), config_json),
    ]);
    serialize(tensors.into_iter(), &[], Some(metadata))
}

/// The three files of a checkpoint of `state`: [generator, discriminator, optimizer],
/// as `GENERATOR_FILE`, `DISCRIMINATOR_FILE` and `OPTIMIZER_FILE` name them.
pub fn state_to_bytes(state: &TrainingState, pixels: usize) -> Result<[Vec<u8>; 3]> {
    let c = &state.config;
    Ok([
        network_to_bytes(
            &c.generator(pixels),
            &state.generator.params,
            &state.generator.statistics,
        )?,
        network_to_bytes(
            &c.discriminator(pixels),
            &state.discriminator.params,
            &state.discriminator.statistics,
        )?,
        optimizer_to_bytes(state, pixels)?,
    ])
}

/// A whole training state from the three files of a checkpoint.
pub fn state_from_bytes(generator: &[u8], discriminator: &[u8], optimizer: &[u8]) -> Result<TrainingState> {
    let g = network_from_bytes(generator, NetworkKind::Generator)?;
    let d = network_from_bytes(discriminator, NetworkKind::Discriminator)?;
    let (_, header) = SafeTensors::read_metadata(optimizer).map_err(|e| {
        Error::of(
            ErrorKind::CheckpointUnreadable,
            format!("the optimizer file is not a valid safetensors file ({e})"),
        )
    })?;
    let metadata = header.metadata().clone().unwrap_or_default();
    if metadata.get(FORMAT_KEY).map(String::as_str) != Some(FORMAT_VALUE) {
        return Err(Error::of(
            ErrorKind::CheckpointUnreadable,
            "the optimizer file was not written by ganvas (no ganvas.format entry)",
        ));
    }
    let step = match metadata.get("step") {
        None => {
            return Err(Error::of(
                ErrorKind::CheckpointUnreadable,
                "the optimizer file's metadata has no step",
            ))
        }
        Some(text) => text.parse::<u32>().map_err(|_| {
            Error::of(
                ErrorKind::CheckpointUnreadable,
                format!(
                    "the optimizer file's step is {:?}, not a whole number from 0 to {}",
                    clip(text),
                    u32::MAX
                ),
            )
        })?,
    };
    let config_json = metadata.get("config").ok_or_else(|| {
        Error::of(
            ErrorKind::CheckpointUnreadable,
            "the optimizer file's metadata has no config",
        )
    })?;
    // Checked before any network is laid out from it: a crafted size must not reach
    // the arithmetic of the layout or the plan.
    let pixels = g.network.outputs();
    let config = TrainConfig::from_json(config_json)
        .and_then(|c| c.validate_images(pixels).map(|()| c))
        .map_err(|e| {
            Error::of(
                ErrorKind::CheckpointUnreadable,
                format!("the optimizer file's config: {e}"),
            )
        })?;
    for (field, from_config, file) in [
        (
            "latent, generator_hidden, conditional",
            config.generator(pixels),
            &g.network,
        ),
        (
            "discriminator_hidden, conditional",
            config.discriminator(pixels),
            &d.network,
        ),
    ] {
        if from_config.tensors() != file.tensors() {
            return Err(Error::of(
                ErrorKind::CheckpointMismatch,
                format!(
                    "the optimizer file's config gives the {} layer widths {:?} ({field}) but the {} file has {:?}",
                    file.kind.name(),
                    from_config.widths(),
                    file.kind.name(),
                    file.widths()
                ),
            ));
        }
    }
    let file = SafeTensors::deserialize(optimizer).map_err(|e| {
        Error::of(
            ErrorKind::CheckpointUnreadable,
            format!("the optimizer file is not a valid safetensors file ({e})"),
        )
    })?;
    // Every tensor twice, `{network}.{name}.exp_avg` then `.exp_avg_sq`, as one flat list.
    let mut tensors = Vec::new();
    for net in [&g.network, &d.network] {
        for moment in ["exp_avg", "exp_avg_sq"] {
            for t in net.tensors() {
                let offset = tensors.iter().map(|t: &NamedTensor| t.len).sum();
                let name = format!("{}.{}.{moment}", net.kind.name(), t.name);
                tensors.push(NamedTensor { name, offset, ..t });
            }
        }
    }
    let all = read_tensors(&file, &tensors, "optimizer")?;
    let (gn, dn) = (g.network.parameter_count, d.network.parameter_count);
    let (g_moments, d_moments) = all.split_at(2 * gn);
    Ok(TrainingState {
        step,
        generator: NetworkState {
            params: g.params,
            exp_avg: g_moments[..gn].to_vec(),
            exp_avg_sq: g_moments[gn..].to_vec(),
            statistics: g.statistics,
        },
        discriminator: NetworkState {
            params: d.params,
            exp_avg: d_moments[..dn].to_vec(),
            exp_avg_sq: d_moments[dn..].to_vec(),
            statistics: d.statistics,
        },
        config,
    })
}

/// A fresh run that starts from given weights: a generator (from ganvas or PyTorch)
/// and optionally a discriminator. Layer widths come from the files, everything else
/// from `base`; Adam starts from zero at step 0, and a missing discriminator from
/// its initialisation.
pub fn state_from_weights(generator: &[u8], discriminator: Option<&[u8]>, base: &TrainConfig) -> Result<TrainingState> {
    let g = network_from_bytes(generator, NetworkKind::Generator)?;
    let pixels = g.network.outputs();
    let mut config = match dcgan_model(&g.network) {
        Some(model) => TrainConfig {
            latent: g.network.input.len(),
            model,
            conditional: false,
            ..base.clone()
        },
        None => {
            let widths = g.network.widths();
            // A generator that takes the configured latents and a label is conditional.
            let conditional = widths[0] == base.latent + CLASSES;
            TrainConfig {
                latent: if conditional { base.latent } else { widths[0] },
                generator_hidden: widths[1..widths.len() - 1].to_vec(),
                conditional,
                model: Model::Mlp,
                ..base.clone()
            }
        }
    };
    let d = match discriminator {
        Some(bytes) => {
            let d = network_from_bytes(bytes, NetworkKind::Discriminator)?;
            if d.network.inputs() != pixels + config.labels() || dcgan_model(&d.network) != dcgan_model(&g.network) {
                let what = match config.conditional {
                    true => format!("{pixels} pixels and a label of {CLASSES}"),
                    false => format!("{pixels} pixels"),
                };
                return Err(Error::of(
                    ErrorKind::CheckpointMismatch,
                    format!(
                        "the discriminator (of {} inputs) is not the generator's kind for {what}",
                        d.network.inputs()
                    ),
                ));
            }
            if config.model == Model::Mlp {
                let widths = d.network.widths();
                config.discriminator_hidden = widths[1..widths.len() - 1].to_vec();
            }
            Some((d.params, d.statistics))
        }
        None => None,
    };
    // The widths from the files and the rest from `base` must make a run ganvas trains.
    config.validate_images(pixels).map_err(|e| {
        Error::of(
            ErrorKind::CheckpointMismatch,
            format!("these weights cannot start a run with these settings: {e}"),
        )
    })?;
    let d = d.unwrap_or_else(|| {
        let net = config.discriminator(pixels);
        (net.initial_parameters(config.seed), net.initial_statistics())
    });
    // Adam starts afresh; batch norm keeps the running estimates the files hold.
    let fresh = |(params, statistics): (Vec<f32>, Vec<f32>)| NetworkState {
        exp_avg: vec![0.0; params.len()],
        exp_avg_sq: vec![0.0; params.len()],
        params,
        statistics,
    };
    Ok(TrainingState {
        generator: fresh((g.params, g.statistics)),
        discriminator: fresh(d),
        step: 0,
        config,
    })
}

/// The DCGAN a network read from a file is (its image size, channels and width), if
/// it is one: a network that starts with a convolution.
fn dcgan_model(net: &Network) -> Option<Model> {
    let convolutions: Vec<Convolution> = (net.layers.iter())
        .filter_map(|l| match l.layer {
            Layer::Conv2d(c) | Layer::ConvTranspose2d(c) => Some(c),
            _ => None,
        })
        .collect();
    let first = convolutions.first()?;
    let image = match net.kind {
        NetworkKind::Generator => net.layers.last()?.output,
        _ => net.input,
    };
    let width = match net.kind {
        NetworkKind::Generator => first.outputs >> convolutions.len().saturating_sub(2),
        _ => first.outputs,
    };
    Some(Model::Dcgan {
        image_size: image.height,
        channels: image.channels,
        width,
    })
}

/// At most 40 characters of a value from a file, for an error message.
fn clip(text: &str) -> String {
    text.chars().take(40).collect()
}

/// A network's parameters and statistics from its state_dict (exactly its tensors).
fn read_network(file: &SafeTensors, net: &Network, what: &str) -> Result<(Vec<f32>, Vec<f32>)> {
    let (tensors, statistics) = (net.tensors(), net.statistics());
    let expected: Vec<&NamedTensor> = tensors.iter().chain(&statistics).collect();
    unexpected(file, &expected, what)?;
    let params = read_values(file, &tensors, what)?;
    let mut values = vec![0.0; net.statistics_count];
    for t in &statistics {
        let view = lacking(file, &t.name, what)?;
        let out = &mut values[t.offset..][..t.len];
        match t.name.ends_with(COUNT_SUFFIX) && view.dtype() == Dtype::I64 && view.shape().is_empty() {
            true => {
                let bytes: [u8; 8] = view.data().try_into().map_err(|_| {
                    Error::of(
                        ErrorKind::CheckpointUnreadable,
                        format!("the {what} file's {} is cut short", t.name),
                    )
                })?;
                out[0] = i64::from_le_bytes(bytes) as f32;
            }
            false => copy_f32(&view, &format!("{what} tensor {}", t.name), &t.shape, out)?,
        }
    }
    Ok((params, values))
}

/// The first name in `file` that is not among `expected`, as an error.
fn unexpected(file: &SafeTensors, expected: &[&NamedTensor], what: &str) -> Result<()> {
    let mut names = file.names();
    names.sort_unstable();
    match names.iter().find(|n| !expected.iter().any(|t| t.name == **n)) {
        Some(extra) => Err(Error::of(
            ErrorKind::CheckpointMismatch,
            format!("the {what} file has an unexpected tensor {extra}"),
        )),
        None => Ok(()),
    }
}

fn lacking<'a>(file: &'a SafeTensors, name: &str, what: &str) -> Result<TensorView<'a>> {
    file.tensor(name)
        .map_err(|_| Error::of(ErrorKind::CheckpointMismatch, format!("the {what} file lacks {name}")))
}

/// Reads exactly `tensors` (no more, no fewer) into one buffer laid out by their offsets.
pub(crate) fn read_tensors(file: &SafeTensors, tensors: &[NamedTensor], what: &str) -> Result<Vec<f32>> {
    unexpected(file, &tensors.iter().collect::<Vec<_>>(), what)?;
    read_values(file, tensors, what)
}

/// `tensors`' values, float32 each, into one buffer laid out by their offsets.
fn read_values(file: &SafeTensors, tensors: &[NamedTensor], what: &str) -> Result<Vec<f32>> {
    let mut out = vec![0.0; tensors.iter().map(|t| t.len).sum()];
    for t in tensors {
        let view = lacking(file, &t.name, what)?;
        copy_f32(
            &view,
            &format!("{what} tensor {}", t.name),
            &t.shape,
            &mut out[t.offset..][..t.len],
        )?;
    }
    Ok(out)
}

fn copy_f32(view: &TensorView, what: &str, shape: &[usize], out: &mut [f32]) -> Result<()> {
    if view.dtype() != Dtype::F32 {
        return Err(Error::of(
            ErrorKind::CheckpointUnreadable,
            format!("{what} is {:?}; ganvas reads float32 only", view.dtype()),
        ));
    }
    if view.shape() != shape {
        return Err(Error::of(
            ErrorKind::CheckpointMismatch,
            format!("{what} has shape {:?}, expected {shape:?}", view.shape()),
        ));
    }
    for (dst, bytes) in out.iter_mut().zip(view.data().chunks_exact(4)) {
        *dst = f32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    }
    Ok(())
}

/// Float32 tensors, and int64 scalars (`counts`), as safetensors bytes.
pub(crate) fn serialize<'a>(
    tensors: impl Iterator<Item = (String, Vec<usize>, &'a [f32])>,
    counts: &[(String, i64)],
    metadata: Option<HashMap<String, String>>,
) -> Result<Vec<u8>> {
    let count_bytes: Vec<[u8; 8]> = counts.iter().map(|(_, c)| c.to_le_bytes()).collect();
    let counts = counts.iter().zip(&count_bytes).map(|((name, _), bytes)| {
        TensorView::new(Dtype::I64, Vec::new(), bytes)
            .map(|v| (name.clone(), v))
            .map_err(|e| Error::new(format!("cannot write a tensor: {e}")))
    });
    let views = tensors
        .map(|(name, shape, data)| {
            TensorView::new(Dtype::F32, shape, bytemuck::cast_slice(data))
                .map(|v| (name, v))
                .map_err(|e| Error::new(format!("cannot write a tensor: {e}")))
        })
        .chain(counts)
        .collect::<Result<Vec<_>>>()?;
    safetensors::serialize(views, metadata).map_err(|e| Error::new(format!("cannot write safetensors: {e}")))
}

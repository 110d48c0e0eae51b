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
use crate::model::{NamedTensor, Network, NetworkKind, TrainConfig, CLASSES};

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
pub fn network_to_bytes(net: &Network, params: &[f32]) -> Result<Vec<u8>> {
    let tensors = net
        .tensors()
        .into_iter()
        .map(|t| (t.name, t.shape, &params[t.offset..][..t.len]));
    let shape = (net.kind == NetworkKind::Generator)
        .then(|| ImageShape::from_values(net.outputs()).ok())
        .flatten();
    let metadata = shape.map(|s| HashMap::from([(IMAGE_SHAPE_KEY.to_string(), s.to_metadata())]));
    serialize(tensors, metadata)
}

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
    let params = read_tensors(&file, &network.tensors(), kind.name())?;
    let statistics = network.initial_statistics();
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

/// The network whose state_dict `file` holds, from the shapes of its weights.
pub(crate) fn infer_network(file: &SafeTensors, kind: NetworkKind) -> Result<Network> {
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
    serialize(tensors.into_iter(), Some(metadata))
}

/// The three files of a checkpoint of `state`: [generator, discriminator, optimizer],
/// as `GENERATOR_FILE`, `DISCRIMINATOR_FILE` and `OPTIMIZER_FILE` name them.
pub fn state_to_bytes(state: &TrainingState, pixels: usize) -> Result<[Vec<u8>; 3]> {
    let c = &state.config;
    Ok([
        network_to_bytes(&c.generator(pixels), &state.generator.params)?,
        network_to_bytes(&c.discriminator(pixels), &state.discriminator.params)?,
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
            statistics: g.network.initial_statistics(),
        },
        discriminator: NetworkState {
            params: d.params,
            exp_avg: d_moments[..dn].to_vec(),
            exp_avg_sq: d_moments[dn..].to_vec(),
            statistics: d.network.initial_statistics(),
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
    let widths = g.network.widths();
    let pixels = g.network.outputs();
    // A generator that takes the configured latents and a label is conditional.
    let conditional = widths[0] == base.latent + CLASSES;
    let mut config = TrainConfig {
        latent: if conditional { base.latent } else { widths[0] },
        generator_hidden: widths[1..widths.len() - 1].to_vec(),
        conditional,
        ..base.clone()
    };
    let d = match discriminator {
        Some(bytes) => {
            let d = network_from_bytes(bytes, NetworkKind::Discriminator)?;
            if d.network.inputs() != pixels + config.labels() {
                let what = match conditional {
                    true => format!("{pixels} pixels and a label of {CLASSES}"),
                    false => format!("{pixels} pixels"),
                };
                return Err(Error::of(
                    ErrorKind::CheckpointMismatch,
                    format!(
                        "the discriminator takes {} inputs but the generator makes {what}",
                        d.network.inputs()
                    ),
                ));
            }
            let widths = d.network.widths();
            config.discriminator_hidden = widths[1..widths.len() - 1].to_vec();
            Some(d.params)
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
    let d = d.unwrap_or_else(|| config.discriminator(pixels).initial_parameters(config.seed));
    // The perceptrons read from state_dicts keep no statistics.
    let fresh = |params: Vec<f32>| NetworkState {
        exp_avg: vec![0.0; params.len()],
        exp_avg_sq: vec![0.0; params.len()],
        params,
        statistics: Vec::new(),
    };
    Ok(TrainingState {
        generator: fresh(g.params),
        discriminator: fresh(d),
        step: 0,
        config,
    })
}

/// At most 40 characters of a value from a file, for an error message.
fn clip(text: &str) -> String {
    text.chars().take(40).collect()
}

/// Reads exactly `tensors` (no more, no fewer) into one buffer laid out by their offsets.
pub(crate) fn read_tensors(file: &SafeTensors, tensors: &[NamedTensor], what: &str) -> Result<Vec<f32>> {
    let mut names = file.names();
    names.sort_unstable();
    if let Some(extra) = names.iter().find(|n| !tensors.iter().any(|t| t.name == **n)) {
        return Err(Error::of(
            ErrorKind::CheckpointMismatch,
            format!("the {what} file has an unexpected tensor {extra}"),
        ));
    }
    let mut out = vec![0.0; tensors.iter().map(|t| t.len).sum()];
    for t in tensors {
        let view = file.tensor(&t.name).map_err(|_| {
            Error::of(
                ErrorKind::CheckpointMismatch,
                format!("the {what} file lacks {}", t.name),
            )
        })?;
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

pub(crate) fn serialize<'a>(
    tensors: impl Iterator<Item = (String, Vec<usize>, &'a [f32])>,
    metadata: Option<HashMap<String, String>>,
) -> Result<Vec<u8>> {
    let views = tensors
        .map(|(name, shape, data)| {
            TensorView::new(Dtype::F32, shape, bytemuck::cast_slice(data))
                .map(|v| (name, v))
                .map_err(|e| Error::new(format!("cannot write a tensor: {e}")))
        })
        .collect::<Result<Vec<_>>>()?;
    safetensors::serialize(views, metadata).map_err(|e| Error::new(format!("cannot write safetensors: {e}")))
}

//! What the page asks of the core, as plain Rust. Each function takes what a visitor
//! handed the page (files, a link, the form) and returns a value or an error that
//! names the file and the field at fault. `bindings` wraps them for JavaScript in
//! the wasm build; the tests call them natively (`tests/bad_input.rs`).

#[cfg(target_arch = "wasm32")]
mod bindings;
#[cfg(target_arch = "wasm32")]
mod threads;

use crate::error::{Error, ErrorKind, Result};
use crate::formats::checkpoint;
use crate::formats::grid;
use std::rc::Rc;

use crate::formats::mnist::{decompress_if_gzipped, Dataset};
use crate::model::{Model, TrainConfig, DCGAN_MNIST_SIDE, MNIST_SIDE};
use serde::Serialize;

use crate::formats::settings;
use crate::model::state::TrainingState;
use crate::plan::CensusReadings;
use crate::quality::classifier::{classifier_from_bytes, predictions};
use crate::quality::{agreement, Quality, Reader};

/// The training set from the IDX image and label files, gzipped or not.
pub fn dataset(images: Vec<u8>, labels: Vec<u8>) -> Result<Dataset> {
    let images = decompress_if_gzipped(images)
        .map_err(|e| Error::of(ErrorKind::DataUnreadable, format!("the MNIST images: {e}")))?;
    let labels = decompress_if_gzipped(labels)
        .map_err(|e| Error::of(ErrorKind::DataUnreadable, format!("the MNIST labels: {e}")))?;
    Dataset::from_idx(&images, &labels)
}

/// A state to start from, out of checkpoint files: the three that ganvas writes,
/// which resume exactly; or a generator alone (ganvas's or PyTorch's), optionally
/// with a discriminator, which starts a fresh run with `config_json`'s other settings.
pub fn checkpoint(
    generator: &[u8],
    discriminator: Option<&[u8]>,
    optimizer: Option<&[u8]>,
    config_json: &str,
) -> Result<TrainingState> {
    match (discriminator, optimizer) {
        (Some(d), Some(o)) => checkpoint::state_from_bytes(generator, d, o),
        (None, Some(_)) => Err(Error::of(
            ErrorKind::CheckpointMismatch,
            "an optimizer file needs the discriminator file with it",
        )),
        (d, None) => {
            let base = TrainConfig::from_json(config_json)
                .map_err(|e| Error::of(ErrorKind::Settings, format!("the settings: {e}")))?;
            checkpoint::state_from_weights(generator, d, &base)
        }
    }
}

/// The classifier that reads the census, from its file (`data/classifier.safetensors`).
pub fn classifier(bytes: &[u8]) -> Result<Reader> {
    Reader::new(classifier_from_bytes(bytes)?)
}

/// What the page shows of a census: the quality scores (`quality::Quality`'s fields),
/// the digit the classifier reads in each preview cell (the census's first rows are
/// the unconditional preview's latents; none for a conditional G), and for a
/// conditional G the share of each digit's samples read as that digit.
#[derive(Serialize)]
pub struct CensusReport {
    #[serde(flatten)]
    pub quality: Quality,
    pub preview_digits: Vec<usize>,
    pub agreement: Option<Vec<f64>>,
}

/// `asked`: the digit each census sample was drawn as, for a conditional G.
pub fn census_report(
    reader: &Reader,
    readings: &CensusReadings,
    preview_rows: usize,
    asked: Option<&[f32]>,
) -> Result<CensusReport> {
    let quality = reader.score_census(readings)?;
    let classes = reader.network().outputs();
    // A conditional G's census draws its own latents, not the preview's: no labels.
    let shown = match asked {
        Some(_) => 0,
        None => readings.logits.len().min(preview_rows * classes),
    };
    let preview_digits = predictions(&readings.logits[..shown], classes);
    let agreement = asked.map(|digits| {
        let digits: Vec<usize> = digits.iter().map(|&d| d as usize).collect();
        agreement(&readings.logits, classes, &digits)
    });
    Ok(CensusReport {
        quality,
        preview_digits,
        agreement,
    })
}

/// The images a run trains on: `data`, or MNIST padded to 32×32 (2 pixels of
/// background a side) for a DCGAN of 32×32 gray images, the run's model being the
/// checkpoint's when one is given, else `config_json`'s.
pub fn run_data(data: &Rc<Dataset>, config_json: &str, start: Option<&TrainingState>) -> Result<Rc<Dataset>> {
    let model = match start {
        Some(state) => state.config.model,
        None => TrainConfig::from_json(config_json).map_or(Model::Mlp, |c| c.model),
    };
    let mnist = data.has_labels() && data.width == MNIST_SIDE && data.height == MNIST_SIDE && data.channels == 1;
    match model {
        Model::Dcgan {
            image_size: DCGAN_MNIST_SIDE,
            channels: 1,
            ..
        } if mnist => Ok(Rc::new(data.padded(DCGAN_MNIST_SIDE)?)),
        _ => Ok(data.clone()),
    }
}

/// The state a new run starts from: `start` when given, else fresh from `config_json`
/// (checked against `data` first).
pub fn start_state(data: &Dataset, config_json: &str, start: Option<TrainingState>) -> Result<TrainingState> {
    match start {
        Some(state) => Ok(state),
        None => {
            let config = TrainConfig::from_json(config_json)
                .and_then(|c| c.validate_for(data.pixels(), data.count).map(|()| c))
                .map_err(|e| Error::of(ErrorKind::Settings, format!("the settings: {e}")))?;
            Ok(TrainingState::initial(&config, data.pixels()))
        }
    }
}

/// The settings in a link's hash (without `#`) or the form's fields, as the JSON of
/// `settings::ParsedSettings`.
pub fn parse_settings(query: &str) -> String {
    serde_json::to_string(&settings::parse(query)).unwrap_or_default()
}

/// Each setting's key, config field and range, as JSON: the page's form and links
/// take their limits from here.
pub fn setting_specs() -> String {
    serde_json::to_string(&settings::SETTINGS).unwrap_or_default()
}

pub fn default_config() -> String {
    serde_json::to_string(&TrainConfig::default()).unwrap_or_default()
}

/// A batch of images as an RGBA grid for a 2-D canvas, in rows of `columns` (or
/// about square): the grid (its `bytes` left empty) and its RGBA bytes.
pub fn preview_rgba(images: &[f32], pixels: usize, columns: Option<usize>) -> Result<(grid::Grid, Vec<u8>)> {
    let mut grid = grid::tile(images, pixels, columns)?;
    let rgba = grid.rgba();
    grid.bytes = Vec::new();
    Ok((grid, rgba))
}

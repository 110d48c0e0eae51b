//! The browser API: wasm-bindgen wrappers over `web` and `engine`, called by www/.
//! Errors reach JavaScript as `Error`s carrying the core's message and its kind.

use std::rc::Rc;

use wasm_bindgen::prelude::*;

use super::threads::WebThreadPool;
use crate::backend::engine::{Backend, Engine};
use crate::formats::mnist::Dataset;
use crate::model::state::{Stats, TrainingState};
use crate::plan::{Half, CENSUS_ROWS, INTERPOLATION_ROWS};
use crate::quality::Reader;

// What the trainer's promises resolve to, declared for tsc beside the code that
// builds them, so a misspelt field in www/ fails the type check.
#[wasm_bindgen(typescript_custom_section)]
const READOUTS: &'static str = r#"
/** G's preview grid and the last step's first real images, with D's output on each cell. */
export interface PreviewView {
  image: ImageData; columns: number; scores: Float32Array;
  real: ImageData; realColumns: number; realScores: Float32Array;
}
/** A half step: the batch's first real images and G's images before and after, with D's output on each. */
export interface HalfStepView {
  real: ImageData; fake: ImageData; fakeAfter: ImageData; columns: number;
  realScores: Float32Array; realScoresAfter: Float32Array; fakeScores: Float32Array; fakeScoresAfter: Float32Array;
}
/** `web::CensusReport`: a score the core could not compute (a run gone to NaN) is null. */
export interface CensusReport {
  n: number; class_fractions: number[]; classifier_score: number | null; mean_confidence: number | null;
  frechet_distance: number | null; preview_digits: number[]; agreement: (number | null)[] | null;
}
"#;

/// The core's error as a JavaScript `Error` with its message and a `kind`
/// (`crate::ErrorKind`'s name), which the page words in its language.
fn js_error(e: crate::Error) -> JsValue {
    let error = js_sys::Error::new(&e.message);
    // Setting a property on a fresh Error cannot fail.
    let _ = js_sys::Reflect::set(&error, &JsValue::from_str("kind"), &JsValue::from_str(e.kind.name()));
    error.into()
}

/// Images in [-1, 1] as a grid `ImageData`, in rows of `columns` (or about square),
/// and the columns it has.
fn image_data(images: &[f32], pixels: usize, columns: Option<usize>) -> Result<(JsValue, JsValue), JsValue> {
    let (grid, rgba) = super::preview_rgba(images, pixels, columns).map_err(js_error)?;
    // Copied out of wasm memory: an ImageData made from a view of it keeps the view,
    // whose bytes the next allocation may overwrite.
    let bytes = js_sys::Uint8ClampedArray::new_with_length(rgba.len() as u32);
    bytes.copy_from(&rgba);
    let image = web_sys::ImageData::new_with_js_u8_clamped_array_and_sh(&bytes, grid.width as u32, grid.height as u32)?;
    Ok((image.into(), JsValue::from(grid.columns as u32)))
}

/// A JavaScript object of these properties.
fn object<const N: usize>(entries: [(&str, JsValue); N]) -> Result<JsValue, JsValue> {
    let result = js_sys::Object::new();
    for (key, value) in entries {
        js_sys::Reflect::set(&result, &JsValue::from_str(key), &value)?;
    }
    Ok(result.into())
}

/// A JavaScript value of `value`'s JSON.
fn json(value: &impl serde::Serialize) -> Result<JsValue, JsValue> {
    let text = serde_json::to_string(value).map_err(|e| js_error(crate::Error::new(e.to_string())))?;
    js_sys::JSON::parse(&text)
}

fn floats(values: &[f32]) -> JsValue {
    js_sys::Float32Array::from(values).into()
}

/// The training set, parsed once and shared by every trainer the page makes.
#[wasm_bindgen]
pub struct WebDataset(Rc<Dataset>);

#[wasm_bindgen]
impl WebDataset {
    /// From the IDX image and label files, gzipped or not.
    #[wasm_bindgen(constructor)]
    pub fn new(images: Vec<u8>, labels: Vec<u8>) -> Result<WebDataset, JsValue> {
        Ok(WebDataset(Rc::new(super::dataset(images, labels).map_err(js_error)?)))
    }

    /// Your own pictures, already square `side` × `side` and `channels` planes each
    /// (the page's image worker makes them), without labels.
    pub fn from_pixels(images: Vec<u8>, side: usize, channels: usize) -> Result<WebDataset, JsValue> {
        let data = crate::formats::mnist::Dataset::from_pixels(images, side, channels).map_err(js_error)?;
        Ok(WebDataset(Rc::new(data)))
    }

    pub fn count(&self) -> usize {
        self.0.count
    }

    /// An `ImageData` grid of the first `n` images, as the networks see them.
    pub fn preview(&self, n: usize) -> Result<JsValue, JsValue> {
        let data = &self.0;
        let images: Vec<f32> = (0..n.min(data.count)).flat_map(|i| data.inputs_of(i)).collect();
        Ok(image_data(&images, data.pixels(), None)?.0)
    }

    /// Another handle on the same data: async calls take their arguments by value.
    pub fn share(&self) -> WebDataset {
        WebDataset(self.0.clone())
    }
}

/// The file entries of a zip archive (`crate::formats::zip`): an array of `{ name, bytes }`
/// (a `Uint8Array`) or `{ name, error }` for one that cannot be read, `error` being
/// `zip::EntryProblem` (`{ code: "damaged" }`, `{ code: "method", method: 99 }`, ...).
#[wasm_bindgen]
pub fn zip_entries(archive: &[u8]) -> Result<js_sys::Array, JsValue> {
    let entries = crate::formats::zip::entries(archive).map_err(js_error)?;
    let array = js_sys::Array::new();
    for entry in entries {
        let (key, value) = match entry.contents {
            Ok(bytes) => ("bytes", js_sys::Uint8Array::from(bytes.as_slice()).into()),
            Err(why) => ("error", json(&why)?),
        };
        array.push(&object([("name", JsValue::from(entry.name)), (key, value)])?);
    }
    Ok(array)
}

/// A picture's `[width, height]` from the start of its file, when it is a PNG, GIF,
/// JPEG or WebP (`crate::formats::picture_size`).
#[wasm_bindgen]
pub fn picture_dimensions(start: &[u8]) -> Option<Vec<u32>> {
    crate::formats::picture_size::dimensions(start).map(|(w, h)| vec![w, h])
}

/// An animated GIF of `rgba` (frames of `width` × `height` one after another), each
/// shown `delay` hundredths of a second (`crate::formats::animation`).
#[wasm_bindgen]
pub fn animated_gif(rgba: &[u8], width: u16, height: u16, delay: u16) -> Result<Vec<u8>, JsValue> {
    crate::formats::animation::animated_gif(rgba, width, height, delay).map_err(js_error)
}

/// The default hyperparameters, as JSON with `TrainConfig`'s field names.
#[wasm_bindgen]
pub fn default_config() -> String {
    super::default_config()
}

/// Each setting's link key, config field and range, as JSON.
#[wasm_bindgen]
pub fn setting_specs() -> String {
    super::setting_specs()
}

/// A link's hash (without `#`) or the form's encoded fields, read as settings (JSON).
#[wasm_bindgen]
pub fn parse_settings(query: &str) -> String {
    super::parse_settings(query)
}

/// The classifier that reads the census (`data/classifier.safetensors`), shared by
/// every trainer the page makes.
#[wasm_bindgen]
pub struct WebClassifier(Rc<Reader>);

#[wasm_bindgen]
impl WebClassifier {
    #[wasm_bindgen(constructor)]
    pub fn new(bytes: &[u8]) -> Result<WebClassifier, JsValue> {
        Ok(WebClassifier(Rc::new(super::classifier(bytes).map_err(js_error)?)))
    }

    /// Another handle on the same classifier.
    pub fn share(&self) -> WebClassifier {
        WebClassifier(self.0.clone())
    }
}

/// A state to start training from, read from checkpoint files.
#[wasm_bindgen]
pub struct WebCheckpoint(TrainingState);

#[wasm_bindgen]
impl WebCheckpoint {
    /// See `web::checkpoint`.
    pub fn from_files(
        generator: &[u8],
        discriminator: Option<Vec<u8>>,
        optimizer: Option<Vec<u8>>,
        config_json: &str,
    ) -> Result<WebCheckpoint, JsValue> {
        super::checkpoint(generator, discriminator.as_deref(), optimizer.as_deref(), config_json)
            .map(WebCheckpoint)
            .map_err(js_error)
    }
}

/// Means over the steps since the previous stats, as the page charts them.
#[wasm_bindgen]
#[derive(Clone, Copy)]
pub struct WebStats {
    pub steps: u32,
    pub discriminator_loss: f32,
    pub generator_loss: f32,
    pub probability_real: f32,
    pub probability_fake: f32,
    pub finite: bool,
}

impl From<Stats> for WebStats {
    fn from(s: Stats) -> Self {
        WebStats {
            steps: s.steps,
            discriminator_loss: s.discriminator_loss,
            generator_loss: s.generator_loss,
            probability_real: s.probability_real,
            probability_fake: s.probability_fake,
            finite: s.is_finite(),
        }
    }
}

/// A run on either backend. On the GPU (WebGPU) `train` records and returns at once;
/// on the CPU it computes before returning, so the page runs a CPU trainer in a Web
/// Worker (www/cpu-worker.js).
#[wasm_bindgen]
pub struct WebTrainer {
    engine: Engine,
    pixels: usize,
    reader: Option<Rc<Reader>>,
}

#[wasm_bindgen]
impl WebTrainer {
    /// `backend`: "gpu" or "cpu". Starts from `start` when given, else fresh from
    /// `config_json`. With a classifier, `census` measures G's samples. The CPU
    /// backend runs on `threads` (the calling thread alone without).
    pub async fn create(
        data: WebDataset,
        config_json: String,
        start: Option<WebCheckpoint>,
        backend: String,
        classifier: Option<WebClassifier>,
        threads: Option<WebThreadPool>,
    ) -> Result<WebTrainer, JsValue> {
        let choice = Backend::from_name(&backend).map_err(js_error)?;
        let start = start.map(|c| c.0);
        let data = super::run_data(&data.0, &config_json, start.as_ref()).map_err(js_error)?;
        let state = super::start_state(&data, &config_json, start).map_err(js_error)?;
        let reader = classifier.map(|c| c.0);
        let census = reader.as_deref().map(|r| r.census(CENSUS_ROWS));
        let (engine, _) = Engine::create(choice, threads.map(|t| t.0).unwrap_or_default(), &data, &state, census)
            .await
            .map_err(js_error)?;
        Ok(WebTrainer {
            engine,
            pixels: data.pixels(),
            reader,
        })
    }

    pub fn step(&self) -> u32 {
        self.engine.step()
    }

    pub fn steps_per_epoch(&self) -> u32 {
        self.engine.plan().steps_per_epoch
    }

    /// The hyperparameters in use, as JSON.
    pub fn config_json(&self) -> String {
        serde_json::to_string(&self.engine.plan().config).unwrap_or_default()
    }

    /// What one preview costs, in training steps.
    pub fn preview_cost(&self) -> f64 {
        self.engine.plan().preview_cost()
    }

    /// What one census costs, in training steps (0 without a classifier).
    pub fn census_cost(&self) -> f64 {
        self.engine.plan().census_cost()
    }

    /// Resolves to the `web::CensusReport` of G's samples as of every step recorded
    /// so far; `undefined` without a classifier.
    #[wasm_bindgen(unchecked_return_type = "Promise<CensusReport> | undefined")]
    pub fn census(&mut self) -> Option<js_sys::Promise> {
        let read = self.engine.start_census()?;
        let reader = self.reader.clone()?;
        let plan = self.engine.plan();
        let preview_rows = plan.preview_rows;
        let asked = plan
            .census
            .as_ref()
            .and_then(|c| c.digits.as_ref())
            .map(|(_, d)| d.clone());
        Some(wasm_bindgen_futures::future_to_promise(async move {
            let readings = read.finish().await.map_err(js_error)?;
            let report = super::census_report(&reader, &readings, preview_rows, asked.as_deref()).map_err(js_error)?;
            json(&report)
        }))
    }

    pub fn train(&mut self, steps: u32) {
        self.engine.train(steps);
    }

    /// Asks for the stats since the last request (ignored while one is in flight).
    pub fn request_stats(&mut self) {
        self.engine.request_stats();
    }

    /// The requested stats once they have arrived.
    pub fn poll_stats(&mut self) -> Result<Option<WebStats>, JsValue> {
        self.engine
            .poll_stats()
            .transpose()
            .map(|s| s.map(WebStats::from))
            .map_err(js_error)
    }

    /// Resolves to `{ image, columns, scores, real, realColumns, realScores }`:
    /// `ImageData`s (and their grids' columns) of the preview
    /// samples (the same latents every time; for a conditional GAN a row per digit,
    /// or all `digit` when given) and of the last step's first real images, each with
    /// D's output on every cell (`Float32Array`s), as of every step recorded so far.
    /// The canvas shows them with `putImageData`: a WebGPU canvas would save this
    /// small read, but loses its device on browsers that cannot composite WebGPU
    /// (headless Chromium on SwiftShader among them).
    #[wasm_bindgen(unchecked_return_type = "Promise<PreviewView>")]
    pub fn preview(&mut self, digit: Option<u8>) -> js_sys::Promise {
        let read = self.engine.start_preview(digit);
        let pixels = self.pixels;
        let columns = self.engine.plan().preview_columns();
        wasm_bindgen_futures::future_to_promise(async move {
            let preview = read.map_err(js_error)?.finish().await.map_err(js_error)?;
            let (image, image_columns) = image_data(&preview.images, pixels, columns)?;
            let (real, real_columns) = image_data(&preview.real_images, pixels, None)?;
            object([
                ("image", image),
                ("columns", image_columns),
                ("scores", floats(&preview.fake_scores)),
                ("real", real),
                ("realColumns", real_columns),
                ("realScores", floats(&preview.real_scores)),
            ])
        })
    }

    /// Updates only D (`half` "discriminator") or only G ("generator") as half of the
    /// current step, and resolves to `{ real, fake, fakeAfter, columns, realScores,
    /// realScoresAfter, fakeScores, fakeScoresAfter }`: `ImageData`s of the step's
    /// first (up to 64) real images and G's images on them before and after, with
    /// D's output on each before and after (`Float32Array`s).
    #[wasm_bindgen(unchecked_return_type = "Promise<HalfStepView>")]
    pub fn half_step(&mut self, half: &str) -> Result<js_sys::Promise, JsValue> {
        let half = Half::from_name(half).map_err(js_error)?;
        let read = self.engine.start_half_step(half);
        let pixels = self.pixels;
        Ok(wasm_bindgen_futures::future_to_promise(async move {
            let view = read.finish().await.map_err(js_error)?;
            let (real, columns) = image_data(&view.real_images, pixels, None)?;
            let (fake, _) = image_data(&view.fake_images, pixels, None)?;
            let (fake_after, _) = image_data(&view.fake_images_after, pixels, None)?;
            object([
                ("real", real),
                ("fake", fake),
                ("fakeAfter", fake_after),
                ("columns", columns),
                ("realScores", floats(&view.real_before)),
                ("realScoresAfter", floats(&view.real_after)),
                ("fakeScores", floats(&view.fake_before)),
                ("fakeScoresAfter", floats(&view.fake_after)),
            ])
        }))
    }

    /// Resolves to an `ImageData` of G's in-betweens (a row, ends included) of preview
    /// cells `from` and `to` of the grid that `digit` picks, linear or spherical.
    #[wasm_bindgen(unchecked_return_type = "Promise<ImageData>")]
    pub fn interpolate(&mut self, from: u32, to: u32, digit: Option<u8>, spherical: bool) -> js_sys::Promise {
        let read = self
            .engine
            .start_interpolation(from as usize, to as usize, digit, spherical);
        let pixels = self.pixels;
        wasm_bindgen_futures::future_to_promise(async move {
            let images = read.map_err(js_error)?.finish().await.map_err(js_error)?;
            let (image, _) = image_data(&images, pixels, Some(INTERPOLATION_ROWS))?;
            Ok(image)
        })
    }

    /// Resolves to an `ImageData` of the grid that `digit` picks (as the preview draws
    /// it) with every cell's latents walked `angle` radians along a great circle
    /// (`Plan::walk_input`): 0 is the preview itself.
    #[wasm_bindgen(unchecked_return_type = "Promise<ImageData>")]
    pub fn walk(&mut self, angle: f64, digit: Option<u8>) -> js_sys::Promise {
        let read = self.engine.start_walk(angle, digit);
        let pixels = self.pixels;
        let columns = self.engine.plan().preview_columns();
        wasm_bindgen_futures::future_to_promise(async move {
            let images = read.map_err(js_error)?.finish().await.map_err(js_error)?;
            let (image, _) = image_data(&images, pixels, columns)?;
            Ok(image)
        })
    }

    /// The latent vector of preview cell `cell` of the grid that `digit` picks.
    pub fn latent_of(&self, cell: u32, digit: Option<u8>) -> Result<Vec<f32>, JsValue> {
        let plan = self.engine.plan();
        let mut input = plan.preview_input_of(cell as usize, digit).map_err(js_error)?;
        input.truncate(plan.config.latent);
        Ok(input)
    }

    /// Resolves to [generator, discriminator, optimizer] safetensors files (Uint8Arrays)
    /// holding every step recorded so far.
    #[wasm_bindgen(unchecked_return_type = "Promise<[Uint8Array, Uint8Array, Uint8Array]>")]
    pub fn save(&self) -> js_sys::Promise {
        let read = self.engine.start_state_read();
        let pixels = self.pixels;
        wasm_bindgen_futures::future_to_promise(async move {
            let state = read.finish().await.map_err(js_error)?;
            let array = js_sys::Array::new();
            for bytes in crate::formats::checkpoint::state_to_bytes(&state, pixels).map_err(js_error)? {
                array.push(&js_sys::Uint8Array::from(bytes.as_slice()));
            }
            Ok(array.into())
        })
    }

    /// Why the GPU device was lost, once it has been.
    pub fn lost(&self) -> Option<String> {
        self.engine.lost()
    }

    /// The first GPU error no error scope caught (a bug in ganvas), if any.
    pub fn gpu_error(&self) -> Option<String> {
        self.engine.gpu_error()
    }

    /// Destroys the GPU device, as a driver reset would: for testing recovery.
    pub fn lose_device(&self) {
        if let Some(gpu) = self.engine.gpu() {
            gpu.device.destroy();
        }
    }
}

//! The browser API: a thin wasm-bindgen layer over the core, called by www/app.js.
//! Errors reach JavaScript as `Error`s carrying the core's message.

use std::rc::Rc;

use wasm_bindgen::prelude::*;

use crate::checkpoint;
use crate::cpu::CpuTrainer;
use crate::gpu::{GpuContext, GpuTrainer};
use crate::grid;
use crate::mnist::{decompress_if_gzipped, Dataset};
use crate::model::TrainConfig;
use crate::plan::Plan;
use crate::state::{Stats, TrainingState};

fn js_error(e: crate::Error) -> JsError {
    JsError::new(&e.0)
}

/// The training set, parsed once and shared by every trainer the page makes.
#[wasm_bindgen]
pub struct WebDataset(Rc<Dataset>);

#[wasm_bindgen]
impl WebDataset {
    /// From the IDX image and label files, gzipped or not.
    #[wasm_bindgen(constructor)]
    pub fn new(images: Vec<u8>, labels: Vec<u8>) -> Result<WebDataset, JsError> {
        let images = decompress_if_gzipped(images).map_err(|e| JsError::new(&format!("MNIST images: {e}")))?;
        let labels = decompress_if_gzipped(labels).map_err(|e| JsError::new(&format!("MNIST labels: {e}")))?;
        Ok(WebDataset(Rc::new(
            Dataset::from_idx(&images, &labels).map_err(js_error)?,
        )))
    }

    /// Another handle on the same data: async calls take their arguments by value.
    pub fn share(&self) -> WebDataset {
        WebDataset(self.0.clone())
    }
}

/// The default hyperparameters, as JSON with `TrainConfig`'s field names.
#[wasm_bindgen]
pub fn default_config() -> String {
    serde_json::to_string(&TrainConfig::default()).unwrap_or_default()
}

/// A state to start training from, read from checkpoint files.
#[wasm_bindgen]
pub struct WebCheckpoint(TrainingState);

#[wasm_bindgen]
impl WebCheckpoint {
    /// From the three files ganvas writes, which resume exactly; or from a generator
    /// alone (ganvas's or PyTorch's), optionally with a discriminator, which start a
    /// fresh run with `config_json`'s other settings.
    pub fn from_files(
        generator: &[u8],
        discriminator: Option<Vec<u8>>,
        optimizer: Option<Vec<u8>>,
        config_json: &str,
    ) -> Result<WebCheckpoint, JsError> {
        let state = match (&discriminator, optimizer) {
            (Some(d), Some(o)) => checkpoint::state_from_bytes(generator, d, &o),
            (_, Some(_)) => Err(crate::Error::new(
                "an optimizer file needs the discriminator file with it",
            )),
            (d, None) => {
                let base: TrainConfig = serde_json::from_str(config_json).unwrap_or_default();
                checkpoint::state_from_weights(generator, d.as_deref(), &base)
            }
        };
        state.map(WebCheckpoint).map_err(js_error)
    }
}

/// The state a new trainer starts from: `start` when given, else fresh from `config_json`.
fn start_state(data: &Dataset, config_json: &str, start: Option<WebCheckpoint>) -> Result<TrainingState, JsError> {
    let pixels = data.pixels();
    let state = match start {
        Some(checkpoint) => checkpoint.0,
        None => {
            let config: TrainConfig = serde_json::from_str(config_json)
                .map_err(|e| JsError::new(&format!("the settings are not valid: {e}")))?;
            config.validate(pixels, data.count).map_err(|e| JsError::new(&e))?;
            TrainingState::initial(&config, pixels)
        }
    };
    if state.config.generator(pixels).parameter_count != state.generator.params.len() {
        return Err(JsError::new(&format!(
            "the generator does not make {pixels}-pixel images"
        )));
    }
    Ok(state)
}

/// The preview batch as an `ImageData` grid for a 2-D canvas.
fn preview_image(images: &[f32], pixels: usize) -> Result<web_sys::ImageData, JsValue> {
    let grid = grid::tile(images, pixels).map_err(|e| JsValue::from(js_error(e)))?;
    let rgba: Vec<u8> = grid.gray.iter().flat_map(|&g| [g, g, g, 255]).collect();
    web_sys::ImageData::new_with_u8_clamped_array_and_sh(
        wasm_bindgen::Clamped(&rgba),
        grid.width as u32,
        grid.height as u32,
    )
}

/// [generator, discriminator, optimizer] safetensors files, as Uint8Arrays.
fn checkpoint_files(state: &TrainingState, pixels: usize) -> Result<js_sys::Array, crate::Error> {
    let c = &state.config;
    let files = [
        checkpoint::network_to_bytes(&c.generator(pixels), &state.generator.params)?,
        checkpoint::network_to_bytes(&c.discriminator(pixels), &state.discriminator.params)?,
        checkpoint::optimizer_to_bytes(state, pixels)?,
    ];
    let array = js_sys::Array::new();
    for bytes in files {
        array.push(&js_sys::Uint8Array::from(bytes.as_slice()));
    }
    Ok(array)
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

/// Training on WebGPU.
#[wasm_bindgen]
pub struct WebTrainer {
    gpu: GpuContext,
    trainer: GpuTrainer,
    pixels: usize,
}

#[wasm_bindgen]
impl WebTrainer {
    /// Opens WebGPU, uploads the training set and builds the step: from `start` when
    /// given, else fresh from `config_json`.
    pub async fn create(
        data: WebDataset,
        config_json: String,
        start: Option<WebCheckpoint>,
    ) -> Result<WebTrainer, JsError> {
        let data = data.0;
        let pixels = data.pixels();
        let state = start_state(&data, &config_json, start)?;
        let gpu = GpuContext::new().await.map_err(js_error)?;
        let plan = Plan::training(&state.config, pixels, data.count);
        let trainer = GpuTrainer::new(&gpu, plan, &data, &state).await.map_err(js_error)?;
        Ok(WebTrainer { gpu, trainer, pixels })
    }

    pub fn step(&self) -> u32 {
        self.trainer.step()
    }

    pub fn steps_per_epoch(&self) -> u32 {
        self.trainer.plan().steps_per_epoch
    }

    /// The hyperparameters in use, as JSON.
    pub fn config_json(&self) -> String {
        serde_json::to_string(&self.trainer.plan().config).unwrap_or_default()
    }

    /// GPU time of one preview, in training steps.
    pub fn preview_cost(&self) -> f64 {
        self.trainer.plan().preview_cost()
    }

    /// Records and submits `steps` training steps; returns at once.
    pub fn train(&mut self, steps: u32) {
        self.trainer.train(steps);
    }

    /// Asks for the stats since the last request (ignored while one is in flight).
    pub fn request_stats(&mut self) {
        self.trainer.request_stats();
    }

    /// The requested stats once they have arrived.
    pub fn poll_stats(&mut self) -> Result<Option<WebStats>, JsError> {
        self.trainer
            .poll_stats()
            .transpose()
            .map(|s| s.map(WebStats::from))
            .map_err(js_error)
    }

    /// Resolves to an `ImageData` of the 64 preview samples (the same latents every
    /// time), as of every step recorded so far. The canvas shows it with `putImageData`:
    /// a WebGPU canvas would save this small read, but loses its device on browsers
    /// that cannot composite WebGPU (headless Chromium on SwiftShader among them).
    pub fn preview(&self) -> js_sys::Promise {
        let read = self.trainer.start_preview_read();
        let pixels = self.pixels;
        wasm_bindgen_futures::future_to_promise(async move {
            let bytes = read.finish().await.map_err(|e| JsValue::from(js_error(e)))?;
            let images: Vec<f32> = bytemuck::pod_collect_to_vec(&bytes[0]);
            Ok(preview_image(&images, pixels)?.into())
        })
    }

    /// Resolves to [generator, discriminator, optimizer] safetensors files (Uint8Arrays)
    /// holding every step recorded so far.
    pub fn save(&self) -> js_sys::Promise {
        let read = self.trainer.start_state_read();
        let pixels = self.pixels;
        wasm_bindgen_futures::future_to_promise(async move {
            let state = read.finish().await.map_err(|e| JsValue::from(js_error(e)))?;
            Ok(checkpoint_files(&state, pixels)
                .map_err(|e| JsValue::from(js_error(e)))?
                .into())
        })
    }

    /// Why the GPU device was lost, once it has been.
    pub fn lost(&self) -> Option<String> {
        self.gpu.lost()
    }

    /// The first GPU error no error scope caught (a bug in ganvas), if any.
    pub fn gpu_error(&self) -> Option<String> {
        self.gpu.error()
    }

    /// Destroys the device, as a driver reset would: for testing recovery.
    pub fn lose_device(&self) {
        self.gpu.device.destroy();
    }
}

/// Training on the CPU backend, for browsers without WebGPU. Each call blocks for
/// as long as it computes, so the page runs it in a Web Worker (www/cpu-worker.js).
#[wasm_bindgen]
pub struct WebCpuTrainer {
    trainer: CpuTrainer,
    pixels: usize,
}

#[wasm_bindgen]
impl WebCpuTrainer {
    /// From `start` when given, else fresh from `config_json`.
    pub fn create(
        data: &WebDataset,
        config_json: &str,
        start: Option<WebCheckpoint>,
    ) -> Result<WebCpuTrainer, JsError> {
        let state = start_state(&data.0, config_json, start)?;
        let plan = Plan::training(&state.config, data.0.pixels(), data.0.count);
        Ok(WebCpuTrainer {
            trainer: CpuTrainer::new(plan, &data.0, &state),
            pixels: data.0.pixels(),
        })
    }

    pub fn step(&self) -> u32 {
        self.trainer.step()
    }

    pub fn steps_per_epoch(&self) -> u32 {
        self.trainer.plan().steps_per_epoch
    }

    pub fn config_json(&self) -> String {
        serde_json::to_string(&self.trainer.plan().config).unwrap_or_default()
    }

    pub fn train(&mut self, steps: u32) {
        self.trainer.train(steps);
    }

    /// Means since the previous call.
    pub fn take_stats(&mut self) -> WebStats {
        self.trainer.take_stats().into()
    }

    /// The 64 preview samples as an `ImageData` grid.
    pub fn preview(&mut self) -> Result<web_sys::ImageData, JsValue> {
        let images = self.trainer.preview();
        preview_image(&images, self.pixels)
    }

    /// [generator, discriminator, optimizer] safetensors files, as Uint8Arrays.
    pub fn save(&self) -> Result<js_sys::Array, JsError> {
        checkpoint_files(&self.trainer.state(), self.pixels).map_err(js_error)
    }
}

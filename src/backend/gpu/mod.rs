//! The GPU backend: a device, the training plan recorded as compute dispatches, and
//! asynchronous readback that works the same natively and in the browser.

mod readback;
mod trainer;

pub use readback::{read_buffer, BufferRead};
pub use trainer::{half_step_from, preview_from, CensusRead, GpuTrainer, NetworksRead, StateRead};

use std::sync::{Arc, Mutex};

use crate::error::{Error, ErrorKind, Result};
use crate::kernels::conv::{LowerVariant, WeightVariant};
use crate::kernels::matmul::MatmulPolicy;

/// A device with WebGPU's default limits, whatever the adapter offers, so what
/// passes on lavapipe also fits Chrome's (8 storage buffers a stage, 16 KiB of
/// workgroup memory, 256 invocations a workgroup, 128 MiB a binding). Clones share
/// the one device.
#[derive(Clone)]
pub struct GpuContext {
    // Held for as long as the device, as a browser expects of its GPU objects.
    _instance: wgpu::Instance,
    pub info: wgpu::AdapterInfo,
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    /// Which matmul entry point trainers made from here use for each product.
    pub matmul: MatmulPolicy,
    /// Which entry point their convolutions' `Lower` runs on.
    pub conv_lower: LowerVariant,
    /// Which entry point their convolutions' `Weight` runs on.
    pub conv_weight: WeightVariant,
    lost: LostFlag,
    error: Arc<Mutex<Option<String>>>,
}

/// Why the device was lost, once it has been; shared with reads still in flight.
#[derive(Clone, Default)]
pub struct LostFlag(Arc<Mutex<Option<String>>>);

impl LostFlag {
    pub fn get(&self) -> Option<String> {
        self.0.lock().ok().and_then(|s| s.clone())
    }

    /// A lost device explains a failed read better than the read's own error.
    pub fn explain(&self, e: Error) -> Error {
        match self.get() {
            Some(why) => Error::of(ErrorKind::Device, format!("the GPU device was lost ({why})")),
            None => e,
        }
    }
}

impl GpuContext {
    /// The adapter wgpu prefers for high performance, software ones included.
    pub async fn new() -> Result<GpuContext> {
        let instance = wgpu::Instance::default();
        let options = wgpu::RequestAdapterOptions {
            power_preference: wgpu::PowerPreference::HighPerformance,
            ..Default::default()
        };
        let adapter = instance
            .request_adapter(&options)
            .await
            .map_err(|e| Error::of(ErrorKind::Device, format!("no GPU adapter is available ({e})")))?;
        let info = adapter.get_info();
        // Natively, GPU timestamps where the adapter has them, for `ganvas bench
        // --profile`; the page asks for no optional feature.
        let timestamps = match cfg!(target_arch = "wasm32") {
            true => wgpu::Features::empty(),
            false => adapter.features() & wgpu::Features::TIMESTAMP_QUERY,
        };
        let descriptor = wgpu::DeviceDescriptor {
            label: Some("ganvas"),
            required_limits: wgpu::Limits::default(),
            required_features: timestamps,
            ..Default::default()
        };
        let (device, queue) = adapter.request_device(&descriptor).await.map_err(|e| {
            Error::of(
                ErrorKind::Device,
                format!("the GPU adapter {} refused a device ({e})", info.name),
            )
        })?;
        let lost = LostFlag::default();
        let slot = lost.0.clone();
        device.set_device_lost_callback(move |reason, message| {
            if let Ok(mut s) = slot.lock() {
                *s = Some(format!("{reason:?}: {message}"));
            }
        });
        // The first error no scope caught: a bug, reported rather than a panic.
        let error = Arc::new(Mutex::new(None));
        let slot = error.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            if let Ok(mut s) = slot.lock() {
                s.get_or_insert_with(|| e.to_string());
            }
        }));
        Ok(GpuContext {
            _instance: instance,
            matmul: MatmulPolicy::for_adapter(info.device_type == wgpu::DeviceType::Cpu),
            conv_lower: LowerVariant::default(),
            conv_weight: WeightVariant::default(),
            info,
            device,
            queue,
            lost,
            error,
        })
    }

    /// Why the device was lost, once it has been.
    pub fn lost(&self) -> Option<String> {
        self.lost.get()
    }

    pub fn lost_flag(&self) -> LostFlag {
        self.lost.clone()
    }

    /// The first GPU error that no error scope caught, if any.
    pub fn error(&self) -> Option<String> {
        self.error.lock().ok().and_then(|s| s.clone())
    }

    /// True for CPU emulations such as lavapipe (llvmpipe) and SwiftShader.
    pub fn is_software(&self) -> bool {
        self.info.device_type == wgpu::DeviceType::Cpu
    }

    /// "name (backend)", as shown to users.
    pub fn describe(&self) -> String {
        if self.info.name.is_empty() {
            format!("{:?}", self.info.backend)
        } else {
            format!("{} ({:?})", self.info.name, self.info.backend)
        }
    }
}

//! The GPU backend: a device, the training plan recorded as compute dispatches, and
//! asynchronous readback that works the same natively and in the browser.

mod readback;
mod trainer;

pub use readback::read_buffer;
pub use trainer::GpuTrainer;

use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};

/// A device with WebGPU's default limits, whatever the adapter offers, so what
/// passes on lavapipe also fits Chrome's (8 storage buffers a stage, 16 KiB of
/// workgroup memory, 256 invocations a workgroup, 128 MiB a binding).
pub struct GpuContext {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub adapter: wgpu::AdapterInfo,
    lost: Arc<Mutex<Option<String>>>,
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
            .map_err(|e| Error::new(format!("no GPU adapter is available ({e})")))?;
        Self::from_adapter(adapter).await
    }

    pub async fn from_adapter(adapter: wgpu::Adapter) -> Result<GpuContext> {
        let info = adapter.get_info();
        let descriptor = wgpu::DeviceDescriptor {
            label: Some("ganvas"),
            required_limits: wgpu::Limits::default(),
            ..Default::default()
        };
        let (device, queue) = adapter
            .request_device(&descriptor)
            .await
            .map_err(|e| Error::new(format!("the GPU adapter {} refused a device ({e})", info.name)))?;
        let lost = Arc::new(Mutex::new(None));
        let slot = lost.clone();
        device.set_device_lost_callback(move |reason, message| {
            if let Ok(mut s) = slot.lock() {
                *s = Some(format!("{reason:?}: {message}"));
            }
        });
        Ok(GpuContext {
            device,
            queue,
            adapter: info,
            lost,
        })
    }

    /// Why the device was lost, once it has been.
    pub fn lost(&self) -> Option<String> {
        self.lost.lock().ok().and_then(|s| s.clone())
    }

    /// True for CPU emulations such as lavapipe (llvmpipe) and SwiftShader.
    pub fn is_software(&self) -> bool {
        self.adapter.device_type == wgpu::DeviceType::Cpu
    }

    /// "name (backend)", as shown to users.
    pub fn describe(&self) -> String {
        format!("{} ({:?})", self.adapter.name, self.adapter.backend)
    }
}

/// Every adapter wgpu can open here, for choosing a default backend.
#[cfg(not(target_arch = "wasm32"))]
pub fn adapters() -> Vec<wgpu::AdapterInfo> {
    let instance = wgpu::Instance::default();
    pollster::block_on(instance.enumerate_adapters(wgpu::Backends::all()))
        .iter()
        .map(|a| a.get_info())
        .collect()
}

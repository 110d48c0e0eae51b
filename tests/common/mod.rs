//! Helpers shared by the integration tests.
#![allow(dead_code)]

use ganvas::backend::gpu::GpuContext;
use ganvas::formats::mnist::Dataset;
use ganvas::rng::{self, Stream};

/// A GPU device, or `None` where no adapter exists: the test then skips, and says so
/// where `cargo xtask test` reads it (the file named by `GANVAS_SKIPPED`), which
/// counts the skips in its last line. In CI the GPU tests must run on lavapipe, so a
/// missing adapter fails there instead.
pub fn gpu() -> Option<GpuContext> {
    match pollster::block_on(GpuContext::new()) {
        Ok(gpu) => Some(gpu),
        Err(e) if std::env::var_os("CI").is_none() => {
            let test = std::thread::current().name().unwrap_or("a GPU test").to_string();
            eprintln!("skipping {test}: {e}");
            if let Some(path) = std::env::var_os("GANVAS_SKIPPED") {
                use std::io::Write;
                let file = std::fs::OpenOptions::new().create(true).append(true).open(path);
                let _ = file.and_then(|mut f| writeln!(f, "{test}\t{e}"));
            }
            None
        }
        Err(e) => panic!("CI must run the GPU tests (install mesa-vulkan-drivers): {e}"),
    }
}

/// Deterministic pseudo-random bytes, as a small image set.
pub fn synthetic_dataset(count: usize, width: usize, height: usize, seed: u64) -> Dataset {
    let mut images = vec![0u8; count * width * height];
    for (i, chunk) in images.chunks_mut(4).enumerate() {
        let w = rng::draw(seed, Stream::Sample, i as u32, 99);
        for (b, word) in chunk.iter_mut().zip(w) {
            *b = word as u8;
        }
    }
    Dataset {
        images,
        labels: vec![0; count],
        count,
        width,
        height,
        channels: 1,
    }
}

/// Uniform floats in [-scale, scale), reproducible from `seed`.
pub fn random_vec(len: usize, seed: u64, scale: f32) -> Vec<f32> {
    let mut v = vec![0.0; len];
    rng::uniform_symmetric(seed, Stream::Sample, 7, scale, &mut v);
    v
}

pub fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
}

/// A storage buffer holding `data` (at least 16 bytes, as bindings need), readable back.
pub fn storage_buffer(gpu: &GpuContext, data: &[f32]) -> wgpu::Buffer {
    use wgpu::util::DeviceExt;
    let mut bytes = bytemuck::cast_slice(data).to_vec();
    bytes.resize(bytes.len().max(16), 0);
    gpu.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: None,
        contents: &bytes,
        usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
    })
}

/// Runs one dispatch, as the trainer records it.
pub fn run_dispatch(gpu: &GpuContext, dispatch: ganvas::kernels::Dispatch) {
    let mut encoder = gpu.device.create_command_encoder(&Default::default());
    dispatch.record(&mut encoder.begin_compute_pass(&Default::default()));
    gpu.queue.submit([encoder.finish()]);
}

/// The first `len` floats of `buffer`, read back.
pub fn read_floats(gpu: &GpuContext, buffer: &wgpu::Buffer, len: usize) -> Vec<f32> {
    let bytes = pollster::block_on(ganvas::backend::gpu::read_buffer(
        &gpu.device,
        &gpu.queue,
        buffer,
        buffer.size(),
    ))
    .unwrap();
    bytemuck::pod_collect_to_vec::<u8, f32>(&bytes)[..len].to_vec()
}

//! Reading GPU buffers back without blocking a browser: `map_async` completes a
//! future. Natively nothing drives the device by itself, so the future polls it.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use crate::error::{Error, ErrorKind, Result};

#[derive(Default)]
struct MapSlot {
    result: Option<Result<()>>,
    waker: Option<Waker>,
}

/// Starts mapping `buffer` for reading; the returned handle says when it is ready.
pub fn start_map(buffer: &wgpu::Buffer) -> PendingMap {
    let slot = Arc::new(Mutex::new(MapSlot::default()));
    let callback_slot = slot.clone();
    buffer.slice(..).map_async(wgpu::MapMode::Read, move |result| {
        if let Ok(mut s) = callback_slot.lock() {
            s.result =
                Some(result.map_err(|_| Error::of(ErrorKind::Device, "the GPU could not map a buffer for reading")));
            if let Some(waker) = s.waker.take() {
                waker.wake();
            }
        }
    });
    PendingMap { slot }
}

pub struct PendingMap {
    slot: Arc<Mutex<MapSlot>>,
}

impl PendingMap {
    /// `None` while the GPU is still busy; never blocks.
    pub fn try_finish(&self, device: &wgpu::Device) -> Option<Result<()>> {
        // A no-op in a browser, which maps by itself.
        let _ = device.poll(wgpu::PollType::Poll);
        let mut slot = self.slot.lock().ok()?;
        slot.result
            .take()
            .map(|r| r.map_err(|_| Error::of(ErrorKind::Device, "the GPU could not map a buffer for reading")))
    }

    /// Resolves once mapped; natively it waits on the device, in a browser it yields.
    pub fn finished<'a>(&'a self, device: &'a wgpu::Device) -> impl Future<Output = Result<()>> + 'a {
        MapFuture { pending: self, device }
    }
}

struct MapFuture<'a> {
    pending: &'a PendingMap,
    device: &'a wgpu::Device,
}

impl Future for MapFuture<'_> {
    type Output = Result<()>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<()>> {
        // Natively this blocks until the GPU is done; in a browser it is a no-op and
        // the map callback wakes this future instead.
        let _ = self.device.poll(wgpu::PollType::wait_indefinitely());
        let Ok(mut slot) = self.pending.slot.lock() else {
            return Poll::Ready(Err(Error::of(ErrorKind::Device, "the GPU readback state was poisoned")));
        };
        match slot.result.clone() {
            Some(r) => Poll::Ready(r),
            None => {
                slot.waker = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

/// Copies of GPU buffers on their way back. It owns what it needs, so the caller can
/// go on recording work (or be borrowed elsewhere) while the copy maps.
pub struct BufferRead {
    device: wgpu::Device,
    staging: wgpu::Buffer,
    map: PendingMap,
    lens: Vec<u64>,
}

impl BufferRead {
    /// Queues copies of the first `len` bytes of each source into one staging buffer.
    pub fn start(device: &wgpu::Device, queue: &wgpu::Queue, sources: &[(&wgpu::Buffer, u64)]) -> BufferRead {
        let lens: Vec<u64> = sources.iter().map(|(_, len)| *len).collect();
        let staging = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("readback"),
            size: lens.iter().sum::<u64>().max(4),
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let mut encoder = device.create_command_encoder(&Default::default());
        let mut offset = 0;
        for (source, len) in sources {
            encoder.copy_buffer_to_buffer(source, 0, &staging, offset, *len);
            offset += len;
        }
        queue.submit([encoder.finish()]);
        let map = start_map(&staging);
        BufferRead {
            device: device.clone(),
            staging,
            map,
            lens,
        }
    }

    /// The bytes of each source, in order.
    pub async fn finish(self) -> Result<Vec<Vec<u8>>> {
        self.map.finished(&self.device).await?;
        let view = self.staging.slice(..).get_mapped_range().map_err(|e| {
            Error::of(
                ErrorKind::Device,
                format!("the GPU readback could not be mapped: {e:?}"),
            )
        })?;
        let mut out = Vec::new();
        let mut offset = 0;
        for len in &self.lens {
            out.push(view[offset..offset + *len as usize].to_vec());
            offset += *len as usize;
        }
        Ok(out)
    }
}

/// Reads the first `len` bytes of `source` back. For rare reads (checkpoints,
/// previews, tests); the training loop never calls it.
pub async fn read_buffer(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    source: &wgpu::Buffer,
    len: u64,
) -> Result<Vec<u8>> {
    let mut parts = BufferRead::start(device, queue, &[(source, len)]).finish().await?;
    Ok(parts.remove(0))
}

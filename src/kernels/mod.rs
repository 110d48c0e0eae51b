//! One module per WGSL kernel family: its params struct, its pipeline with an explicit
//! bind-group layout, and the plain CPU function it is checked against (which is also
//! what the CPU backend runs).

pub mod adam;
pub mod bce;
pub mod bias_grad;
pub mod gather;
pub mod matmul;
pub mod noise;
pub mod step_counter;

use std::borrow::Cow;

/// How a kernel sees one binding; bindings are numbered in order from 0.
#[derive(Clone, Copy)]
pub enum Access {
    Read,
    ReadWrite,
    Uniform,
}

/// A compute pipeline and the layout of its single bind group.
pub struct Kernel {
    pipeline: wgpu::ComputePipeline,
    layout: wgpu::BindGroupLayout,
}

impl Kernel {
    pub fn new(device: &wgpu::Device, label: &str, source: &str, bindings: &[Access]) -> Self {
        Self::with_entry_point(device, label, source, bindings, "main")
    }

    /// A kernel whose shader has several entry points; `entry_point` names the one run.
    pub fn with_entry_point(
        device: &wgpu::Device,
        label: &str,
        source: &str,
        bindings: &[Access],
        entry_point: &str,
    ) -> Self {
        let entries: Vec<wgpu::BindGroupLayoutEntry> = bindings
            .iter()
            .enumerate()
            .map(|(i, access)| wgpu::BindGroupLayoutEntry {
                binding: i as u32,
                visibility: wgpu::ShaderStages::COMPUTE,
                ty: wgpu::BindingType::Buffer {
                    ty: match access {
                        Access::Read => wgpu::BufferBindingType::Storage { read_only: true },
                        Access::ReadWrite => wgpu::BufferBindingType::Storage { read_only: false },
                        Access::Uniform => wgpu::BufferBindingType::Uniform,
                    },
                    has_dynamic_offset: false,
                    min_binding_size: None,
                },
                count: None,
            })
            .collect();
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some(label),
            entries: &entries,
        });
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some(label),
            source: wgpu::ShaderSource::Wgsl(Cow::Borrowed(source)),
        });
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some(label),
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(label),
            layout: Some(&pipeline_layout),
            module: &module,
            entry_point: Some(entry_point),
            compilation_options: Default::default(),
            cache: None,
        });
        Kernel { pipeline, layout }
    }

    /// A bind group with `buffers` bound whole, in binding order.
    pub fn bind(&self, device: &wgpu::Device, buffers: &[&wgpu::Buffer]) -> wgpu::BindGroup {
        let entries: Vec<wgpu::BindGroupEntry> = buffers
            .iter()
            .enumerate()
            .map(|(i, buffer)| wgpu::BindGroupEntry {
                binding: i as u32,
                resource: buffer.as_entire_binding(),
            })
            .collect();
        device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &self.layout,
            entries: &entries,
        })
    }

    pub fn pipeline(&self) -> &wgpu::ComputePipeline {
        &self.pipeline
    }
}

/// Workgroups needed to cover `items` with `per_group` each.
pub fn groups(items: usize, per_group: usize) -> u32 {
    items.div_ceil(per_group) as u32
}

/// Panics with the kernel's name if a strided 2-D view reaches past its slice; the CPU
/// functions call it before touching memory, so a wrong plan fails loudly in tests.
pub fn check_view(
    what: &str,
    len: usize,
    offset: usize,
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
) {
    if rows == 0 || cols == 0 {
        return;
    }
    let last = offset + (rows - 1) * row_stride + (cols - 1) * col_stride;
    assert!(last < len, "{what}: view ends at {last}, buffer has {len}");
}

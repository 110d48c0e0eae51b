//! One module per WGSL kernel family: its params struct, its op in the plan (the
//! buffers it runs on), its pipeline with an explicit bind-group layout, how each
//! backend runs it, and the plain CPU function it is checked against (which is also
//! what the CPU backend runs).
//!
//! `kernel_registry!` below lists every kernel once; from that one list come the plan's
//! `Op` enum, what the backends call to run an op, the GPU's pipelines, and the
//! tests that check each kernel's bindings against its shader and that no kernel
//! is left out.

pub mod activation;
pub mod adam;
pub mod batch_norm;
pub mod bce;
pub mod bias_grad;
pub mod conv;
pub mod cross_entropy;
pub mod gather;
pub mod labels;
pub mod matmul;
pub mod noise;
mod registry;
pub mod step_counter;

use registry::{declare_kernel, kernel_registry};
pub use registry::{BufferId, CpuMemory, GpuMemory, GpuTarget, KernelInfo, KernelOp};

kernel_registry! {
    Gather(gather::GatherOp),
    Noise(noise::NoiseOp),
    Labels(labels::LabelsOp),
    Matmul(matmul::MatmulOp),
    BiasGrad(bias_grad::BiasGradOp),
    Conv(conv::ConvOp),
    BatchNorm(batch_norm::BatchNormOp),
    Bce(bce::BceOp),
    CrossEntropy(cross_entropy::CrossEntropyOp),
    Adam(adam::AdamOp),
    AdvanceStep(step_counter::AdvanceStepOp),
}

use std::borrow::Cow;

/// How a kernel sees one storage binding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Read,
    ReadWrite,
}

/// A kernel's buffers by name, declared once with `bindings!`: the fields in the
/// shader's `@binding` order, each named as in the shader and with its access. The
/// params uniform, when the kernel has one, is the binding after them. A unit test
/// (below) checks every declaration against its WGSL file.
pub trait Bindings {
    /// (name in the shader, access), in binding order.
    const LAYOUT: &'static [(&'static str, Access)];
    fn buffers(&self) -> Vec<&wgpu::Buffer>;
}

/// `bindings! { pub struct AdamBuffers { param: ReadWrite, grad: Read } }` makes a
/// struct of `&wgpu::Buffer` fields and its `Bindings` layout, from one list.
macro_rules! bindings {
    ($(#[$meta:meta])* pub struct $name:ident { $($field:ident: $access:ident),+ $(,)? }) => {
        $(#[$meta])*
        pub struct $name<'a> {
            $(pub $field: &'a wgpu::Buffer),+
        }

        impl $crate::kernels::Bindings for $name<'_> {
            const LAYOUT: &'static [(&'static str, $crate::kernels::Access)] =
                &[$((stringify!($field), $crate::kernels::Access::$access)),+];

            fn buffers(&self) -> Vec<&wgpu::Buffer> {
                vec![$(self.$field),+]
            }
        }
    };
}
pub(crate) use bindings;

/// A compute pipeline and the layout of its single bind group.
pub struct Kernel {
    pipeline: wgpu::ComputePipeline,
    layout: wgpu::BindGroupLayout,
    /// Storage bindings before the params uniform (if any).
    storage: usize,
    has_params: bool,
}

/// One launch of a kernel over fixed buffers: made once, recorded every step.
pub struct Dispatch {
    pipeline: wgpu::ComputePipeline,
    bind_group: wgpu::BindGroup,
    workgroups: [u32; 3],
}

impl Dispatch {
    pub fn record(&self, pass: &mut wgpu::ComputePass) {
        pass.set_pipeline(&self.pipeline);
        pass.set_bind_group(0, &self.bind_group, &[]);
        let [x, y, z] = self.workgroups;
        pass.dispatch_workgroups(x, y, z);
    }
}

impl Kernel {
    /// The pipeline of `source`'s `entry_point`, with the bind-group layout of `B`
    /// and, when `has_params`, a uniform after it.
    pub fn new<B: Bindings>(
        device: &wgpu::Device,
        label: &str,
        source: &str,
        entry_point: &str,
        has_params: bool,
    ) -> Self {
        let storage = B::LAYOUT.iter().map(|&(_, access)| wgpu::BufferBindingType::Storage {
            read_only: access == Access::Read,
        });
        let uniform = has_params.then_some(wgpu::BufferBindingType::Uniform);
        let entries: Vec<wgpu::BindGroupLayoutEntry> = storage
            .chain(uniform)
            .enumerate()
            .map(|(i, ty)| wgpu::BindGroupLayoutEntry {
                binding: i as u32,
                visibility: wgpu::ShaderStages::COMPUTE,
                ty: wgpu::BindingType::Buffer {
                    ty,
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
        Kernel {
            pipeline,
            layout,
            storage: B::LAYOUT.len(),
            has_params,
        }
    }

    /// A dispatch over `buffers` with `params` (the bytes of the kernel's params
    /// struct, empty for none) in a uniform of its own. `label` names the bind group,
    /// so validation errors and GPU debuggers say which op it is. Only the kernel
    /// modules call this, each through its one typed `dispatch`.
    fn dispatch<B: Bindings>(
        &self,
        device: &wgpu::Device,
        label: &str,
        buffers: &B,
        params: &[u8],
        workgroups: [u32; 3],
    ) -> Dispatch {
        use wgpu::util::DeviceExt;
        let buffers = buffers.buffers();
        assert_eq!(buffers.len(), self.storage, "{label}: bindings of another kernel");
        // WebGPU refuses one buffer bound twice in a dispatch where either binding is
        // writable (Chromium's Dawn enforces it; wgpu natively does not), so a plan
        // that does it fails here, in the native tests, not only in a browser.
        for (i, (first, (name, access))) in buffers.iter().zip(B::LAYOUT).enumerate() {
            for (second, (other, other_access)) in buffers[i + 1..].iter().zip(&B::LAYOUT[i + 1..]) {
                let writable = *access == Access::ReadWrite || *other_access == Access::ReadWrite;
                assert!(
                    !(writable && first == second),
                    "{label}: {name} and {other} are one buffer, and one of them is writable"
                );
            }
        }
        assert_eq!(
            !params.is_empty(),
            self.has_params,
            "{label}: params do not match the kernel"
        );
        let uniform = self.has_params.then(|| {
            device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some(label),
                contents: params,
                usage: wgpu::BufferUsages::UNIFORM,
            })
        });
        let entries: Vec<wgpu::BindGroupEntry> = buffers
            .into_iter()
            .chain(uniform.as_ref())
            .enumerate()
            .map(|(i, buffer)| wgpu::BindGroupEntry {
                binding: i as u32,
                resource: buffer.as_entire_binding(),
            })
            .collect();
        let bind_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(label),
            layout: &self.layout,
            entries: &entries,
        });
        Dispatch {
            pipeline: self.pipeline.clone(),
            bind_group,
            workgroups,
        }
    }
}

/// Workgroups needed to cover `items` with `per_group` each.
pub fn groups(items: usize, per_group: usize) -> u32 {
    items.div_ceil(per_group) as u32
}

/// Workgroups of `per_group` invocations covering `items`, as a 2-D grid: WebGPU
/// allows at most 65,535 along one dimension. The shader flattens it back
/// (x + y · groups.x · per_group).
pub fn grid_2d(items: usize, per_group: usize) -> [u32; 3] {
    const MAX_GROUPS: usize = 65_535;
    let groups = items.div_ceil(per_group).max(1);
    let rows = groups.div_ceil(MAX_GROUPS);
    [groups.div_ceil(rows) as u32, rows as u32, 1]
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

#[cfg(test)]
mod tests {
    use super::*;

    /// (name, access or None for the uniform) of each `@binding` in `source`, in order.
    fn wgsl_bindings(source: &str) -> Vec<(String, Option<Access>)> {
        let mut found: Vec<(u32, String, Option<Access>)> = source
            .lines()
            .filter_map(|line| {
                let rest = line.split("@binding(").nth(1)?;
                let (number, rest) = rest.split_once(')')?;
                let (kind, rest) = rest.split_once("var")?.1.split_once('>')?;
                let name = rest.trim().split(':').next()?.trim().to_string();
                let access = match kind.trim_start_matches('<') {
                    "storage, read" => Some(Access::Read),
                    "storage, read_write" => Some(Access::ReadWrite),
                    "uniform" => None,
                    other => panic!("unknown binding kind {other:?} in {line}"),
                };
                Some((number.parse().ok()?, name, access))
            })
            .collect();
        found.sort_by_key(|b| b.0);
        assert!(found.iter().enumerate().all(|(i, b)| b.0 == i as u32), "{found:?}");
        found.into_iter().map(|(_, name, access)| (name, access)).collect()
    }

    fn declared(kernel: &KernelInfo) -> Vec<(String, Option<Access>)> {
        let storage = (kernel.bindings.iter()).map(|&(name, access)| (name.to_string(), Some(access)));
        storage
            .chain(kernel.has_params.then(|| ("p".to_string(), None)))
            .collect()
    }

    #[test]
    fn every_kernels_bindings_match_its_shader() {
        for kernel in KERNELS {
            assert_eq!(wgsl_bindings(kernel.source), declared(kernel), "{}", kernel.name);
        }
    }

    /// Every shader with an entry point and every kernel module is in the registry,
    /// under one name; shared WGSL (no `@compute`) is prepended to the kernels that
    /// use it.
    #[test]
    fn the_registry_lists_every_kernel() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let stems = |dir: &str, ext: &str, keep: &dyn Fn(&str) -> bool| -> Vec<String> {
            let mut found: Vec<String> = std::fs::read_dir(root.join(dir))
                .unwrap()
                .filter_map(|entry| {
                    let path = entry.ok()?.path();
                    let stem = path.file_stem()?.to_str()?.to_string();
                    let text = std::fs::read_to_string(&path).ok()?;
                    (path.extension()? == ext && keep(&text)).then_some(stem)
                })
                .collect();
            found.sort();
            found
        };
        let mut listed: Vec<String> = KERNELS.iter().map(|k| k.name.to_string()).collect();
        listed.sort();
        let shaders = stems("shaders", "wgsl", &|text| text.contains("@compute"));
        assert_eq!(shaders, listed, "shaders with an entry point vs the registry");
        // All but the registry and the activations' CPU side (activation.wgsl is shared).
        let mut modules = stems("src/kernels", "rs", &|_| true);
        modules.retain(|m| !["mod", "registry", "activation"].contains(&m.as_str()));
        assert_eq!(modules, listed, "kernel modules vs the registry");
        for kernel in KERNELS {
            let own = std::fs::read_to_string(root.join(format!("shaders/{}.wgsl", kernel.name))).unwrap();
            assert!(
                kernel.source.ends_with(&own),
                "{}'s source ends with its own file",
                kernel.name
            );
        }
    }

    #[test]
    fn the_shader_check_sees_a_swap() {
        let swapped = "@group(0) @binding(0) var<storage, read> b: array<f32>;\n\
                       @group(0) @binding(1) var<storage, read> a: array<f32>;\n\
                       @group(0) @binding(2) var<uniform> p: Params;";
        let matmul = KERNELS.iter().find(|k| k.name == "matmul").unwrap();
        assert_ne!(wgsl_bindings(swapped)[..2], declared(matmul)[..2]);
    }
}

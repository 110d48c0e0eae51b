//! What every kernel declares about itself (`KernelOp`), what its op runs on in each
//! backend (`CpuMemory`, `GpuMemory`), and `kernel_registry!`, which turns the one
//! list of kernels in `kernels/mod.rs` into the plan's `Op` enum and everything that
//! goes through all of them.

use std::fmt::Debug;

use super::bce::STAT_SLOTS;
use super::conv::{LowerVariant, WeightVariant};
use super::matmul::MatmulPolicy;
use super::{Access, Dispatch};

/// Index of an f32 buffer in a plan's buffer table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BufferId(pub usize);

/// One kernel family, declared in its own module: its shader, its bindings, the op
/// the plan records for one launch of it (the plan buffers it runs on and its
/// params), and how the two backends run that op.
pub trait KernelOp: Clone + Debug {
    /// As its WGSL file and its module are named: `shaders/{NAME}.wgsl`, `kernels::{NAME}`.
    const NAME: &'static str;
    /// The WGSL it compiles (its own file, after any shared one it needs).
    const SOURCE: &'static str;
    /// Its storage bindings, in the shader's order (its `bindings!` struct's layout).
    const BINDINGS: &'static [(&'static str, Access)];
    /// Whether a params uniform follows the storage bindings.
    const HAS_PARAMS: bool;
    /// Its pipelines on one device, for the ops of a plan that it will dispatch.
    type Pipelines;

    fn pipelines<'a>(target: &GpuTarget, ops: impl Iterator<Item = &'a Self>) -> Self::Pipelines
    where
        Self: 'a;

    /// The op's plan buffers by binding name, the one it writes first: the label of its
    /// bind group ("matmul c=generator.activation.0 a=latent ..."), so a GPU error or a
    /// debugger says which op it is.
    fn bound(&self) -> Vec<(&'static str, BufferId)>;

    /// How its label names the kernel: `NAME`, unless the op says more.
    fn kernel_label(&self) -> &'static str {
        Self::NAME
    }

    /// The plan buffers it reads and does not write.
    fn reads(&self) -> Vec<BufferId>;

    /// The one plan buffer it writes, when that is all it does: the CPU backend may
    /// run such ops side by side. `None` for ops with other effects (stats, the step).
    fn sole_output(&self) -> Option<BufferId>;

    /// Runs the op on the CPU: by default, `write_cpu` into its sole output.
    fn run_cpu(&self, memory: &mut CpuMemory) {
        let id = (self.sole_output()).unwrap_or_else(|| panic!("{} must say how it runs on the CPU", Self::NAME));
        let mut out = memory.take(id);
        self.write_cpu(memory, &mut out, memory.threads);
        memory.buffers[id.0] = out;
    }

    /// Writes the op's sole output, `out` (moved out of `memory`), on up to `threads`
    /// threads. Only ops with a `sole_output` are asked to.
    fn write_cpu(&self, memory: &CpuMemory, out: &mut [f32], threads: usize) {
        let _ = (memory, out, threads);
        unreachable!("{} has no sole output", Self::NAME)
    }

    /// One launch over the op's buffers, made once and recorded every step.
    fn dispatch(&self, pipelines: &Self::Pipelines, gpu: &GpuMemory, label: &str) -> Dispatch;

    /// Multiply-adds, counted twice, that the op does: the work the page spaces its
    /// previews by. Only matrix products count.
    fn flops(&self) -> f64 {
        0.0
    }
}

/// What a kernel's op reads and writes on the CPU: the plan's buffers and the
/// backend's own state.
pub struct CpuMemory {
    pub buffers: Vec<Vec<f32>>,
    /// The training set's images and labels, a byte each value.
    pub images: Vec<u8>,
    pub labels: Vec<u8>,
    /// The epoch's shuffle of the training set.
    pub order: Vec<u32>,
    pub step: u32,
    pub stats: [f32; STAT_SLOTS],
    /// Threads for the matrix products and Adam (always 1 in wasm, which has none).
    pub threads: usize,
}

impl CpuMemory {
    /// Zeroed buffers of these lengths, and no training set.
    pub fn new(lengths: impl Iterator<Item = usize>) -> CpuMemory {
        CpuMemory {
            buffers: lengths.map(|len| vec![0.0; len]).collect(),
            images: Vec::new(),
            labels: Vec::new(),
            order: Vec::new(),
            step: 0,
            stats: [0.0; STAT_SLOTS],
            threads: 1,
        }
    }

    /// Moves a buffer out so it can be written while the others are read; the plan
    /// never lets an op read the buffer it writes.
    pub fn take(&mut self, id: BufferId) -> Vec<f32> {
        std::mem::take(&mut self.buffers[id.0])
    }

    pub fn get(&self, id: BufferId) -> &[f32] {
        &self.buffers[id.0]
    }
}

/// What a kernel's op binds on the GPU: the plan's buffers and the trainer's own.
pub struct GpuMemory<'a> {
    pub device: &'a wgpu::Device,
    pub buffers: &'a [wgpu::Buffer],
    /// The training set's images and labels, four bytes a word.
    pub images: &'a wgpu::Buffer,
    pub labels: &'a wgpu::Buffer,
    /// The epoch's shuffle.
    pub order: &'a wgpu::Buffer,
    /// The step counter: `[step, 0, 0, 0]`.
    pub counter: &'a wgpu::Buffer,
    /// The running sums of the losses (`bce::StatSlot`).
    pub stats: &'a wgpu::Buffer,
}

impl GpuMemory<'_> {
    pub fn get(&self, id: BufferId) -> &wgpu::Buffer {
        &self.buffers[id.0]
    }
}

/// The device the pipelines are made for, and which matrix-product entry point
/// suits it for each shape.
pub struct GpuTarget<'a> {
    pub device: &'a wgpu::Device,
    pub matmul: MatmulPolicy,
    pub conv_lower: LowerVariant,
    pub conv_weight: WeightVariant,
}

/// A kernel as the registry lists it, for the tests that check every kernel.
#[derive(Clone, Copy, Debug)]
pub struct KernelInfo {
    pub name: &'static str,
    pub source: &'static str,
    pub bindings: &'static [(&'static str, Access)],
    pub has_params: bool,
}

/// The part of `impl KernelOp` that a kernel of one pipeline (`$pipeline::new`,
/// entry point `main`) would otherwise write out: its name, its module's `SOURCE`,
/// its bindings (`$buffers`'s layout) and whether a params uniform follows them.
/// `declare_kernel!("bce", BceBuffers, Bce, params)`; `no_params` for none.
macro_rules! declare_kernel {
    ($name:literal, $buffers:ident, $pipeline:ident, $params:ident) => {
        const NAME: &'static str = $name;
        const SOURCE: &'static str = SOURCE;
        const BINDINGS: &'static [(&'static str, $crate::kernels::Access)] =
            <$buffers<'static> as $crate::kernels::Bindings>::LAYOUT;
const HAS_PARAMS: bool = $crate::kernels::registry::declare_kernel!(@params $params);
        type Pipelines = $pipeline;

        fn pipelines<'a>(target: &$crate::kernels::GpuTarget, _: impl Iterator<Item = &'a Self>) -> $pipeline {
            $pipeline::new(target.device)
        }
    };
    (@params params) => {
        true
    };
    (@params no_params) => {
        false
    };
}
pub(crate) use declare_kernel;

/// `kernel_registry! { Matmul(matmul::MatmulOp), ... }`: the plan's `Op`, one variant
/// a kernel; `Op`'s methods, each the kernel's own; `Pipelines`, one field a kernel;
/// and `KERNELS`, the list the tests walk.
macro_rules! kernel_registry {
    ($($variant:ident($module:ident::$op:ident)),+ $(,)?) => {
        /// One kernel launch in a plan. The training images and labels, the epoch
        /// order, the step counter and the stats are not in the plan's buffer table:
        /// each backend keeps them in its own form (`CpuMemory`, `GpuMemory`).
        #[derive(Clone, Debug)]
        pub enum Op {
            $($variant($module::$op)),+
        }

        $(impl From<$module::$op> for Op {
            fn from(op: $module::$op) -> Op {
                Op::$variant(op)
            }
        })+

        impl Op {
            /// The kernel and the plan buffers it writes and reads, by binding name,
            /// with `name` giving each buffer's name.
            pub fn describe<'n>(&self, name: impl Fn(BufferId) -> &'n str) -> String {
                let (kernel, bound) = match self {
                    $(Op::$variant(op) => (op.kernel_label(), op.bound())),+
                };
                let names = bound.iter().map(|&(binding, id)| format!(" {binding}={}", name(id)));
                std::iter::once(kernel.to_string()).chain(names).collect()
            }

            pub fn reads(&self) -> Vec<BufferId> {
                match self {
                    $(Op::$variant(op) => op.reads()),+
                }
            }

            pub fn sole_output(&self) -> Option<BufferId> {
                match self {
                    $(Op::$variant(op) => op.sole_output()),+
                }
            }

            pub fn run_cpu(&self, memory: &mut CpuMemory) {
                match self {
                    $(Op::$variant(op) => op.run_cpu(memory)),+
                }
            }

            pub fn write_cpu(&self, memory: &CpuMemory, out: &mut [f32], threads: usize) {
                match self {
                    $(Op::$variant(op) => op.write_cpu(memory, out, threads)),+
                }
            }

            pub fn dispatch(&self, pipelines: &Pipelines, gpu: &GpuMemory, label: &str) -> Dispatch {
                match self {
                    $(Op::$variant(op) => op.dispatch(&pipelines.$module, gpu, label)),+
                }
            }

            pub fn flops(&self) -> f64 {
                match self {
                    $(Op::$variant(op) => op.flops()),+
                }
            }
        }

        /// Every kernel's pipelines on one device, for the ops they will dispatch.
        pub struct Pipelines {
            $($module: <$module::$op as KernelOp>::Pipelines),+
        }

        impl Pipelines {
            pub fn new<'a>(target: &GpuTarget, ops: impl Iterator<Item = &'a Op> + Clone) -> Pipelines {
                Pipelines {
                    $($module: <$module::$op as KernelOp>::pipelines(
                        target,
                        ops.clone().filter_map(|op| match op {
                            Op::$variant(op) => Some(op),
                            #[allow(unreachable_patterns)]
                            _ => None,
                        }),
                    )),+
                }
            }
        }

        /// Every kernel, as the registry lists them.
        pub const KERNELS: &[KernelInfo] = &[$(KernelInfo {
            name: <$module::$op as KernelOp>::NAME,
            source: <$module::$op as KernelOp>::SOURCE,
            bindings: <$module::$op as KernelOp>::BINDINGS,
            has_params: <$module::$op as KernelOp>::HAS_PARAMS,
        }),+];
    };
}
pub(crate) use kernel_registry;

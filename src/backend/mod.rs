//! The backends that run a plan: `cpu` calls each kernel's CPU reference, `gpu`
//! records each op as a compute dispatch; `engine` is either behind one interface.

pub mod cpu;
pub mod engine;
pub mod gpu;

//! What users hand in and take away, each read into the core's own types or written
//! from them: the MNIST files and folders of pictures (`mnist`, `image_folder`,
//! `zip`, `picture_size`, `image_shape`), checkpoints as PyTorch state_dicts
//! (`checkpoint`), arrays (`npy`), share links and the page's form (`settings`),
//! and image grids and animations (`grid`, `animation`). Every parser refuses bad
//! input with an error naming the file and field, never a panic.

pub mod animation;
pub mod checkpoint;
pub mod grid;
#[cfg(not(target_arch = "wasm32"))]
pub mod image_folder;
pub mod image_shape;
pub mod mnist;
pub mod npy;
pub mod picture_size;
pub mod settings;
pub mod zip;

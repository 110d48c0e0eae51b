//! `ganvas sample`: images from a generator state_dict, for a seed or given latents,
//! and for a conditional generator, of a chosen digit or of every digit in turn.

use std::path::PathBuf;

use clap::Args;
use ganvas::formats::checkpoint::network_from_bytes;
use ganvas::formats::npy;
use ganvas::model::{NetworkKind, CLASSES};
use ganvas::quality::sampling::Sampler;
use ganvas::{Error, Result};

use crate::grid;

#[derive(Args)]
pub struct SampleArgs {
    /// A generator .safetensors file (ganvas's or a PyTorch state_dict).
    #[arg(long)]
    checkpoint: PathBuf,
    /// How many images to draw from --seed (ignored with --latents).
    #[arg(long, default_value_t = 64)]
    n: usize,
    /// Seed of the latent vectors; the training seed gives its preview grid.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Latent vectors as a .npy float32 array [N, latent].
    #[arg(long)]
    latents: Option<PathBuf>,
    /// The digit to draw, with a conditional generator; without it, each latent is
    /// drawn as every digit (a grid row per digit, the same latents down a column).
    #[arg(long, value_parser = clap::value_parser!(u8).range(0..=9))]
    label: Option<u8>,
    /// Output: .png for a grid, .npy for a float32 [N, pixels] array in [-1, 1].
    #[arg(long)]
    out: PathBuf,
}

pub fn run(args: SampleArgs) -> Result<()> {
    let read =
        |path: &PathBuf| std::fs::read(path).map_err(|e| Error::new(format!("cannot read {}: {e}", path.display())));
    let bytes = read(&args.checkpoint)?;
    let loaded = network_from_bytes(&bytes, NetworkKind::Generator)
        .map_err(|e| Error::new(format!("{}: {e}", args.checkpoint.display())))?;
    let sampler = Sampler::new(&loaded);
    let latent = sampler.latent;
    let latents = match &args.latents {
        Some(path) => {
            let (rows, cols, values) =
                npy::from_bytes(&read(path)?).map_err(|e| Error::new(format!("{}: {e}", path.display())))?;
            if cols != latent {
                return Err(Error::new(format!(
                    "{} has {cols} columns but the generator takes {latent}",
                    path.display()
                )));
            }
            if rows == 0 {
                return Err(Error::new(format!("{} holds no latent vectors", path.display())));
            }
            values
        }
        None => {
            if args.n == 0 {
                return Err(Error::new("--n must be at least 1"));
            }
            sampler.latents(args.n, args.seed)
        }
    };
    let n = latents.len() / latent;
    let (latents, digits, columns) = match (sampler.conditional, args.label) {
        (true, None) => {
            let every: Vec<f32> = (0..CLASSES).flat_map(|_| latents.iter().copied()).collect();
            let digits = (0..CLASSES * n).map(|i| i / n).collect();
            (every, Some(digits), Some(n))
        }
        (_, label) => (latents, label.map(|k| vec![usize::from(k); n]), None),
    };
    let images = sampler
        .images(&latents, digits.as_deref())
        .map_err(|e| Error::new(format!("{}: {e}", args.checkpoint.display())))?;
    let pixels = loaded.network.outputs();
    match args.out.extension().and_then(|e| e.to_str()) {
        Some("png") => grid::write_png(&args.out, &images, pixels, columns)?,
        Some("npy") => std::fs::write(&args.out, npy::to_bytes(images.len() / pixels, pixels, &images))
            .map_err(|e| Error::new(format!("cannot write {}: {e}", args.out.display())))?,
        _ => return Err(Error::new("--out must end in .png or .npy")),
    }
    eprintln!("wrote {} images to {}", images.len() / pixels, args.out.display());
    Ok(())
}

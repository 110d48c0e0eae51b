//! `ganvas eval`: the digit census and quality scores of a generator's samples (or
//! of images in a .npy), read by a classifier from `ganvas classifier train`.

use std::path::PathBuf;

use clap::Args;
use ganvas::checkpoint::{classifier_from_bytes, network_from_bytes};
use ganvas::model::NetworkKind;
use ganvas::quality::{images_from_npy, Reader};
use ganvas::rng::{self, Stream};
use ganvas::{cpu, Error, Result};

#[derive(Args)]
pub struct EvalArgs {
    /// A generator .safetensors file (ganvas's or a PyTorch state_dict) to sample from.
    #[arg(long, conflicts_with = "images", required_unless_present = "images")]
    checkpoint: Option<PathBuf>,
    /// Images instead: a float32 .npy [N, 784] in [-1, 1], as `ganvas sample` writes.
    #[arg(long)]
    images: Option<PathBuf>,
    /// The classifier that reads them [default: data/classifier.safetensors, the one
    /// that ships; `ganvas classifier train` makes others].
    #[arg(long)]
    classifier: Option<PathBuf>,
    /// Samples to draw from the generator.
    #[arg(long, default_value_t = 10_000)]
    n: usize,
    /// Seed of their latent vectors.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Also write the results here as JSON.
    #[arg(long)]
    json: Option<PathBuf>,
}

/// An error about the file at `path`, saying so.
fn in_file(path: &std::path::Path) -> impl Fn(Error) -> Error + '_ {
    move |e| Error::new(format!("{}: {e}", path.display()))
}

fn read(path: &PathBuf) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::new(format!("cannot read {}: {e}", path.display())))
}

pub fn run(args: EvalArgs) -> Result<()> {
    let classifier_path = args.classifier.clone().unwrap_or_else(crate::default_classifier);
    let classifier = classifier_from_bytes(&read(&classifier_path)?).map_err(in_file(&classifier_path))?;
    let reader = Reader::new(classifier).map_err(in_file(&classifier_path))?;
    let pixels = reader.pixels();
    let images = match (&args.checkpoint, &args.images) {
        (Some(path), _) => {
            let g = network_from_bytes(&read(path)?, NetworkKind::Generator).map_err(in_file(path))?;
            if g.network.outputs() != pixels {
                return Err(Error::new(format!(
                    "{} makes images of {} pixels; the classifier reads {pixels}",
                    path.display(),
                    g.network.outputs(),
                )));
            }
            if args.n < 2 {
                return Err(Error::new("--n must be at least 2"));
            }
            let mut z = vec![0.0; args.n * g.network.inputs()];
            rng::normals(args.seed, Stream::Sample, 0, &mut z);
            cpu::run_network(&g.network, &g.params, &z)
        }
        (None, Some(path)) => images_from_npy(&read(path)?, pixels).map_err(in_file(path))?,
        (None, None) => return Err(Error::new("give --checkpoint or --images")),
    };
    let quality = reader.score(&images)?;
    let fractions: Vec<String> = quality.class_fractions.iter().map(|f| format!("{f:.3}")).collect();
    println!("n: {}", quality.n);
    println!("class fractions (0-9): {}", fractions.join(" "));
    println!("classifier score: {:.3}", quality.classifier_score);
    println!("mean confidence: {:.3}", quality.mean_confidence);
    println!(
        "Fréchet distance to the MNIST test set: {:.3}",
        quality.frechet_distance
    );
    if let Some(path) = &args.json {
        let json = serde_json::to_string_pretty(&quality).map_err(|e| Error::new(e.to_string()))?;
        std::fs::write(path, json).map_err(|e| Error::new(format!("cannot write {}: {e}", path.display())))?;
    }
    Ok(())
}

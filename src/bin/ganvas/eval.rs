//! `ganvas eval`: the digit census and quality scores of a generator's samples (or
//! of images in a .npy), read by a classifier from `ganvas classifier train`.

use std::path::PathBuf;

use clap::Args;
use ganvas::formats::checkpoint::network_from_bytes;
use ganvas::model::{NetworkKind, DCGAN_MNIST_SIDE, MNIST_SIDE};
use ganvas::plan::every_digit;
use ganvas::quality::classifier::classifier_from_bytes;
use ganvas::quality::sampling::Sampler;
use ganvas::quality::{centre_crop, images_from_npy, Reader};
use ganvas::{Error, Result};
use serde::Serialize;

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
    /// With a conditional generator: draw every sample as this digit, and report the
    /// share read as it [default: the digits 0-9 in turn].
    #[arg(long, value_parser = clap::value_parser!(u8).range(0..=9))]
    label: Option<u8>,
}

#[derive(Serialize)]
struct LabelShare {
    label: u8,
    /// The share of the samples that the classifier reads as `label`.
    read_as_label: f64,
}

#[derive(Serialize)]
struct Report {
    #[serde(flatten)]
    quality: ganvas::quality::Quality,
    #[serde(flatten)]
    asked: Option<LabelShare>,
}

/// The side of G's images when they are MNIST as the DCGAN draws it (32×32, the
/// digits in the centre 28×28) and the classifier reads MNIST's 28×28.
fn padded_side(values: usize, pixels: usize) -> Option<usize> {
    let side = DCGAN_MNIST_SIDE;
    (pixels == MNIST_SIDE * MNIST_SIDE && values == side * side).then_some(side)
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
            let side = padded_side(g.network.outputs(), pixels);
            if g.network.outputs() != pixels && side.is_none() {
                return Err(Error::new(format!(
                    "{} makes images of {} pixels; the classifier reads {pixels}",
                    path.display(),
                    g.network.outputs(),
                )));
            }
            if args.n < 2 {
                return Err(Error::new("--n must be at least 2"));
            }
            let sampler = Sampler::new(&g);
            let digits = match (sampler.conditional, args.label) {
                (true, None) => Some(every_digit(args.n)),
                (_, label) => label.map(|k| vec![usize::from(k); args.n]),
            };
            let latents = sampler.latents(args.n, args.seed);
            let images = sampler.images(&latents, digits.as_deref()).map_err(in_file(path))?;
            match side {
                Some(side) => centre_crop(&images, side, MNIST_SIDE),
                None => images,
            }
        }
        (None, Some(path)) if args.label.is_none() => images_from_npy(&read(path)?, pixels).map_err(in_file(path))?,
        (None, Some(_)) => {
            return Err(Error::new(
                "--label asks a conditional generator (--checkpoint) for a digit",
            ))
        }
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
    let asked = args.label.map(|k| LabelShare {
        label: k,
        read_as_label: quality.class_fractions[usize::from(k)],
    });
    if let Some(a) = &asked {
        println!("read as the digit asked for ({}): {:.3}", a.label, a.read_as_label);
    }
    if let Some(path) = &args.json {
        let report = Report { quality, asked };
        let json = serde_json::to_string_pretty(&report).map_err(|e| Error::new(e.to_string()))?;
        std::fs::write(path, json).map_err(|e| Error::new(format!("cannot write {}: {e}", path.display())))?;
    }
    Ok(())
}

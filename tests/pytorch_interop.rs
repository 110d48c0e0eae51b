//! A generator trained in PyTorch (tests/fixtures, made by make_pytorch_generator.py)
//! loads here and gives PyTorch's images for the same latent vectors.

mod common;

use ganvas::backend::cpu;
use ganvas::formats::checkpoint::network_from_bytes;
use ganvas::formats::npy;
use ganvas::model::NetworkKind;

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

#[test]
fn a_pytorch_generator_gives_pytorchs_images() {
    let loaded = network_from_bytes(&fixture("pytorch_generator.safetensors"), NetworkKind::Generator).unwrap();
    assert_eq!(loaded.network.widths(), vec![8, 16, 32, 64, 784]);
    let (rows, cols, z) = npy::from_bytes(&fixture("pytorch_latents.npy")).unwrap();
    assert_eq!((rows, cols), (5, 8));
    let (_, _, want) = npy::from_bytes(&fixture("pytorch_images.npy")).unwrap();
    let got = cpu::run_network(&loaded.network, &loaded.params, &loaded.statistics, &z);
    // Both compute in f32; the products sum in different orders.
    let diff = common::max_abs_diff(&got, &want);
    assert!(diff < 1e-5, "max |ganvas - pytorch| = {diff}");
    // The fixture is not a flat image: the comparison has something to compare.
    assert!(want.iter().any(|&v| v > 0.5) && want.iter().any(|&v| v < -0.5));
}

/// The shipped classifier loads into the PyTorch module README documents
/// (`load_state_dict`, strict, by make_pytorch_classifier.py) and PyTorch computes
/// the same logits and features with it as ganvas does here.
#[test]
fn the_classifier_reads_as_in_pytorch() {
    let bytes = std::fs::read(format!("{}/data/classifier.safetensors", env!("CARGO_MANIFEST_DIR"))).unwrap();
    let loaded = ganvas::quality::classifier::classifier_from_bytes(&bytes).unwrap();
    let test = ganvas::formats::mnist::Dataset::load_test_set(std::path::Path::new("data/mnist")).unwrap();
    let images = &test.inputs()[..16 * 784];
    let features_network = loaded.network.features().unwrap();
    for (name, network) in [("logits", &loaded.network), ("features", &features_network)] {
        let (rows, cols, want) = npy::from_bytes(&fixture(&format!("pytorch_classifier_{name}.npy"))).unwrap();
        assert_eq!((rows, cols), (16, network.outputs()));
        let got = cpu::run_network(network, &loaded.params, &[], images);
        // f32 sums of 784 and 512 terms in different orders: measured 7.6e-6 apart.
        let diff = common::max_abs_diff(&got, &want);
        eprintln!("{name}: max |ganvas - pytorch| = {diff:e}");
        assert!(
            diff < 1e-4,
            "{name}: max |ganvas - pytorch| = {diff} (after retraining data/classifier.safetensors, run tests/fixtures/make_pytorch_classifier.py)"
        );
    }
}

/// A conditional generator made in PyTorch (README's module: the one-hot label after
/// the latents) is recognised as conditional here and gives PyTorch's images for
/// the same latents and digits.
#[test]
fn a_pytorch_conditional_generator_gives_pytorchs_images() {
    let loaded = network_from_bytes(
        &fixture("pytorch_conditional_generator.safetensors"),
        NetworkKind::Generator,
    )
    .unwrap();
    let sampler = ganvas::quality::sampling::Sampler::new(&loaded);
    assert!(sampler.conditional && sampler.latent == 100);
    let (_, _, z) = npy::from_bytes(&fixture("pytorch_conditional_latents.npy")).unwrap();
    let (_, _, digits) = npy::from_bytes(&fixture("pytorch_conditional_digits.npy")).unwrap();
    let digits: Vec<usize> = digits.iter().map(|&d| d as usize).collect();
    let (_, _, want) = npy::from_bytes(&fixture("pytorch_conditional_images.npy")).unwrap();
    let got = sampler.images(&z, Some(&digits)).unwrap();
    let diff = common::max_abs_diff(&got, &want);
    eprintln!("max |ganvas - pytorch| = {diff:e}");
    assert!(diff < 1e-5, "max |ganvas - pytorch| = {diff}");
    // The label matters: the same latents as another digit give other images.
    let other: Vec<usize> = digits.iter().map(|d| (d + 1) % 10).collect();
    assert!(common::max_abs_diff(&sampler.images(&z, Some(&other)).unwrap(), &want) > 0.1);
}

//! A generator trained in PyTorch (tests/fixtures, made by make_pytorch_generator.py)
//! loads here and gives PyTorch's images for the same latent vectors.

mod common;

use ganvas::checkpoint::network_from_bytes;
use ganvas::model::NetworkKind;
use ganvas::{cpu, npy};

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
    let got = cpu::run_network(&loaded.network, &loaded.params, &z);
    // Both compute in f32; the products sum in different orders.
    let diff = common::max_abs_diff(&got, &want);
    assert!(diff < 1e-5, "max |ganvas - pytorch| = {diff}");
    // The fixture is not a flat image: the comparison has something to compare.
    assert!(want.iter().any(|&v| v > 0.5) && want.iter().any(|&v| v < -0.5));
}

//! Checkpoints: PyTorch state_dict names and shapes, exact resume, and clear errors
//! for files that are wrong, truncated or mismatched.

mod common;

use std::collections::HashMap;

use ganvas::backend::cpu::CpuTrainer;
use ganvas::formats::checkpoint::{network_from_bytes, network_to_bytes, state_from_bytes, state_to_bytes};
use ganvas::model::state::TrainingState;
use ganvas::model::{NetworkKind, TrainConfig};
use ganvas::plan::Plan;
use ganvas::quality::classifier;
use safetensors::tensor::{Dtype, TensorView};

fn small_config() -> TrainConfig {
    TrainConfig {
        latent: 6,
        generator_hidden: vec![9, 17],
        discriminator_hidden: vec![13],
        batch: 4,
        seed: 3,
        ..Default::default()
    }
}

#[test]
fn files_hold_the_pytorch_state_dict() {
    let config = TrainConfig::default();
    let g = config.generator(784);
    let params = g.initial_parameters(1);
    let bytes = network_to_bytes(&g, &params, &[]).unwrap();
    let file = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut names: Vec<(String, Vec<usize>)> = file
        .tensors()
        .into_iter()
        .map(|(n, v)| (n, v.shape().to_vec()))
        .collect();
    names.sort();
    let want = [
        ("model.0.bias", vec![256]),
        ("model.0.weight", vec![256, 100]),
        ("model.2.bias", vec![512]),
        ("model.2.weight", vec![512, 256]),
        ("model.4.bias", vec![1024]),
        ("model.4.weight", vec![1024, 512]),
        ("model.6.bias", vec![784]),
        ("model.6.weight", vec![784, 1024]),
    ];
    assert_eq!(names, want.map(|(n, s)| (n.to_string(), s)).to_vec());
    let loaded = network_from_bytes(&bytes, NetworkKind::Generator).unwrap();
    assert_eq!(loaded.network, g);
    assert_eq!(loaded.params, params);

    let d = config.discriminator(784);
    let bytes = network_to_bytes(&d, &d.initial_parameters(1), &[]).unwrap();
    let loaded = network_from_bytes(&bytes, NetworkKind::Discriminator).unwrap();
    assert_eq!(loaded.network.widths(), vec![784, 512, 256, 1]);
}

#[test]
fn resuming_from_a_checkpoint_continues_exactly() {
    let data = common::synthetic_dataset(19, 4, 5, 2);
    let config = small_config();
    let plan = Plan::training(&config, 20, data.count).unwrap();
    let initial = TrainingState::initial(&config, 20);
    // 4 steps an epoch: the run crosses two epoch boundaries, one right at the save.
    let mut straight = CpuTrainer::new(plan.clone(), &data, &initial);
    straight.train(10);

    let mut first = CpuTrainer::new(plan.clone(), &data, &initial);
    first.train(4);
    let [g, d, o] = state_to_bytes(&first.state(), 20).unwrap();
    let restored = state_from_bytes(&g, &d, &o).unwrap();
    assert_eq!(restored, first.state());
    let mut second = CpuTrainer::new(plan, &data, &restored);
    second.train(6);
    assert_eq!(second.state(), straight.state());
}

#[test]
fn gpu_resume_matches_an_uninterrupted_gpu_run() {
    let Some(gpu) = common::gpu() else { return };
    let data = common::synthetic_dataset(19, 4, 5, 2);
    let config = small_config();
    let plan = Plan::training(&config, 20, data.count).unwrap();
    let initial = TrainingState::initial(&config, 20);
    let run = |state: &TrainingState, steps: u32| {
        let mut t =
            pollster::block_on(ganvas::backend::gpu::GpuTrainer::new(&gpu, plan.clone(), &data, state)).unwrap();
        t.train(steps);
        pollster::block_on(t.read_state()).unwrap()
    };
    let straight = run(&initial, 7);
    let halfway = run(&initial, 3);
    let [g, d, o] = state_to_bytes(&halfway, 20).unwrap();
    let resumed = run(&state_from_bytes(&g, &d, &o).unwrap(), 4);
    assert_eq!(resumed, straight);
}

fn file_with(tensors: Vec<(&str, Dtype, Vec<usize>, Vec<u8>)>) -> Vec<u8> {
    let views: Vec<(String, TensorView)> = tensors
        .iter()
        .map(|(n, dt, shape, data)| (n.to_string(), TensorView::new(*dt, shape.clone(), data).unwrap()))
        .collect();
    safetensors::serialize(views, None::<HashMap<String, String>>).unwrap()
}

fn f32_bytes(n: usize) -> Vec<u8> {
    vec![0u8; 4 * n]
}

#[test]
fn wrong_files_get_clear_errors() {
    let err = |bytes: &[u8], kind| network_from_bytes(bytes, kind).unwrap_err().message;
    let good = |extra: Vec<(&'static str, Dtype, Vec<usize>, Vec<u8>)>| {
        let mut t = vec![
            ("model.0.weight", Dtype::F32, vec![3, 2], f32_bytes(6)),
            ("model.0.bias", Dtype::F32, vec![3], f32_bytes(3)),
            ("model.2.weight", Dtype::F32, vec![1, 3], f32_bytes(3)),
            ("model.2.bias", Dtype::F32, vec![1], f32_bytes(1)),
        ];
        t.extend(extra);
        t
    };
    assert!(network_from_bytes(&file_with(good(vec![])), NetworkKind::Discriminator).is_ok());

    let e = err(b"not a safetensors file at all", NetworkKind::Generator);
    assert!(e.contains("not a valid safetensors"), "{e}");
    let full = file_with(good(vec![]));
    let e = err(&full[..full.len() - 3], NetworkKind::Discriminator);
    assert!(e.contains("not a valid safetensors"), "{e}");

    let e = err(
        &file_with(good(vec![("model.5.weight", Dtype::F32, vec![1], f32_bytes(1))])),
        NetworkKind::Discriminator,
    );
    assert!(e.contains("unexpected tensor model.5.weight"), "{e}");

    let mut renamed = good(vec![]);
    renamed[1].0 = "model.0.b";
    let e = err(&file_with(renamed), NetworkKind::Discriminator);
    assert!(e.contains("model.0.bias") || e.contains("model.0.b"), "{e}");

    let mut bad_shape = good(vec![]);
    bad_shape[2] = ("model.2.weight", Dtype::F32, vec![1, 4], f32_bytes(4));
    let e = err(&file_with(bad_shape), NetworkKind::Discriminator);
    assert!(e.contains("takes 4 inputs"), "{e}");

    let mut bad_bias = good(vec![]);
    bad_bias[1] = ("model.0.bias", Dtype::F32, vec![4], f32_bytes(4));
    let e = err(&file_with(bad_bias), NetworkKind::Discriminator);
    assert!(e.contains("shape [4], expected [3]"), "{e}");

    let mut f64_weights = good(vec![]);
    f64_weights[0] = ("model.0.weight", Dtype::F64, vec![3, 2], vec![0; 48]);
    let e = err(&file_with(f64_weights), NetworkKind::Discriminator);
    assert!(e.contains("float32"), "{e}");

    let mut two_outputs = good(vec![]);
    two_outputs[2] = ("model.2.weight", Dtype::F32, vec![2, 3], f32_bytes(6));
    two_outputs[3] = ("model.2.bias", Dtype::F32, vec![2], f32_bytes(2));
    let e = err(&file_with(two_outputs), NetworkKind::Discriminator);
    assert!(e.contains("expected 1"), "{e}");

    let e = err(
        &file_with(vec![("weight", Dtype::F32, vec![1], f32_bytes(1))]),
        NetworkKind::Generator,
    );
    assert!(e.contains("no model.0.weight"), "{e}");
}

#[test]
fn mismatched_checkpoint_files_are_refused() {
    let config = small_config();
    let state = TrainingState::initial(&config, 20);
    let [g, d, o] = state_to_bytes(&state, 20).unwrap();
    // The generator file of a network of another size.
    let other = TrainConfig {
        generator_hidden: vec![9, 18],
        ..config.clone()
    };
    let g_other = network_to_bytes(&other.generator(20), &other.generator(20).initial_parameters(0), &[]).unwrap();
    let e = state_from_bytes(&g_other, &d, &o).unwrap_err().message;
    assert!(e.contains("generator_hidden") && e.contains("[6, 9, 18, 20]"), "{e}");
    // A weight file where the optimizer file should be.
    let e = state_from_bytes(&g, &d, &d).unwrap_err().message;
    assert!(e.contains("not written by ganvas"), "{e}");
    let e = state_from_bytes(&g, &d, &o[..o.len() / 2]).unwrap_err().message;
    assert!(e.contains("not a valid safetensors"), "{e}");
}

/// A classifier file holds the state_dict and its features' reference Gaussian; it
/// reads back to the same values (the reference as f32), and a plain state_dict
/// without the reference is refused, saying what writes one.
#[test]
fn classifier_files_carry_their_reference() {
    use ganvas::model::{Network, NetworkKind};
    use ganvas::quality::frechet::Gaussian;
    let network = Network::from_widths(NetworkKind::Classifier, &[12, 7, 2, 10]);
    let params = network.initial_parameters(4);
    let reference = Gaussian {
        dim: 2,
        mean: vec![0.25, -3.0],
        covariance: vec![1.5, 0.25, 0.25, 0.75],
    };
    use ganvas::formats::checkpoint;
    let bytes = classifier::classifier_to_bytes(&network, &params, &reference).unwrap();
    let loaded = classifier::classifier_from_bytes(&bytes).unwrap();
    assert_eq!(loaded.network, network);
    assert_eq!(loaded.params, params);
    assert_eq!(loaded.reference, reference);
    let plain = checkpoint::network_to_bytes(&network, &params, &[]).unwrap();
    let e = classifier::classifier_from_bytes(&plain).unwrap_err().message;
    assert!(
        e.contains("lacks reference.mean") && e.contains("classifier train"),
        "{e}"
    );
    let no_hidden = Network::from_widths(NetworkKind::Classifier, &[12, 10]);
    let bytes = checkpoint::network_to_bytes(&no_hidden, &no_hidden.initial_parameters(1), &[]).unwrap();
    assert!(classifier::classifier_from_bytes(&bytes)
        .unwrap_err()
        .message
        .contains("no hidden layer"));
}

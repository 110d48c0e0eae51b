//! Everything a user can hand ganvas, mutated: checkpoints, .npy arrays, MNIST IDX
//! files (raw and gzipped), share links and the page's settings JSON. Each mutated
//! input must be either refused with an error that names the file (and, where a
//! metadata field was rewritten, that field) or loaded into something that trains:
//! no parser and no trainer built from what it returns may panic. The wasm-facing
//! entry points are `ganvas::web`'s, called natively here.

mod common;

use ganvas::backend::cpu::CpuThreads;
use ganvas::backend::engine::{Backend, Engine};
use ganvas::formats::checkpoint::{self, state_to_bytes};
use ganvas::formats::image_folder;
use ganvas::formats::image_shape::ImageShape;
use ganvas::formats::mnist::Dataset;
use ganvas::formats::{npy, settings};
use ganvas::model::state::TrainingState;
use ganvas::model::TrainConfig;
use ganvas::web;
use proptest::prelude::*;
use serde_json::{json, Value};

/// Images of 2×3 pixels: small enough that every loaded state trains a step at once.
const PIXELS: usize = 6;

fn small_config() -> TrainConfig {
    TrainConfig {
        latent: 3,
        generator_hidden: vec![4],
        discriminator_hidden: vec![5],
        batch: 4,
        seed: 1,
        ..Default::default()
    }
}

fn dataset() -> Dataset {
    common::synthetic_dataset(10, 3, 2, 5)
}

/// Trains one step on the CPU from `state`, and reads the result back: what a user
/// would do next with whatever a loader accepted.
fn train_one_step(data: &Dataset, state: &TrainingState) -> Result<(), String> {
    let (mut engine, _) = pollster::block_on(Engine::create(Backend::Cpu, CpuThreads::new(1), data, state, None))
        .map_err(|e| e.message)?;
    engine.train(1);
    engine.request_stats();
    let _ = engine.poll_stats();
    let preview = engine.start_preview(None).map_err(|e| e.message)?;
    pollster::block_on(preview.finish()).map_err(|e| e.message)?;
    pollster::block_on(engine.start_state_read().finish()).map_err(|e| e.message)?;
    Ok(())
}

/// Values a crafted file might put where a number belongs.
fn bad_value() -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        Just(Some(json!(0))),
        Just(Some(json!(-1))),
        Just(Some(json!(1e30))),
        Just(Some(json!(u64::MAX))),
        Just(Some(json!(4_294_967_296u64))),
        Just(Some(json!(0.5))),
        Just(Some(json!("NaN"))),
        Just(Some(json!("abc"))),
        Just(Some(json!(true))),
        Just(Some(json!([]))),
        Just(Some(json!([0]))),
        Just(Some(json!([1_000_000_000u64]))),
        Just(Some(Value::Null)),
        Just(None),
    ]
}

/// A value in the form a safetensors metadata entry has: a string.
fn as_metadata_string(value: &Value) -> Value {
    match value {
        Value::String(_) => value.clone(),
        other => Value::String(other.to_string()),
    }
}

/// A safetensors file as its JSON header and its data.
fn split_safetensors(bytes: &[u8]) -> (serde_json::Map<String, Value>, Vec<u8>) {
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    (header, bytes[8 + n..].to_vec())
}

fn join_safetensors(header: &serde_json::Map<String, Value>, data: &[u8]) -> Vec<u8> {
    let text = serde_json::to_vec(header).unwrap();
    let mut out = (text.len() as u64).to_le_bytes().to_vec();
    out.extend(text);
    out.extend(data);
    out
}

/// One change to one of the three checkpoint files.
#[derive(Clone, Debug)]
enum Mutation {
    Truncate {
        file: usize,
        keep: f64,
    },
    Flip {
        file: usize,
        at: f64,
        mask: u8,
    },
    /// A field of the optimizer file's config, rewritten (or removed: `None`).
    Config {
        field: &'static str,
        value: Option<Value>,
    },
    /// The optimizer file's step.
    Step {
        value: Option<Value>,
    },
    /// A field of a tensor's header entry: dtype, shape or data_offsets.
    Tensor {
        file: usize,
        entry: f64,
        field: &'static str,
        value: Option<Value>,
    },
}

const FILES: [&str; 3] = ["generator", "discriminator", "optimizer"];
const CONFIG_FIELDS: [&str; 11] = [
    "latent",
    "generator_hidden",
    "discriminator_hidden",
    "batch",
    "generator_lr",
    "discriminator_lr",
    "beta1",
    "beta2",
    "eps",
    "seed",
    "conditional",
];

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (0..3usize, 0.0..1.0f64).prop_map(|(file, keep)| Mutation::Truncate { file, keep }),
        (0..3usize, 0.0..1.0f64, 1..=255u8).prop_map(|(file, at, mask)| Mutation::Flip { file, at, mask }),
        (prop::sample::select(&CONFIG_FIELDS[..]), bad_value())
            .prop_map(|(field, value)| Mutation::Config { field, value }),
        bad_value().prop_map(|value| Mutation::Step { value }),
        (
            0..3usize,
            0.0..1.0f64,
            prop::sample::select(&["dtype", "shape", "data_offsets"][..]),
            bad_value()
        )
            .prop_map(|(file, entry, field, value)| Mutation::Tensor {
                file,
                entry,
                field,
                value
            }),
    ]
}

fn apply(files: &mut [Vec<u8>; 3], mutation: &Mutation) {
    let at = |len: usize, f: f64| ((len as f64 * f) as usize).min(len.saturating_sub(1));
    match mutation {
        Mutation::Truncate { file, keep } => {
            let len = at(files[*file].len(), *keep);
            files[*file].truncate(len);
        }
        Mutation::Flip { file, at: f, mask } => {
            let i = at(files[*file].len(), *f);
            files[*file][i] ^= mask;
        }
        Mutation::Config { field, value } => {
            let (mut header, data) = split_safetensors(&files[2]);
            let metadata = header["__metadata__"].as_object_mut().unwrap();
            let mut config: serde_json::Map<String, Value> =
                serde_json::from_str(metadata["config"].as_str().unwrap()).unwrap();
            match value {
                Some(v) => config.insert(field.to_string(), v.clone()),
                None => config.remove(*field),
            };
            metadata.insert("config".into(), Value::String(Value::Object(config).to_string()));
            files[2] = join_safetensors(&header, &data);
        }
        Mutation::Step { value } => {
            let (mut header, data) = split_safetensors(&files[2]);
            let metadata = header["__metadata__"].as_object_mut().unwrap();
            match value {
                Some(v) => metadata.insert("step".into(), as_metadata_string(v)),
                None => metadata.remove("step"),
            };
            files[2] = join_safetensors(&header, &data);
        }
        Mutation::Tensor {
            file,
            entry,
            field,
            value,
        } => {
            let (mut header, data) = split_safetensors(&files[*file]);
            let mut names: Vec<String> = header.keys().filter(|k| *k != "__metadata__").cloned().collect();
            names.sort();
            let name = &names[at(names.len(), *entry)];
            let tensor = header[name].as_object_mut().unwrap();
            match value {
                Some(v) => tensor.insert(field.to_string(), v.clone()),
                None => tensor.remove(*field),
            };
            files[*file] = join_safetensors(&header, &data);
        }
    }
}

/// A classifier of the test's images, widths [6, 5, 3, 10], with a reference of 3
/// features, as `ganvas classifier train` writes one.
fn valid_classifier() -> Vec<u8> {
    let network = ganvas::model::Network::from_widths(ganvas::model::NetworkKind::Classifier, &[PIXELS, 5, 3, 10]);
    let params = network.initial_parameters(2);
    let reference = ganvas::quality::frechet::Gaussian {
        dim: 3,
        mean: vec![0.5, 0.0, -1.0],
        covariance: vec![2.0, 0.5, 0.0, 0.5, 1.0, 0.0, 0.0, 0.0, 3.0],
    };
    ganvas::quality::classifier::classifier_to_bytes(&network, &params, &reference).unwrap()
}

fn valid_checkpoint() -> [Vec<u8>; 3] {
    let mut state = TrainingState::initial(&small_config(), PIXELS);
    state.step = 7;
    state_to_bytes(&state, PIXELS).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    /// The batch-0 config that crashed `--resume` is one of these mutations.
    #[test]
    fn mutated_checkpoints_load_and_train_or_are_refused(m in mutation()) {
        let data = dataset();
        let mut files = valid_checkpoint();
        apply(&mut files, &m);
        match checkpoint::state_from_bytes(&files[0], &files[1], &files[2]) {
            Ok(state) => {
                if let Err(e) = train_one_step(&data, &state) {
                    // Refused when the run starts: only the batch against the data can be.
                    prop_assert!(e.contains("batch") || e.contains("state"), "{m:?}: {e}");
                }
            }
            Err(e) => {
                let e = e.message;
                let file = match &m {
                    Mutation::Truncate { file, .. } | Mutation::Flip { file, .. } | Mutation::Tensor { file, .. } => *file,
                    Mutation::Config { .. } | Mutation::Step { .. } => 2,
                };
                prop_assert!(e.contains(FILES[file]), "{m:?}: {e}");
                match &m {
                    Mutation::Config { field, .. } => prop_assert!(e.contains(field), "{m:?}: {e}"),
                    Mutation::Step { .. } => prop_assert!(e.contains("step"), "{m:?}: {e}"),
                    _ => {}
                }
            }
        }
    }

    /// The page's classifier file: refused, naming it, or read into a census that
    /// scores (the census of 8 samples of a fresh small GAN, on the CPU).
    #[test]
    fn mutated_classifier_files_are_refused_or_score_a_census(m in mutation()) {
        let mut files = [valid_classifier(), Vec::new(), Vec::new()];
        let m = match m {
            Mutation::Truncate { keep, .. } => Mutation::Truncate { file: 0, keep },
            Mutation::Flip { at, mask, .. } => Mutation::Flip { file: 0, at, mask },
            Mutation::Tensor { entry, field, value, .. } => Mutation::Tensor { file: 0, entry, field, value },
            Mutation::Config { .. } | Mutation::Step { .. } => Mutation::Truncate { file: 0, keep: 0.5 },
        };
        apply(&mut files, &m);
        match web::classifier(&files[0]) {
            Ok(reader) => {
                let data = dataset();
                let state = TrainingState::initial(&small_config(), PIXELS);
                let census = Some(reader.census(8));
                let made = pollster::block_on(Engine::create(Backend::Cpu, CpuThreads::new(1), &data, &state, census));
                match made {
                    Ok((mut engine, _)) => {
                        let readings = pollster::block_on(engine.start_census().unwrap().finish()).unwrap();
                        prop_assert!(reader.score_census(&readings).is_ok(), "{m:?}");
                    }
                    // A flipped shape can leave a classifier of other images.
                    Err(e) => prop_assert!(e.message.contains("census"), "{m:?}: {}", e.message),
                }
            }
            Err(e) => prop_assert!(e.message.contains("classifier"), "{m:?}: {}", e.message),
        }
    }

    /// The page loads the same files through `web::checkpoint`, alone or with the
    /// settings it starts a run with.
    #[test]
    fn the_pages_checkpoint_loader_refuses_or_trains(
        m in mutation(),
        with_optimizer in any::<bool>(),
        settings in settings_json(),
    ) {
        let data = dataset();
        let mut files = valid_checkpoint();
        apply(&mut files, &m);
        let optimizer = with_optimizer.then_some(files[2].as_slice());
        match web::checkpoint(&files[0], Some(&files[1]), optimizer, &settings) {
            Ok(state) => {
                let state = web::start_state(&data, &settings, Some(state)).unwrap();
                let _ = train_one_step(&data, &state);
            }
            Err(e) => prop_assert!(FILES.iter().any(|f| e.message.contains(f)) || e.message.contains("settings"), "{e}"),
        }
    }

    #[test]
    fn the_pages_settings_json_starts_a_run_or_names_the_field(settings in settings_json()) {
        let data = dataset();
        match web::start_state(&data, &settings, None) {
            Ok(state) => train_one_step(&data, &state).map_err(TestCaseError::fail)?,
            Err(e) => prop_assert!(e.message.starts_with("the settings"), "{e}"),
        }
    }

    #[test]
    fn mutated_npy_files_parse_or_are_refused(
        rows in 0..4usize,
        cols in 0..4usize,
        edit in 0..3usize,
        at in 0.0..1.0f64,
        mask in 1..=255u8,
        header in prop::sample::select(&["'descr': '<f8'", "'shape': (-1, 2)", "'shape': (99999999999, 99999999999)",
            "'shape': ()", "'shape': (2,)", "'fortran_order': True", "'shape': (a, b)", "'shape': (4294967296, 0)"][..]),
    ) {
        let values: Vec<f32> = (0..rows * cols).map(|i| i as f32).collect();
        let mut bytes = npy::to_bytes(rows, cols, &values);
        let i = ((bytes.len() as f64 * at) as usize).min(bytes.len() - 1);
        match edit {
            0 => bytes.truncate(i),
            1 => bytes[i] ^= mask,
            _ => {
                let text = String::from_utf8_lossy(&bytes[10..]).into_owned();
                let text = text
                    .replace(&format!("'shape': ({rows}, {cols})"), header)
                    .replace("'descr': '<f4'", if header.starts_with("'descr'") { header } else { "'descr': '<f4'" });
                bytes.truncate(10);
                bytes.extend(text.as_bytes());
            }
        }
        if let Ok((r, c, v)) = npy::from_bytes(&bytes) {
            prop_assert_eq!(r * c, v.len());
        }
        // `ganvas eval --images` reads the same files, and also wants pixels in [-1, 1].
        match ganvas::quality::images_from_npy(&bytes, cols.max(1)) {
            Ok(images) => prop_assert!(images.iter().all(|v| (-1.0..=1.0).contains(v))),
            Err(e) => prop_assert!(!e.message.is_empty()),
        }
    }

    #[test]
    fn mutated_mnist_files_load_and_train_or_are_refused(
        gzip in any::<bool>(),
        which in 0..2usize,
        edit in 0..3usize,
        at in 0.0..1.0f64,
        mask in 1..=255u8,
        dim in 0..4usize,
        size in prop::sample::select(&[0u32, 1, 2, 3, 255, 65_536, u32::MAX][..]),
    ) {
        let data = dataset();
        let mut files = [idx(0x803, &[10, 2, 3], &data.images), idx(0x801, &[10], &data.labels)];
        match edit {
            0 => { let len = files[which].len(); files[which].truncate(((len as f64) * at) as usize) }
            1 => { let len = files[which].len(); files[which][((len as f64 * at) as usize).min(len - 1)] ^= mask }
            // Rewrites one dimension of the header (the label file has one).
            _ => { let d = 1 + dim % (3 - 2 * which); files[which][4 * d..4 * d + 4].copy_from_slice(&size.to_be_bytes()) }
        }
        let [images, labels] = files.map(|f| if gzip { gzipped(&f) } else { f });
        match web::dataset(images, labels) {
            Ok(loaded) => {
                let config = TrainConfig { batch: 2, ..small_config() };
                match config.validate_for(loaded.pixels(), loaded.count) {
                    Ok(()) => {
                        let state = TrainingState::initial(&config, loaded.pixels());
                        train_one_step(&loaded, &state).map_err(TestCaseError::fail)?;
                    }
                    Err(e) => prop_assert!(e.message.contains("batch") || e.message.contains("pixels"), "{e}"),
                }
            }
            Err(e) => prop_assert!(
                ["image", "label", "gzip"].iter().any(|w| e.message.contains(w)),
                "{e}"
            ),
        }
    }

    /// Any link: every value that comes out is in range, and a config made from them
    /// is one the core accepts (so the page's limits are the core's).
    #[test]
    fn any_share_link_gives_settings_the_core_accepts(query in share_link()) {
        let parsed = settings::parse(&query);
        let mut config = serde_json::to_value(TrainConfig::default()).unwrap();
        for spec in settings::SETTINGS {
            let v = parsed.values[spec.key];
            prop_assert!(v >= spec.min && v <= spec.max, "{query}: {} = {v}", spec.key);
            if spec.key == "model" || spec.key == "width" {
                continue;
            }
            // As the page's toConfigJson does: a boolean field (conditional) from 0 or 1.
            config[spec.field] = match config[spec.field].is_boolean() {
                true => json!(v != 0.0),
                false if spec.integer => json!(v as u64),
                false => json!(v),
            };
        }
        // And the model: the DCGAN of `width` on MNIST as 32×32 gray, or the MLP.
        let dcgan = parsed.values["model"] == 1.0;
        config["model"] = match dcgan {
            true => json!({"kind": "dcgan", "image_size": 32, "channels": 1, "width": parsed.values["width"] as u64}),
            false => json!({"kind": "mlp"}),
        };
        let config = TrainConfig::from_json(&config.to_string()).unwrap();
        // A conditional DCGAN is the one combination the core refuses, with a reason.
        if dcgan && config.conditional {
            prop_assert!(config.validate().unwrap_err().message.starts_with("conditional"));
            return Ok(());
        }
        match (dcgan, config.validate_for(if dcgan { 1024 } else { 784 }, 60_000)) {
            (_, Ok(())) => {}
            // A wide DCGAN at a large batch outgrows a GPU buffer: refused, saying so.
            (true, Err(e)) => prop_assert!(e.message.contains("GPU buffer"), "{query}: {}", e.message),
            (false, Err(e)) => return Err(TestCaseError::fail(e.message)),
        }
        for p in &parsed.problems {
            prop_assert!(p.message.chars().count() <= 120, "{}", p.message);
        }
        prop_assert!(parsed.lang.is_none_or(|l| settings::LANGUAGES.contains(&l)));
        prop_assert!(parsed.threads.is_none_or(|t| (1..=settings::MAX_THREADS).contains(&t)), "{query}");
        let _ = web::parse_settings(&query);
    }
}

/// A small valid picture of each format the folder loader reads, as bytes.
fn valid_pictures() -> Vec<(&'static str, Vec<u8>)> {
    let image = image::RgbImage::from_fn(9, 7, |x, y| image::Rgb([(x * 25) as u8, (y * 30) as u8, 90]));
    [
        ("png", image::ImageFormat::Png),
        ("jpg", image::ImageFormat::Jpeg),
        ("gif", image::ImageFormat::Gif),
    ]
    .into_iter()
    .map(|(ext, format)| {
        let mut bytes = std::io::Cursor::new(Vec::new());
        image.write_to(&mut bytes, format).unwrap();
        (ext, bytes.into_inner())
    })
    .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any bytes under a picture's name, or a valid picture cut or with bytes
    /// rewritten, become an image of the shape asked for or a reason to skip the file.
    #[test]
    fn mutated_pictures_are_prepared_or_skipped_with_a_reason(
        which in 0usize..3,
        cut in proptest::option::of(0.0f64..1.0),
        flips in proptest::collection::vec((0.0f64..1.0, any::<u8>()), 0..6),
        noise in proptest::option::of(proptest::collection::vec(any::<u8>(), 0..200)),
        colour in any::<bool>(),
    ) {
        let pictures = valid_pictures();
        let (ext, mut bytes) = pictures[which].clone();
        if let Some(noise) = noise {
            bytes = noise;
        }
        for (at, value) in flips {
            if !bytes.is_empty() {
                let i = ((bytes.len() - 1) as f64 * at) as usize;
                bytes[i] = value;
            }
        }
        if let Some(cut) = cut {
            bytes.truncate((bytes.len() as f64 * cut) as usize);
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(format!("picture.{ext}"));
        std::fs::write(&path, &bytes).unwrap();
        let shape = match colour {
            true => ImageShape { side: 32, channels: 3 },
            false => ImageShape::MNIST,
        };
        match image_folder::prepare(&path, shape) {
            Ok(image) => prop_assert_eq!(image.len(), shape.values()),
            Err(why) => prop_assert!(!why.is_empty()),
        }
    }

    #[test]
    fn any_image_shape_text_parses_to_a_shape_or_says_why(text in ".{0,24}") {
        match ImageShape::from_metadata(&text) {
            Ok(shape) => prop_assert_eq!(ImageShape::from_metadata(&shape.to_metadata()).unwrap(), shape),
            Err(e) => prop_assert!(e.message.contains("is not channels,height,width"), "{e}"),
        }
    }
}

proptest! {
    #[test]
    fn only_the_three_backend_names_are_taken(name in ".{0,12}") {
        match Backend::from_name(&name) {
            Ok(backend) => prop_assert_eq!(backend.to_string(), name),
            Err(e) => prop_assert!(e.message.contains("not one of auto, gpu, cpu"), "{e}"),
        }
    }
}

/// Settings JSON as the page sends it, with one field rewritten or the text cut.
fn settings_json() -> impl Strategy<Value = String> {
    let base = serde_json::to_value(TrainConfig {
        batch: 2,
        ..small_config()
    })
    .unwrap();
    (
        prop::sample::select(&CONFIG_FIELDS[..]),
        bad_value(),
        any::<bool>(),
        0.0..1.0f64,
    )
        .prop_map(move |(field, value, cut, keep)| {
            let mut config = base.clone();
            match value {
                Some(v) => config[field] = v,
                None => {
                    config.as_object_mut().unwrap().remove(field);
                }
            }
            let text = config.to_string();
            if cut {
                text.chars().take((text.len() as f64 * keep) as usize).collect()
            } else {
                text
            }
        })
}

/// Links built from the real keys with hostile values, and arbitrary text.
fn share_link() -> impl Strategy<Value = String> {
    let key = prop::sample::select(
        &[
            "lr_g",
            "lr_d",
            "beta1",
            "beta2",
            "batch",
            "seed",
            "conditional",
            "backend",
            "autostart",
            "until",
            "threads",
            "lang",
            "data",
            "x",
        ][..],
    );
    let value = prop_oneof![
        Just("ko".to_string()),
        Just("own".to_string()),
        any::<f64>().prop_map(|v| v.to_string()),
        any::<i64>().prop_map(|v| v.to_string()),
        // Small whole numbers, about the limits of the counts (`threads`, `batch`).
        (0u32..600).prop_map(|v| v.to_string()),
        Just("1e308".to_string()),
        Just("-0".to_string()),
        Just("%00%ff%".to_string()),
        Just("0x10".to_string()),
        Just("Infinity".to_string()),
        ".{0,60}",
    ];
    prop_oneof![
        prop::collection::vec((key, value), 0..8).prop_map(|pairs| {
            pairs
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join("&")
        }),
        ".{0,200}",
    ]
}

fn idx(magic: u32, dims: &[u32], body: &[u8]) -> Vec<u8> {
    let mut v = magic.to_be_bytes().to_vec();
    for d in dims {
        v.extend(d.to_be_bytes());
    }
    v.extend(body);
    v
}

fn gzipped(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

#[test]
fn a_gzip_bomb_is_refused_before_it_fills_memory() {
    let bomb = gzipped(&vec![0u8; (ganvas::formats::mnist::MAX_DECOMPRESSED + 1) as usize]);
    assert!(bomb.len() < 1 << 20);
    let e = web::dataset(bomb.clone(), bomb).unwrap_err().message;
    assert!(e.contains("MNIST images") && e.contains("MiB"), "{e}");
}

#[test]
fn resuming_with_a_zero_or_oversized_batch_names_the_field() {
    let data = dataset();
    for (batch, want) in [(0, "batch is 0"), (11, "more than the 10 images")] {
        let mut files = valid_checkpoint();
        apply(
            &mut files,
            &Mutation::Config {
                field: "batch",
                value: Some(json!(batch)),
            },
        );
        let e = checkpoint::state_from_bytes(&files[0], &files[1], &files[2])
            .and_then(|state| {
                pollster::block_on(Engine::create(Backend::Cpu, CpuThreads::new(1), &data, &state, None)).map(|_| ())
            })
            .unwrap_err()
            .message;
        assert!(e.contains(want), "{e}");
    }
}

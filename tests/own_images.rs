//! Training on your own pictures: colour images of any of the sizes, from a folder of
//! files (bad ones skipped and listed), on both backends, into checkpoints that say
//! their image shape.

mod common;

use std::path::Path;

use ganvas::backend::cpu::CpuThreads;
use ganvas::backend::engine::{Backend, Engine};
use ganvas::formats::checkpoint::{self, IMAGE_SHAPE_KEY};
use ganvas::formats::image_folder;
use ganvas::formats::image_shape::ImageShape;
use ganvas::formats::mnist::Dataset;
use ganvas::model::state::TrainingState;
use ganvas::model::{NetworkKind, TrainConfig};
use ganvas::rng::{self, Stream};

const COLOUR: ImageShape = ImageShape { side: 32, channels: 3 };

/// `count` 32×32 colour pictures: a filled square of one of four saturated colours,
/// of random size and place, on black.
fn coloured_squares(count: usize, seed: u64) -> Dataset {
    const COLOURS: [[u8; 3]; 4] = [[230, 40, 40], [40, 200, 60], [50, 80, 240], [240, 220, 30]];
    let side = COLOUR.side;
    let mut bytes = Vec::with_capacity(count * COLOUR.values());
    for i in 0..count {
        let w = rng::draw(seed, Stream::Sample, i as u32, 7);
        let colour = COLOURS[(w[0] % 4) as usize];
        let size = 8 + (w[1] % 12) as usize;
        let (x0, y0) = ((w[2] as usize) % (side - size), (w[3] as usize) % (side - size));
        for plane in colour {
            for p in 0..side * side {
                let (x, y) = (p % side, p / side);
                let inside = (x0..x0 + size).contains(&x) && (y0..y0 + size).contains(&y);
                bytes.push(if inside { plane } else { 0 });
            }
        }
    }
    Dataset::from_pixels(bytes, side, 3).unwrap()
}

fn engine(backend: Backend, config: &TrainConfig, data: &Dataset) -> Option<Engine> {
    if backend == Backend::Gpu {
        common::gpu()?;
    }
    let state = TrainingState::initial(config, data.pixels());
    Some(
        pollster::block_on(Engine::create(backend, CpuThreads::new(2), data, &state, None))
            .unwrap()
            .0,
    )
}

fn mean_image(images: &[f32], values: usize) -> Vec<f64> {
    let mut mean = vec![0f64; values];
    for image in images.chunks(values) {
        for (m, v) in mean.iter_mut().zip(image) {
            *m += f64::from(*v);
        }
    }
    mean.iter().map(|m| m / (images.len() / values) as f64).collect()
}

fn rms(a: &[f64], b: &[f64]) -> f64 {
    (a.iter().zip(b).map(|(x, y)| (x - y).powi(2)).sum::<f64>() / a.len() as f64).sqrt()
}

/// The learning test's statistic (tests/learning.rs) on colour: the distance between
/// the mean of G's 64 preview samples and the mean picture. An untrained G draws a
/// flat gray near 0, about 0.85 from this mostly black data; a G that learns
/// nothing of the data stays there. A smaller model at a higher learning rate
/// learns in a few hundred steps; the median of five readings rides out the swings.
#[test]
fn training_on_colour_pictures_moves_the_samples_toward_them_on_both_backends() {
    let data = coloured_squares(512, 3);
    let values = data.pixels();
    let data_mean = mean_image(&data.inputs(), values);
    let config = TrainConfig {
        generator_hidden: vec![64, 128],
        discriminator_hidden: vec![128, 64],
        generator_lr: 1e-3,
        discriminator_lr: 1e-3,
        seed: 2,
        ..Default::default()
    };
    for (backend, steps) in [(Backend::Cpu, 400), (Backend::Gpu, 400)] {
        let Some(mut engine) = engine(backend, &config, &data) else {
            continue;
        };
        let distance = |engine: &mut Engine| {
            let preview = pollster::block_on(engine.start_preview(None).unwrap().finish()).unwrap();
            rms(&mean_image(&preview.images, values), &data_mean)
        };
        let start = distance(&mut engine);
        engine.train(steps - 200);
        let mut readings = Vec::new();
        for _ in 0..5 {
            engine.train(40);
            readings.push(distance(&mut engine));
        }
        readings.sort_by(f64::total_cmp);
        eprintln!("{backend}: {start:.3} -> {readings:.3?}");
        assert!(start > 0.6, "{backend}: an untrained G is far from the data: {start}");
        assert!(readings[2] < 0.5 * start, "{backend}: {start} -> {readings:?}");
    }
}

/// Both backends run the same ops on colour as on gray; 3 full-size steps at
/// 32×32×3 (D's first layer 3072 wide) end within rounding of each other, by the
/// bounds of tests/backends_agree.rs. (On random pixels, as there: on flat squares
/// many gradients are rounding noise about zero, whose sign Adam's first steps
/// follow to a full lr either way; measured 2026-12-02 on lavapipe, random pixels
/// stay within 0.002·lr·steps.)
#[test]
fn both_backends_agree_at_32_by_32_colour() {
    let noise = common::synthetic_dataset(200, 32, 96, 5);
    let data = Dataset::from_pixels(noise.images, 32, 3).unwrap();
    let config = TrainConfig::default();
    let (Some(mut cpu), Some(mut gpu)) = (
        engine(Backend::Cpu, &config, &data),
        engine(Backend::Gpu, &config, &data),
    ) else {
        return;
    };
    cpu.train(3);
    gpu.train(3);
    let read = |e: &Engine| pollster::block_on(e.start_state_read().finish()).unwrap();
    let (a, b) = (read(&cpu), read(&gpu));
    let movement = 2e-4 * 3.0;
    for (x, y) in [(&a.generator, &b.generator), (&a.discriminator, &b.discriminator)] {
        let max = common::max_abs_diff(&x.params, &y.params);
        let far = x
            .params
            .iter()
            .zip(&y.params)
            .filter(|(a, b)| (*a - *b).abs() > 0.01 * movement)
            .count();
        assert!(max <= 0.5 * movement, "{max}");
        assert!(
            far * 100 <= x.params.len(),
            "{far} of {} beyond 0.01·lr·steps",
            x.params.len()
        );
    }
    assert_eq!(a.generator.params.len(), b.generator.params.len());
    assert_eq!(config.generator(data.pixels()).outputs(), 3072);
}

#[test]
fn a_colour_generator_file_says_its_image_shape_and_is_checked_on_load() {
    let config = TrainConfig::default();
    let state = TrainingState::initial(&config, COLOUR.values());
    let [generator, _, _] = checkpoint::state_to_bytes(&state, COLOUR.values()).unwrap();
    let (_, header) = safetensors::SafeTensors::read_metadata(&generator).unwrap();
    let metadata = header.metadata().clone().unwrap();
    assert_eq!(metadata[IMAGE_SHAPE_KEY], "3,32,32");
    let loaded = checkpoint::network_from_bytes(&generator, NetworkKind::Generator).unwrap();
    assert_eq!(ImageShape::from_values(loaded.network.outputs()).unwrap(), COLOUR);
    assert_eq!(loaded.params, state.generator.params);
    // A file whose shape disagrees with its last layer is refused, saying both.
    let at = generator.windows(7).position(|w| w == b"3,32,32").unwrap();
    let mut forged = generator.clone();
    forged[at] = b'1';
    let e = checkpoint::network_from_bytes(&forged, NetworkKind::Generator).unwrap_err();
    assert!(
        e.to_string().contains("says its images are 32×32 gray (1024 values)"),
        "{e}"
    );
}

/// Writes `count` small PNG and JPEG pictures (coloured squares) into `dir`, in
/// nested folders.
fn write_pictures(dir: &Path, count: usize) {
    let data = coloured_squares(count, 9);
    std::fs::create_dir_all(dir.join("nested/deeper")).unwrap();
    for i in 0..count {
        let planes = &data.images[i * 3072..][..3072];
        let rgb: Vec<u8> = (0..1024)
            .flat_map(|p| [planes[p], planes[1024 + p], planes[2048 + p]])
            .collect();
        let image = image::RgbImage::from_raw(32, 32, rgb).unwrap();
        let (folder, ext) = match i % 3 {
            0 => ("", "png"),
            1 => ("nested", "jpg"),
            _ => ("nested/deeper", "png"),
        };
        image.save(dir.join(folder).join(format!("{i}.{ext}"))).unwrap();
    }
}

#[test]
fn a_folder_of_pictures_loads_and_bad_files_are_skipped_and_listed() {
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().to_path_buf();
    write_pictures(&dir, 120);
    // A corrupt PNG, an empty file, text, and a PNG whose header says 20,000 × 20,000.
    let good = std::fs::read(dir.join("0.png")).unwrap();
    std::fs::write(dir.join("corrupt.png"), &good[..good.len() / 2]).unwrap();
    std::fs::write(dir.join("empty.jpg"), b"").unwrap();
    std::fs::write(dir.join("notes.txt"), b"not a picture").unwrap();
    let mut huge = Vec::new();
    let mut writer = png::Encoder::new(&mut huge, 20_000, 20_000).write_header().unwrap();
    writer.write_chunk(png::chunk::IDAT, &[0; 16]).unwrap();
    drop(writer);
    std::fs::write(dir.join("huge.png"), &huge).unwrap();

    let folder = image_folder::load(&dir, COLOUR).unwrap();
    assert_eq!(folder.dataset.count, 120);
    assert_eq!((folder.dataset.pixels(), folder.dataset.has_labels()), (3072, false));
    let skipped: Vec<String> = (folder.skipped.iter())
        .map(|(path, why)| format!("{} {why}", path.file_name().unwrap().to_string_lossy()))
        .collect();
    assert_eq!(skipped.len(), 4, "{skipped:?}");
    assert!(
        skipped.iter().any(|s| s.starts_with("corrupt.png cannot be decoded")),
        "{skipped:?}"
    );
    assert!(skipped.iter().any(|s| s.starts_with("empty.jpg ")), "{skipped:?}");
    assert!(
        skipped
            .iter()
            .any(|s| s.starts_with("notes.txt is not a PNG, JPEG, WebP or GIF")),
        "{skipped:?}"
    );
    assert!(
        skipped.iter().any(|s| s.starts_with("huge.png is 20000×20000")),
        "{skipped:?}"
    );
    // The PNG pictures come back as drawn: centre square, already 32 × 32.
    let first = &folder.dataset.images[..3072];
    assert_eq!(first, &coloured_squares(1, 9).images[..]);
    // As 28 × 28 gray, the same folder.
    let gray = image_folder::load(&dir, ImageShape::MNIST).unwrap();
    assert_eq!((gray.dataset.count, gray.dataset.pixels()), (120, 784));

    // Too few usable pictures is an error that says why.
    let few = dir.join("nested/deeper");
    let e = image_folder::load(&few, COLOUR).err().unwrap().to_string();
    assert!(e.contains("a GAN needs at least 100 examples"), "{e}");
}

#[test]
fn the_conditional_gan_refuses_pictures_without_labels() {
    let data = coloured_squares(100, 1);
    let config = TrainConfig {
        conditional: true,
        ..Default::default()
    };
    let state = TrainingState::initial(&config, data.pixels());
    let e = pollster::block_on(Engine::create(Backend::Cpu, CpuThreads::new(1), &data, &state, None))
        .err()
        .unwrap();
    assert!(e.to_string().contains("needs a digit label for every image"), "{e}");
}

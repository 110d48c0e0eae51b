//! The `ganvas` binary as scripts call it: train, resume, sample, and clean errors.

use std::path::Path;
use std::process::{Command, Output};

use ganvas::formats::{checkpoint, npy};

fn ganvas(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ganvas"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap()
}

fn ok(args: &[&str]) -> String {
    let out = ganvas(args);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert!(out.status.success(), "ganvas {args:?} failed:\n{stderr}");
    stderr
}

/// Fails with exit code 1 and an `error:` line, never a panic.
fn fails(args: &[&str]) -> String {
    let out = ganvas(args);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    assert_eq!(out.status.code(), Some(1), "ganvas {args:?}:\n{stderr}");
    assert!(stderr.contains("error: ") && !stderr.contains("panicked"), "{stderr}");
    stderr
}

fn csv_steps(dir: &Path) -> Vec<u32> {
    let text = std::fs::read_to_string(dir.join("losses.csv")).unwrap();
    text.lines()
        .skip(1)
        .map(|l| l.split(',').next().unwrap().parse().unwrap())
        .collect()
}

#[test]
fn train_resume_and_sample() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let run_s = run.to_str().unwrap();
    let stderr = ok(&[
        "train",
        "--steps",
        "4",
        "--seed",
        "7",
        "--backend",
        "cpu",
        "--out",
        run_s,
        "--log-every",
        "2",
    ]);
    assert!(stderr.contains("backend: cpu"), "{stderr}");
    for file in [
        "generator.safetensors",
        "discriminator.safetensors",
        "optimizer.safetensors",
        "samples/step_0000004.png",
    ] {
        assert!(run.join(file).is_file(), "{file} missing");
    }
    assert_eq!(csv_steps(&run), vec![2, 4]);

    ok(&[
        "train",
        "--steps",
        "2",
        "--backend",
        "cpu",
        "--resume",
        run_s,
        "--out",
        run_s,
        "--log-every",
        "2",
    ]);
    assert_eq!(csv_steps(&run), vec![2, 4, 6]);
    let e = fails(&[
        "train", "--steps", "2", "--resume", run_s, "--out", run_s, "--seed", "3",
    ]);
    assert!(e.contains("from the checkpoint"), "{e}");

    // A checkpoint whose optimizer file says batch 0 (this once divided by zero).
    let crafted = tmp.path().join("crafted");
    std::fs::create_dir(&crafted).unwrap();
    let read = |name: &str| std::fs::read(run.join(name)).unwrap();
    let names = [
        "generator.safetensors",
        "discriminator.safetensors",
        "optimizer.safetensors",
    ];
    let [g_bytes, d_bytes, o_bytes] = names.map(read);
    let mut state = checkpoint::state_from_bytes(&g_bytes, &d_bytes, &o_bytes).unwrap();
    state.config.batch = 0;
    let files = [g_bytes, d_bytes, checkpoint::optimizer_to_bytes(&state, 784).unwrap()];
    for (name, bytes) in names.iter().zip(files) {
        std::fs::write(crafted.join(name), bytes).unwrap();
    }
    let crafted_s = crafted.to_str().unwrap();
    let e = fails(&["train", "--steps", "1", "--resume", crafted_s, "--out", crafted_s]);
    assert!(
        e.contains(crafted_s) && e.contains("optimizer file's config: batch is 0"),
        "{e}"
    );

    let generator = run.join("generator.safetensors");
    let g = generator.to_str().unwrap();
    let z: Vec<f32> = (0..3 * 100).map(|i| ((i % 17) as f32 - 8.0) / 4.0).collect();
    let z_path = tmp.path().join("z.npy");
    std::fs::write(&z_path, npy::to_bytes(3, 100, &z)).unwrap();
    let x_path = tmp.path().join("x.npy");
    ok(&[
        "sample",
        "--checkpoint",
        g,
        "--latents",
        z_path.to_str().unwrap(),
        "--out",
        x_path.to_str().unwrap(),
    ]);
    let (rows, cols, x) = npy::from_bytes(&std::fs::read(&x_path).unwrap()).unwrap();
    assert_eq!((rows, cols), (3, 784));
    assert!(x.iter().all(|v| (-1.0..=1.0).contains(v)));

    let grid = tmp.path().join("grid.png");
    ok(&[
        "sample",
        "--checkpoint",
        g,
        "--n",
        "10",
        "--seed",
        "1",
        "--out",
        grid.to_str().unwrap(),
    ]);
    let png = std::fs::read(&grid).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");

    // Latents of the wrong width, a weight file as latents, a discriminator as generator.
    let bad_z = tmp.path().join("bad.npy");
    std::fs::write(&bad_z, npy::to_bytes(2, 99, &[0.0; 198])).unwrap();
    let e = fails(&[
        "sample",
        "--checkpoint",
        g,
        "--latents",
        bad_z.to_str().unwrap(),
        "--out",
        x_path.to_str().unwrap(),
    ]);
    assert!(e.contains("99 columns"), "{e}");
    let e = fails(&[
        "sample",
        "--checkpoint",
        g,
        "--latents",
        g,
        "--out",
        x_path.to_str().unwrap(),
    ]);
    assert!(e.contains(".npy"), "{e}");
    let d = run.join("discriminator.safetensors");
    let e = fails(&[
        "sample",
        "--checkpoint",
        d.to_str().unwrap(),
        "--n",
        "2",
        "--out",
        grid.to_str().unwrap(),
    ]);
    assert!(e.contains("discriminator file"), "{e}");
}

#[test]
fn bad_data_and_arguments_fail_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_str().unwrap();
    let e = fails(&["train", "--steps", "1", "--data", dir, "--out", dir]);
    assert!(e.contains("train-images-idx3-ubyte"), "{e}");
    std::fs::write(
        tmp.path().join("train-images-idx3-ubyte.gz"),
        b"\x1f\x8bnot really gzip",
    )
    .unwrap();
    std::fs::write(tmp.path().join("train-labels-idx1-ubyte"), b"\0\0\x08\x01\0\0\0\0").unwrap();
    let e = fails(&["train", "--steps", "1", "--data", dir, "--out", dir]);
    assert!(e.contains("gzip"), "{e}");
    let e = fails(&[
        "train",
        "--steps",
        "1",
        "--batch",
        "0",
        "--backend",
        "cpu",
        "--out",
        dir,
    ]);
    assert!(e.contains("batch"), "{e}");
    let e = fails(&[
        "train",
        "--steps",
        "1",
        "--beta2",
        "1.5",
        "--backend",
        "cpu",
        "--out",
        dir,
    ]);
    assert!(e.contains("beta"), "{e}");
}

#[test]
fn bench_reports_every_backend_and_matmul_shape() {
    let tmp = tempfile::tempdir().unwrap();
    let json = tmp.path().join("bench.json");
    let args = [
        "bench",
        "--batches",
        "8",
        "--repeats",
        "1",
        "--seconds",
        "0.01",
        "--json",
        json.to_str().unwrap(),
    ];
    let stdout = String::from_utf8(ganvas(&args).stdout).unwrap();
    assert!(stdout.contains("matmul (batch 8)"), "{stdout}");
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    let training = report["training"].as_array().unwrap();
    assert!(training.iter().any(|r| r["backend"] == "cpu" && r["batch"] == 8));
    assert!(training.iter().all(|r| r["steps_per_second"].as_f64().unwrap() > 0.0));
    // Every distinct product of the step at that batch: 7 forward, 7 weight-gradient
    // and 5 input-gradient layer products, some shared between the D and G updates.
    let shapes = report["matmul"].as_array().unwrap();
    assert!(shapes.len() >= 15, "{} shapes", shapes.len());
    assert!(shapes.iter().all(|r| r["batch"] == 8));
    assert!(shapes.iter().all(|r| r["cpu_gflops"].as_f64().unwrap() > 0.0));
}

#[test]
fn classifier_trains_and_its_file_loads_as_a_state_dict() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("classifier.safetensors");
    let out_s = out.to_str().unwrap();
    // 64 hidden units keep the Fréchet distance's 64×64 matrices quick below.
    let args = [
        "classifier",
        "train",
        "--epochs",
        "1",
        "--hidden",
        "64",
        "--lr",
        "0.001",
        "--backend",
        "cpu",
    ];
    let result = ganvas(&[&args[..], &["--out", out_s]].concat());
    let stdout = String::from_utf8_lossy(&result.stdout).to_string();
    assert!(result.status.success(), "{}", String::from_utf8_lossy(&result.stderr));
    // One epoch reads most test digits (the figure is printed).
    let percent: f64 = stdout
        .split("test accuracy: ")
        .nth(1)
        .and_then(|rest| rest.split('%').next())
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!(percent > 90.0, "{stdout}");
    let bytes = std::fs::read(&out).unwrap();
    let loaded = ganvas::quality::classifier::classifier_from_bytes(&bytes).unwrap();
    assert_eq!(loaded.network.widths(), [784, 64, 10]);
    assert_eq!(loaded.reference.dim, 64);
    let e = fails(&[
        "classifier",
        "train",
        "--batch",
        "0",
        "--backend",
        "cpu",
        "--out",
        out_s,
    ]);
    assert!(e.contains("batch is 0"), "{e}");

    // The census and scores of a generator's samples, and of images from a .npy.
    let json = tmp.path().join("quality.json");
    let generator = "tests/fixtures/pytorch_generator.safetensors";
    let args = ["eval", "--checkpoint", generator, "--n", "500", "--classifier", out_s];
    ok(&[&args[..], &["--json", json.to_str().unwrap()]].concat());
    let quality: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(quality["n"], 500);
    let fractions: Vec<f64> = (0..10)
        .map(|i| quality["class_fractions"][i].as_f64().unwrap())
        .collect();
    assert!((fractions.iter().sum::<f64>() - 1.0).abs() < 1e-9);
    for key in ["classifier_score", "mean_confidence", "frechet_distance"] {
        assert!(
            quality[key].as_f64().is_some_and(|v| v.is_finite() && v >= 0.0),
            "{key}: {quality}"
        );
    }
    let wrong = tmp.path().join("wrong.npy");
    std::fs::write(&wrong, npy::to_bytes(3, 100, &[0.0; 300])).unwrap();
    let e = fails(&["eval", "--images", wrong.to_str().unwrap(), "--classifier", out_s]);
    assert!(e.contains("wrong.npy") && e.contains("100 columns"), "{e}");
    let e = fails(&["eval", "--images", out_s, "--classifier", generator]);
    assert!(e.contains("pytorch_generator.safetensors"), "{e}");
}

/// The conditional GAN from the command line: trained with --conditional (resuming
/// keeps it), sampled for one digit or for every digit, evaluated for a digit; a
/// label asked of an unconditional generator, or outside 0-9, is a clear error.
#[test]
fn conditional_train_sample_and_eval() {
    let tmp = tempfile::tempdir().unwrap();
    let run = tmp.path().join("run");
    let run_s = run.to_str().unwrap();
    ok(&[
        "train",
        "--conditional",
        "--steps",
        "2",
        "--backend",
        "cpu",
        "--out",
        run_s,
    ]);
    ok(&[
        "train",
        "--resume",
        run_s,
        "--steps",
        "1",
        "--backend",
        "cpu",
        "--out",
        run_s,
    ]);
    let g = run.join("generator.safetensors");
    let g_s = g.to_str().unwrap();
    let loaded =
        checkpoint::network_from_bytes(&std::fs::read(&g).unwrap(), ganvas::model::NetworkKind::Generator).unwrap();
    assert_eq!(loaded.network.inputs(), 110, "latents and a one-hot label");

    let npy_out = tmp.path().join("sevens.npy");
    ok(&[
        "sample",
        "--checkpoint",
        g_s,
        "--n",
        "5",
        "--label",
        "7",
        "--out",
        npy_out.to_str().unwrap(),
    ]);
    let (rows, cols, _) = npy::from_bytes(&std::fs::read(&npy_out).unwrap()).unwrap();
    assert_eq!((rows, cols), (5, 784));
    // Without --label: each of 3 latents as every digit, a grid row per digit.
    let (every, png) = (tmp.path().join("every.npy"), tmp.path().join("every.png"));
    for out in [&every, &png] {
        ok(&[
            "sample",
            "--checkpoint",
            g_s,
            "--n",
            "3",
            "--out",
            out.to_str().unwrap(),
        ]);
    }
    assert_eq!(npy::from_bytes(&std::fs::read(&every).unwrap()).unwrap().0, 30);
    let header = std::fs::read(&png).unwrap();
    let size = |at: usize| u32::from_be_bytes(header[at..at + 4].try_into().unwrap());
    assert_eq!((size(16), size(20)), (3 * 30 + 2, 10 * 30 + 2), "3 columns, 10 rows");

    let json = tmp.path().join("q.json");
    ok(&[
        "eval",
        "--checkpoint",
        g_s,
        "--n",
        "100",
        "--label",
        "3",
        "--json",
        json.to_str().unwrap(),
    ]);
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&json).unwrap()).unwrap();
    assert_eq!(report["label"], 3);
    assert_eq!(report["read_as_label"], report["class_fractions"][3]);

    let plain = "tests/fixtures/pytorch_generator.safetensors";
    let e = fails(&[
        "sample",
        "--checkpoint",
        plain,
        "--label",
        "3",
        "--out",
        npy_out.to_str().unwrap(),
    ]);
    assert!(e.contains("not conditional"), "{e}");
    let e = fails(&["eval", "--checkpoint", plain, "--label", "3"]);
    assert!(e.contains("not conditional"), "{e}");
    let e = fails(&["eval", "--images", npy_out.to_str().unwrap(), "--label", "3"]);
    assert!(e.contains("--label"), "{e}");
    let out = ganvas(&[
        "sample",
        "--checkpoint",
        g_s,
        "--label",
        "10",
        "--out",
        npy_out.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && stderr.contains("0..=9"), "{stderr}");
}

/// Writes `count` 40×30 colour pictures (a coloured band on black, centre-cropped
/// to 30×30 by the loader) into `dir` as PNG.
fn write_pictures(dir: &Path, count: usize) {
    std::fs::create_dir_all(dir).unwrap();
    for i in 0..count {
        let colour = [[230, 40, 40], [40, 200, 60], [50, 80, 240]][i % 3];
        let image = image::RgbImage::from_fn(40, 30, |x, y| {
            image::Rgb(if (y as usize + i) % 10 < 4 && x > 5 {
                colour
            } else {
                [0, 0, 0]
            })
        });
        image.save(dir.join(format!("picture-{i}.png"))).unwrap();
    }
}

#[test]
fn train_on_a_folder_of_colour_pictures_and_sample_colour() {
    let temp = tempfile::tempdir().unwrap();
    let (pictures, out) = (temp.path().join("pictures"), temp.path().join("run"));
    write_pictures(&pictures.join("some/where"), 110);
    std::fs::write(pictures.join("broken.png"), b"\x89PNG\r\n\x1a\n").unwrap();
    std::fs::write(pictures.join("readme.txt"), b"my pictures").unwrap();
    let (data, run) = (pictures.to_str().unwrap(), out.to_str().unwrap());
    // Training on the folder as 32×32 colour, with `extra` arguments.
    let on_pictures = |extra: &[&str]| {
        let base = [
            "train",
            "--data",
            data,
            "--image-size",
            "32",
            "--channels",
            "3",
            "--backend",
            "cpu",
        ];
        ok(&[&base[..], extra].concat())
    };
    let log = on_pictures(&["--steps", "2", "--out", run, "--log-every", "1"]);
    assert!(log.contains("broken.png: cannot be decoded"), "{log}");
    assert!(
        log.contains("readme.txt: is not a PNG, JPEG, WebP or GIF image"),
        "{log}"
    );
    assert!(
        log.contains("110 pictures of") && log.contains("as 32×32 colour images (2 skipped)"),
        "{log}"
    );
    assert!(log.contains("warning: with only 110 pictures"), "{log}");
    let generator = std::fs::read(out.join("generator.safetensors")).unwrap();
    let g = checkpoint::network_from_bytes(&generator, ganvas::model::NetworkKind::Generator).unwrap();
    assert_eq!(g.network.outputs(), 3072);
    // Sampled anywhere, the generator draws colour: an RGB PNG.
    let grid = temp.path().join("grid.png");
    ok(&[
        "sample",
        "--checkpoint",
        out.join("generator.safetensors").to_str().unwrap(),
        "--n",
        "4",
        "--out",
        grid.to_str().unwrap(),
    ]);
    let png = std::fs::read(&grid).unwrap();
    assert_eq!(png[25], 2, "colour type 2: RGB");
    // The digit census reads MNIST-sized gray images only.
    let e = fails(&[
        "eval",
        "--checkpoint",
        out.join("generator.safetensors").to_str().unwrap(),
        "--n",
        "10",
    ]);
    assert!(
        e.contains("makes images of 3072 pixels; the classifier reads 784"),
        "{e}"
    );
    // Resuming takes the same folder.
    on_pictures(&["--steps", "1", "--resume", run, "--out", run]);

    // Too few pictures, or MNIST asked to be colour: errors that say why.
    let few = temp.path().join("few");
    write_pictures(&few, 12);
    let e = fails(&["train", "--data", few.to_str().unwrap(), "--steps", "1", "--out", run]);
    assert!(
        e.contains("holds 12 usable image(s)") && e.contains("a GAN needs at least 100 examples"),
        "{e}"
    );
    let e = fails(&["train", "--channels", "3", "--steps", "1", "--out", run]);
    assert!(e.contains("MNIST, whose images are 28×28 gray"), "{e}");
    let e = fails(&["train", "--data", data, "--conditional", "--steps", "1", "--out", run]);
    assert!(e.contains("needs a digit label for every image"), "{e}");
}

/// The DCGAN from the command line: trained on MNIST padded to 32×32, resumed, sampled
/// and read by the census through the centre 28×28; what it is not built for is refused.
#[test]
fn dcgan_trains_resumes_samples_and_evaluates() {
    let temp = tempfile::tempdir().unwrap();
    let run = temp.path().join("run");
    let run_s = run.to_str().unwrap();
    let small = ["--model", "dcgan", "--width", "4", "--batch", "8", "--backend", "cpu"];
    let log = ok(&[
        &["train", "--steps", "2", "--out", run_s, "--log-every", "1"],
        &small[..],
    ]
    .concat());
    assert!(log.contains("training 2 steps"), "{log}");
    let generator = std::fs::read(run.join("generator.safetensors")).unwrap();
    let g = checkpoint::network_from_bytes(&generator, ganvas::model::NetworkKind::Generator).unwrap();
    assert_eq!(
        (g.network.outputs(), g.network.tensors()[0].name.as_str()),
        (1024, "main.0.weight")
    );
    ok(&[
        "train",
        "--steps",
        "1",
        "--resume",
        run_s,
        "--out",
        run_s,
        "--backend",
        "cpu",
    ]);
    assert_eq!(csv_steps(&run), vec![1, 2, 3]);
    let grid = temp.path().join("grid.png");
    let g_path = run.join("generator.safetensors");
    ok(&[
        "sample",
        "--checkpoint",
        g_path.to_str().unwrap(),
        "--n",
        "4",
        "--out",
        grid.to_str().unwrap(),
    ]);
    let png = image::open(&grid).unwrap();
    assert_eq!(png.width() % 34, 2, "32-pixel cells with a 2-pixel border");
    let out = ganvas(&["eval", "--checkpoint", g_path.to_str().unwrap(), "--n", "20"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("n: 20"),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let e = fails(&[&["train", "--steps", "1", "--out", run_s, "--conditional"], &small[..]].concat());
    assert!(e.contains("conditional is not built for the DCGAN"), "{e}");
    let e = fails(
        &[
            &["train", "--steps", "1", "--out", run_s, "--image-size", "28"],
            &small[..],
        ]
        .concat(),
    );
    assert!(e.contains("the DCGAN takes as 32×32 gray"), "{e}");
}

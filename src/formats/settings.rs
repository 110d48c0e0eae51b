//! The run settings as the page's form and its share links carry them
//! (`lr_g=0.0002&batch=64&seed=3&autostart=1`): their names, ranges and parsing,
//! in one place for the page (through `web`) and the tests. A value that is present
//! but malformed or out of range is reported and replaced by its default; a value
//! that is missing is simply the default.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::model::{Model, TrainConfig, DCGAN_WIDTH, MAX_BATCH, MAX_DCGAN_WIDTH, MAX_LEARNING_RATE};

/// One setting: its key in a link, its field in `TrainConfig` and its valid range.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Setting {
    pub key: &'static str,
    pub field: &'static str,
    pub integer: bool,
    pub min: f64,
    pub max: f64,
}

/// Below this a learning rate does not move an f32 parameter of ordinary size.
const MIN_LEARNING_RATE: f64 = 1e-7;
/// The largest integer a JavaScript number holds exactly: seeds pass through the page.
const MAX_SEED: f64 = 9_007_199_254_740_991.0;

pub const SETTINGS: [Setting; 9] = [
    Setting {
        key: "lr_g",
        field: "generator_lr",
        integer: false,
        min: MIN_LEARNING_RATE,
        max: MAX_LEARNING_RATE as f64,
    },
    Setting {
        key: "lr_d",
        field: "discriminator_lr",
        integer: false,
        min: MIN_LEARNING_RATE,
        max: MAX_LEARNING_RATE as f64,
    },
    // Adam's betas are below 1; this is the largest that a link's six decimals give.
    Setting {
        key: "beta1",
        field: "beta1",
        integer: false,
        min: 0.0,
        max: 0.999_999,
    },
    Setting {
        key: "beta2",
        field: "beta2",
        integer: false,
        min: 0.0,
        max: 0.999_999,
    },
    Setting {
        key: "batch",
        field: "batch",
        integer: true,
        min: 1.0,
        max: MAX_BATCH as f64,
    },
    Setting {
        key: "seed",
        field: "seed",
        integer: true,
        min: 0.0,
        max: MAX_SEED,
    },
    // 1: the conditional GAN. The config's field is a boolean; the page maps it.
    Setting {
        key: "conditional",
        field: "conditional",
        integer: true,
        min: 0.0,
        max: 1.0,
    },
    // 1: the DCGAN, of `width` (ngf = ndf). The page makes the config's `model` of
    // them and of the images it trains on.
    Setting {
        key: "model",
        field: "model",
        integer: true,
        min: 0.0,
        max: 1.0,
    },
    Setting {
        key: "width",
        field: "width",
        integer: true,
        min: 1.0,
        max: MAX_DCGAN_WIDTH as f64,
    },
];

/// Keys a link may hold besides the settings.
const OTHER_KEYS: [&str; 6] = ["autostart", "backend", "until", "lang", "data", "threads"];

/// The most threads a link may ask the page's CPU path for.
pub const MAX_THREADS: u32 = 256;

/// The page's languages, as a link names them.
pub const LANGUAGES: [&str; 2] = ["en", "ko"];

/// A present value that was not used, and why.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Problem {
    pub key: String,
    /// The value as given, at most 40 characters of it.
    pub value: String,
    /// What was wrong, for the page to say in its language.
    #[serde(flatten)]
    pub kind: ProblemKind,
    /// The same in English: "batch=0 is not valid (1 to 4096)". Shown as text, never
    /// as HTML.
    pub message: String,
}

/// Why a value was not used. The page's string tables word each kind
/// (`problemRange`, `problemChoice`, `problemUnknown`).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum ProblemKind {
    /// Not a number in `min` to `max` (a whole one where it must be), written as
    /// people read them ("1e-7", "2^53 - 1").
    Range { min: String, max: String },
    /// Not one of these words.
    Choice { choices: Vec<&'static str> },
    /// A key that is not a setting.
    Unknown,
}

impl Problem {
    fn new(key: &str, value: &str, kind: ProblemKind) -> Self {
        let (key, value) = (clip(key), clip(value));
        let message = match &kind {
            ProblemKind::Range { min, max } => format!("{key}={value} is not valid ({min} to {max})"),
            ProblemKind::Choice { choices } => format!("{key}={value} is not {}", choices.join(" or ")),
            ProblemKind::Unknown => format!("\"{key}\" is not a setting and was ignored"),
        };
        Problem {
            key,
            value,
            kind,
            message,
        }
    }
}

/// Settings read from a link or the form.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ParsedSettings {
    /// Every setting by key: the given value where valid, else the default.
    pub values: BTreeMap<&'static str, f64>,
    pub autostart: bool,
    /// `gpu` or `cpu` when the link names a valid one.
    pub backend: Option<&'static str>,
    /// The step to train to and stop at (a demo link's known state), 1 to 2³²−1.
    pub until: Option<u32>,
    /// The page's language when the link names one of `LANGUAGES`.
    pub lang: Option<&'static str>,
    /// The threads for the page's CPU path (1 to `MAX_THREADS`; where it can have more
    /// than one, all cores by default). Not part of a shared link: it is the machine's.
    pub threads: Option<u32>,
    /// `data=own`: the run was on the sender's own images, which a link cannot carry.
    pub own_images: bool,
    pub problems: Vec<Problem>,
}

/// Digits only (no sign, point or exponent), as a `u32`.
fn whole_number(raw: &str) -> Option<u32> {
    let raw = raw.trim();
    raw.chars()
        .all(|c| c.is_ascii_digit())
        .then(|| raw.parse().ok())
        .flatten()
}

/// Parses a query string (a URL's hash without `#`, or the form's fields encoded the
/// same way) as `application/x-www-form-urlencoded`, the way `URLSearchParams` does.
pub fn parse(query: &str) -> ParsedSettings {
    let defaults = default_values();
    let mut parsed = ParsedSettings {
        values: defaults.clone(),
        autostart: false,
        backend: None,
        until: None,
        lang: None,
        threads: None,
        own_images: false,
        problems: Vec::new(),
    };
    let mut problem = |key: &str, value: &str, kind: ProblemKind| parsed.problems.push(Problem::new(key, value, kind));
    let choice = |choices: &[&'static str]| ProblemKind::Choice {
        choices: choices.to_vec(),
    };
    for (key, raw) in form_urlencoded::parse(query.as_bytes()) {
        if let Some(setting) = SETTINGS.iter().find(|s| s.key == key) {
            match value(&raw, setting) {
                Some(v) => {
                    parsed.values.insert(setting.key, v);
                }
                None => problem(
                    &key,
                    &raw,
                    ProblemKind::Range {
                        min: number(setting.min),
                        max: number(setting.max),
                    },
                ),
            }
        } else if key == "backend" {
            match &*raw {
                "gpu" => parsed.backend = Some("gpu"),
                "cpu" => parsed.backend = Some("cpu"),
                _ => problem(&key, &raw, choice(&["gpu", "cpu"])),
            }
        } else if key == "lang" {
            match LANGUAGES.iter().find(|&&l| l == raw) {
                Some(&l) => parsed.lang = Some(l),
                None => problem(&key, &raw, choice(&LANGUAGES)),
            }
        } else if key == "data" {
            match &*raw {
                "own" => parsed.own_images = true,
                "mnist" => parsed.own_images = false,
                _ => problem(&key, &raw, choice(&["mnist", "own"])),
            }
        } else if key == "autostart" {
            parsed.autostart = raw == "1";
        } else if key == "until" || key == "threads" {
            let (max, field) = match &*key {
                "until" => (u32::MAX, &mut parsed.until),
                _ => (MAX_THREADS, &mut parsed.threads),
            };
            match whole_number(&raw).filter(|&n| (1..=max).contains(&n)) {
                Some(n) => *field = Some(n),
                None => problem(
                    &key,
                    &raw,
                    ProblemKind::Range {
                        min: "1".to_string(),
                        max: max.to_string(),
                    },
                ),
            }
        } else if !OTHER_KEYS.contains(&&*key) {
            problem(&key, "", ProblemKind::Unknown);
        }
    }
    parsed
}

/// Every setting's default, by key.
pub fn default_values() -> BTreeMap<&'static str, f64> {
    let d = TrainConfig::default();
    // An f32 as the decimal it was written as (2e-4, not 0.000199999994947...).
    let decimal = |x: f32| x.to_string().parse().unwrap_or(f64::from(x));
    let by_field = |field: &str| match field {
        "generator_lr" => decimal(d.generator_lr),
        "discriminator_lr" => decimal(d.discriminator_lr),
        "beta1" => d.beta1,
        "beta2" => d.beta2,
        "batch" => d.batch as f64,
        "conditional" => f64::from(u8::from(d.conditional)),
        "model" => f64::from(u8::from(d.model != Model::Mlp)),
        "width" => DCGAN_WIDTH as f64,
        _ => d.seed as f64,
    };
    SETTINGS.iter().map(|s| (s.key, by_field(s.field))).collect()
}

/// A decimal number in the setting's range (an integer where it must be one); no
/// `inf`, `NaN`, hex or empty string.
fn value(raw: &str, setting: &Setting) -> Option<f64> {
    let text = raw.trim();
    let decimal = !text.is_empty()
        && text.chars().any(|c| c.is_ascii_digit())
        && text
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '+' | '-' | '.' | 'e' | 'E'));
    let v: f64 = text.parse().ok().filter(|_| decimal)?;
    let in_range = v.is_finite() && v >= setting.min && v <= setting.max;
    (in_range && (!setting.integer || v.fract() == 0.0)).then_some(v)
}

/// A bound as people write it: 0.000001 as 1e-6, 4096 as 4096.
/// A range's end as people read it: small ones in exponent form, the seed's limit
/// as the power it is (not 9007199254740991).
fn number(x: f64) -> String {
    if x == MAX_SEED {
        "2^53 - 1".to_string()
    } else if x != 0.0 && x.abs() < 1e-3 {
        format!("{x:e}")
    } else {
        format!("{x}")
    }
}

fn clip(text: &str) -> String {
    text.chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_setting_and_the_other_keys() {
        let p =
            parse("lr_g=0.0003&lr_d=1e-4&beta1=0.6&beta2=0.99&batch=8&seed=42&conditional=1&model=1&width=32&backend=cpu&autostart=1");
        assert!(p.problems.is_empty(), "{:?}", p.problems);
        let want = [
            ("batch", 8.0),
            ("beta1", 0.6),
            ("beta2", 0.99),
            ("conditional", 1.0),
            ("lr_d", 1e-4),
            ("lr_g", 0.0003),
            ("model", 1.0),
            ("seed", 42.0),
            ("width", 32.0),
        ];
        assert_eq!(p.values, want.into_iter().collect());
        assert_eq!((p.autostart, p.backend), (true, Some("cpu")));
        assert_eq!(p.until, None);
        assert_eq!(parse("until=500").until, Some(500));
        assert_eq!(parse("threads=8").threads, Some(8));
        assert_eq!(parse("threads=256").threads, Some(256));
        for bad in [
            "threads=0",
            "threads=257",
            "threads=-2",
            "threads=2.5",
            "threads=",
            "threads=all",
        ] {
            let p = parse(bad);
            assert_eq!((p.threads, p.problems.len()), (None, 1), "{bad}");
        }
        assert_eq!((parse("lang=ko").lang, parse("lang=en").lang), (Some("ko"), Some("en")));
        assert!(parse("data=own").own_images && !parse("data=mnist").own_images && !parse("").own_images);
        assert_eq!(parse("data=mine").problems[0].message, "data=mine is not mnist or own");
        let p = parse("lang=fr");
        assert_eq!(
            (p.lang, p.problems[0].message.as_str()),
            (None, "lang=fr is not en or ko")
        );
        for bad in [
            "until=0",
            "until=-3",
            "until=1e3",
            "until=4294967296",
            "until=abc",
            "until=",
        ] {
            let p = parse(bad);
            assert_eq!((p.until, p.problems.len()), (None, 1), "{bad}");
            assert!(
                p.problems[0].message.contains("is not valid (1 to 4294967295)"),
                "{bad}: {:?}",
                p.problems
            );
        }
    }

    #[test]
    fn missing_values_are_defaults_without_a_problem() {
        let p = parse("seed=3");
        assert!(p.problems.is_empty());
        assert_eq!(p.values["batch"], 64.0);
        assert_eq!(p.values["seed"], 3.0);
        assert_eq!(parse("").values, default_values());
    }

    #[test]
    fn bad_values_are_reported_one_each_and_replaced_by_defaults() {
        let p = parse("lr_g=abc&batch=0&seed=1.5&beta1=1&lr_d=inf&color=red&backend=tpu&batch=4097");
        let keys: Vec<&str> = p.problems.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            ["lr_g", "batch", "seed", "beta1", "lr_d", "color", "backend", "batch"]
        );
        assert_eq!(p.values, default_values());
        assert_eq!(p.problems[1].message, "batch=0 is not valid (1 to 4096)");
        assert_eq!(p.problems[0].message, "lr_g=abc is not valid (1e-7 to 1)");
        assert_eq!(p.problems[2].message, "seed=1.5 is not valid (0 to 2^53 - 1)");
        assert_eq!(p.backend, None);
        assert_eq!(p.problems[5].message, "\"color\" is not a setting and was ignored");
        assert_eq!(p.values["lr_g"].to_string(), "0.0002");
    }

    #[test]
    fn problems_carry_their_kind_and_data_for_the_page() {
        let p = parse("batch=0&backend=tpu&color=red");
        let json = serde_json::to_value(&p.problems).unwrap();
        assert_eq!(
            json,
            serde_json::json!([
                {"key": "batch", "value": "0", "kind": "range", "min": "1", "max": "4096",
                 "message": "batch=0 is not valid (1 to 4096)"},
                {"key": "backend", "value": "tpu", "kind": "choice", "choices": ["gpu", "cpu"],
                 "message": "backend=tpu is not gpu or cpu"},
                {"key": "color", "value": "", "kind": "unknown",
                 "message": "\"color\" is not a setting and was ignored"},
            ])
        );
    }

    #[test]
    fn batch_limit_is_the_cores() {
        assert_eq!(parse("batch=4096").values["batch"], MAX_BATCH as f64);
        let config = TrainConfig {
            batch: MAX_BATCH + 1,
            ..Default::default()
        };
        assert!(config.validate().unwrap_err().message.starts_with("batch"));
    }

    #[test]
    fn decodes_like_url_search_params_and_clips_long_values() {
        let p = parse("lr_g=%3Cimg%20src%3Dx%3E&seed=+7");
        // '+' is a space in a query, and spaces around a number are trimmed.
        assert_eq!(p.values["seed"], 7.0);
        assert_eq!(p.problems[0].message, "lr_g=<img src=x> is not valid (1e-7 to 1)");
        let long = format!("seed={}", "9".repeat(500));
        assert!(parse(&long).problems[0].message.len() < 100);
    }
}

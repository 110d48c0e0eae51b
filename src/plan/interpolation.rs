//! The latent space: G on latent vectors interpolated between two cells of the
//! preview grid, linearly or along the great circle (slerp), and on the whole grid's
//! latents walked along great circles, for the page's latent-space view. The inputs
//! are computed here, on the CPU, from the cells' own latents (the seed's sampling
//! stream, as the preview draws them) and written on request; G's forward runs on
//! the training backend from its own parameter buffer.

use super::{Plan, PREVIEW_COLUMNS};
use crate::error::{Error, Result};
use crate::rng::{self, Stream};

/// Images in a row of in-betweens, the two ends included.
pub const INTERPOLATION_ROWS: usize = 10;

impl Plan {
    /// G's input for preview cell `cell` of the grid that `digit` picks (a row per
    /// digit when conditional and `None`): its latents and, when conditional, its label.
    pub fn preview_input_of(&self, cell: usize, digit: Option<u8>) -> Result<Vec<f32>> {
        if cell >= self.preview_rows {
            return Err(Error::new(format!("the grid has no cell {cell}")));
        }
        let width = self.generator.inputs();
        Ok(self.grid_inputs(digit, &self.grid_latents(0))?[cell * width..][..width].to_vec())
    }

    /// `preview_rows` latent vectors of the sampling stream's sequence `index`: the
    /// preview's (and the census's first) for 0.
    fn grid_latents(&self, index: u32) -> Vec<f32> {
        let mut z = vec![0.0; self.preview_rows * self.config.latent];
        rng::normals(self.config.seed, Stream::Sample, index, &mut z);
        z
    }

    /// G's input for every cell of the grid that `digit` picks, from `z` (latent
    /// vectors by row): each cell's latents and, when conditional, its label. The
    /// by-digit grid repeats its first row's latents down each column.
    fn grid_inputs(&self, digit: Option<u8>, z: &[f32]) -> Result<Vec<f32>> {
        self.preview_of(digit)?;
        let latent = self.config.latent;
        let mut inputs = Vec::with_capacity(self.preview_rows * self.generator.inputs());
        for cell in 0..self.preview_rows {
            let (row, label) = match (self.config.conditional, digit) {
                (false, _) => (cell, None),
                (true, None) => (cell % PREVIEW_COLUMNS, Some(cell / PREVIEW_COLUMNS)),
                (true, Some(d)) => (cell, Some(usize::from(d))),
            };
            inputs.extend_from_slice(&z[row * latent..][..latent]);
            inputs.extend((0..self.config.labels()).map(|c| f32::from(u8::from(Some(c) == label))));
        }
        Ok(inputs)
    }

    /// G's input for every cell of the grid that `digit` picks, each cell's latents
    /// turned by `angle` (radians) along the great circle through them and a second
    /// vector of their own (sequence 1 of the sampling stream): 0 is the grid itself,
    /// a full turn comes back, and in between the latents keep about their length
    /// (two 100-d Gaussian vectors are nearly orthogonal and of about equal length).
    pub fn walk_input(&self, angle: f64, digit: Option<u8>) -> Result<Vec<f32>> {
        if !angle.is_finite() {
            return Err(Error::new("the walk's angle is not a number"));
        }
        let (cos, sin) = (angle.cos(), angle.sin());
        let (from, toward) = (self.grid_latents(0), self.grid_latents(1));
        let turned: Vec<f32> = (from.iter().zip(&toward))
            .map(|(a, b)| (cos * f64::from(*a) + sin * f64::from(*b)) as f32)
            .collect();
        self.grid_inputs(digit, &turned)
    }

    /// `INTERPOLATION_ROWS` inputs of G from cell `from` to cell `to`: the latents
    /// linearly, or spherically (slerp, which keeps them at a Gaussian's typical
    /// length), and a conditional G's labels linearly (a blend of two digits between).
    pub fn interpolation_input(&self, from: usize, to: usize, digit: Option<u8>, spherical: bool) -> Result<Vec<f32>> {
        let (a, b) = (self.preview_input_of(from, digit)?, self.preview_input_of(to, digit)?);
        let latent = self.config.latent;
        let (za, zb) = (&a[..latent], &b[..latent]);
        let norm = |v: &[f32]| v.iter().map(|x| f64::from(*x).powi(2)).sum::<f64>().sqrt();
        let cosine = za
            .iter()
            .zip(zb)
            .map(|(x, y)| f64::from(*x) * f64::from(*y))
            .sum::<f64>()
            / (norm(za) * norm(zb));
        let angle = cosine.clamp(-1.0, 1.0).acos();
        let mut rows = Vec::with_capacity(INTERPOLATION_ROWS * a.len());
        for i in 0..INTERPOLATION_ROWS {
            let t = i as f64 / (INTERPOLATION_ROWS - 1) as f64;
            // Nearly parallel vectors slerp as lerp does.
            let (wa, wb) = match spherical && angle.sin().abs() > 1e-6 {
                true => (((1.0 - t) * angle).sin() / angle.sin(), (t * angle).sin() / angle.sin()),
                false => (1.0 - t, t),
            };
            let blend = |x: &f32, y: &f32| (wa * f64::from(*x) + wb * f64::from(*y)) as f32;
            rows.extend(za.iter().zip(zb).map(|(x, y)| blend(x, y)));
            let lerp = |x: &f32, y: &f32| ((1.0 - t) * f64::from(*x) + t * f64::from(*y)) as f32;
            rows.extend(a[latent..].iter().zip(&b[latent..]).map(|(x, y)| lerp(x, y)));
        }
        Ok(rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TrainConfig;

    #[test]
    fn in_betweens_start_and_end_at_the_cells_and_slerp_keeps_their_length() {
        let plan = Plan::training(&TrainConfig::default(), 784, 60_000).unwrap();
        let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
        for spherical in [false, true] {
            let rows = plan.interpolation_input(3, 40, None, spherical).unwrap();
            let latent = 100;
            assert_eq!(rows.len(), INTERPOLATION_ROWS * latent);
            assert_eq!(&rows[..latent], &plan.preview_input_of(3, None).unwrap()[..]);
            let last = &rows[(INTERPOLATION_ROWS - 1) * latent..];
            let want = plan.preview_input_of(40, None).unwrap();
            assert!(last.iter().zip(&want).all(|(a, b)| (a - b).abs() < 1e-5));
            // Two independent 100-d Gaussians are nearly orthogonal: a straight line
            // between them dips to ~0.7 of their length in the middle, a slerp not.
            let middle = norm(&rows[4 * latent..5 * latent]) / norm(&rows[..latent]);
            match spherical {
                true => assert!(middle > 0.9, "{middle}"),
                false => assert!(middle < 0.8, "{middle}"),
            }
        }
        assert!(plan.interpolation_input(0, 64, None, false).is_err());
        assert!(plan.interpolation_input(0, 1, Some(3), false).is_err());
    }

    #[test]
    fn the_walk_starts_at_the_grid_comes_back_and_keeps_the_latents_length() {
        for conditional in [false, true] {
            let config = TrainConfig {
                conditional,
                ..Default::default()
            };
            let plan = Plan::training(&config, 784, 60_000).unwrap();
            let width = plan.generator.inputs();
            let grid: Vec<f32> = (0..plan.preview_rows)
                .flat_map(|cell| plan.preview_input_of(cell, None).unwrap())
                .collect();
            assert_eq!(plan.walk_input(0.0, None).unwrap(), grid);
            let round = plan.walk_input(std::f64::consts::TAU, None).unwrap();
            assert!(round.iter().zip(&grid).all(|(a, b)| (a - b).abs() < 1e-5));
            let norm = |v: &[f32]| v[..100].iter().map(|x| x * x).sum::<f32>().sqrt();
            let quarter = plan.walk_input(1.0, None).unwrap();
            for cell in 0..plan.preview_rows {
                let (a, b) = (&grid[cell * width..][..width], &quarter[cell * width..][..width]);
                assert_ne!(a[..100], b[..100], "the latents move");
                let ratio = norm(b) / norm(a);
                assert!((0.7..1.4).contains(&ratio), "cell {cell}: length ratio {ratio}");
                assert_eq!(a[100..], b[100..], "labels stay");
            }
            if conditional {
                // A column keeps one style as it walks: the same latents down it.
                assert_eq!(quarter[..100], quarter[8 * width..][..100]);
            }
        }
        let plan = Plan::training(&TrainConfig::default(), 784, 60_000).unwrap();
        assert!(plan.walk_input(f64::NAN, None).is_err());
        assert!(
            plan.walk_input(0.5, Some(3)).is_err(),
            "no digit for an unconditional grid"
        );
    }

    #[test]
    fn a_conditional_grid_cell_is_its_column_latents_and_its_row_digit() {
        let config = TrainConfig {
            conditional: true,
            ..Default::default()
        };
        let plan = Plan::training(&config, 784, 60_000).unwrap();
        // Cell 13: row 1 (the digit 1), column 5 (the latents of cell 5).
        let cell = plan.preview_input_of(13, None).unwrap();
        assert_eq!(cell[..100], plan.preview_input_of(5, None).unwrap()[..100]);
        assert_eq!(cell[100..], [0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
        // All sevens: cell 13 has latents of its own.
        let seven = plan.preview_input_of(13, Some(7)).unwrap();
        assert_ne!(seven[..100], cell[..100]);
        assert_eq!(seven[107], 1.0);
        // Between a 1 and a 3, the labels blend.
        let rows = plan.interpolation_input(13, 29, None, false).unwrap();
        let middle = &rows[5 * 110 + 100..6 * 110];
        assert!(middle[1] > 0.0 && middle[3] > 0.0 && (middle[1] + middle[3] - 1.0).abs() < 1e-6);
    }
}

//! What a run is at a given step: everything a checkpoint holds, independent of backend.

use super::{Network, StatePart, TrainConfig};
use crate::error::{Error, Result};

/// A network's parameters, Adam moments and statistics, flat in the layout of `Network`.
#[derive(Clone, Debug, PartialEq)]
pub struct NetworkState {
    pub params: Vec<f32>,
    pub exp_avg: Vec<f32>,
    pub exp_avg_sq: Vec<f32>,
    pub statistics: Vec<f32>,
}

impl NetworkState {
    pub fn initial(net: &Network, seed: u64) -> Self {
        NetworkState {
            params: net.initial_parameters(seed),
            exp_avg: vec![0.0; net.parameter_count],
            exp_avg_sq: vec![0.0; net.parameter_count],
            statistics: net.initial_statistics(),
        }
    }

    /// From the values of each of `StatePart::ALL`, in that order.
    pub fn from_parts(parts: [Vec<f32>; StatePart::ALL.len()]) -> Self {
        let mut state = NetworkState {
            params: Vec::new(),
            exp_avg: Vec::new(),
            exp_avg_sq: Vec::new(),
            statistics: Vec::new(),
        };
        for (part, values) in StatePart::ALL.into_iter().zip(parts) {
            *state.part_mut(part) = values;
        }
        state
    }

    pub fn part(&self, part: StatePart) -> &[f32] {
        match part {
            StatePart::Parameters => &self.params,
            StatePart::FirstMoment => &self.exp_avg,
            StatePart::SecondMoment => &self.exp_avg_sq,
            StatePart::Statistics => &self.statistics,
        }
    }

    fn part_mut(&mut self, part: StatePart) -> &mut Vec<f32> {
        match part {
            StatePart::Parameters => &mut self.params,
            StatePart::FirstMoment => &mut self.exp_avg,
            StatePart::SecondMoment => &mut self.exp_avg_sq,
            StatePart::Statistics => &mut self.statistics,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct TrainingState {
    pub config: TrainConfig,
    /// Training steps completed; also Adam's step count for both networks.
    pub step: u32,
    pub generator: NetworkState,
    pub discriminator: NetworkState,
}

impl TrainingState {
    pub fn initial(config: &TrainConfig, pixels: usize) -> Self {
        TrainingState {
            config: config.clone(),
            step: 0,
            generator: NetworkState::initial(&config.generator(pixels), config.seed),
            discriminator: NetworkState::initial(&config.discriminator(pixels), config.seed),
        }
    }
}

impl TrainingState {
    /// Checks that every vector has the length of the buffer it fills for these networks.
    pub fn check_layout(&self, generator: &Network, discriminator: &Network) -> Result<()> {
        for (net, state) in [(generator, &self.generator), (discriminator, &self.discriminator)] {
            let lengths = StatePart::ALL.map(|part| state.part(part).len());
            let needed = StatePart::ALL.map(|part| net.part_len(part));
            if lengths != needed {
                return Err(Error::new(format!(
                    "the {} state has {lengths:?} values where the run needs {needed:?} (parameters, moments, statistics): it was made for other layers or image sizes",
                    net.kind.name(),
                )));
            }
        }
        Ok(())
    }
}

/// Means over the steps since the previous read.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Stats {
    pub steps: u32,
    pub discriminator_loss: f32,
    pub generator_loss: f32,
    /// Mean D(x) on real images.
    pub probability_real: f32,
    /// Mean D(G(z)) before the discriminator update.
    pub probability_fake: f32,
}

impl Stats {
    /// From the running sums, in the order of `kernels::bce::StatSlot`.
    pub fn from_sums(sums: [f32; 4], steps: u32) -> Self {
        let mean = |x: f32| if steps == 0 { 0.0 } else { x / steps as f32 };
        Stats {
            steps,
            discriminator_loss: mean(sums[0]),
            generator_loss: mean(sums[1]),
            probability_real: mean(sums[2]),
            probability_fake: mean(sums[3]),
        }
    }

    pub fn is_finite(&self) -> bool {
        [
            self.discriminator_loss,
            self.generator_loss,
            self.probability_real,
            self.probability_fake,
        ]
        .iter()
        .all(|x| x.is_finite())
    }
}

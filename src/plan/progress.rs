//! What both trainers track between steps besides the step itself, so that they
//! run steps, halves and epochs alike: which epoch's shuffle the batches are
//! gathered in, whether the current step's D half ran alone, and the steps since
//! the stats were last taken.

use super::{Half, Request, Training};
use crate::rng;

#[derive(Debug, Default)]
pub struct Progress {
    order_epoch: Option<u32>,
    /// D's half of the current step has run on its own (`half`).
    discriminator_done: bool,
    steps_since_stats: u32,
}

impl Progress {
    /// The shuffle that step `step` gathers from, when it is not the one in use.
    pub fn order_for(&mut self, step: u32, plan: &impl Training, image_count: usize) -> Option<Vec<u32>> {
        let epoch = step / plan.steps_per_epoch();
        if self.order_epoch == Some(epoch) {
            return None;
        }
        self.order_epoch = Some(epoch);
        Some(rng::epoch_order(plan.shuffle_seed(), epoch, image_count))
    }

    /// The requests that run `half` now (`Request::for_half`).
    pub fn half(&mut self, half: Half) -> &'static [Request] {
        let requests = Request::for_half(half, self.discriminator_done);
        self.discriminator_done = half == Half::Discriminator;
        requests
    }

    /// How `steps` training steps from `step` run: first, if `true`, the G half that
    /// ends a step whose D half ran alone; then whole steps, in runs that each stay
    /// within one epoch (one shuffle).
    pub fn runs(&mut self, step: u32, steps: u32, steps_per_epoch: u32) -> (bool, Vec<u32>) {
        let finish_half = self.discriminator_done && steps > 0;
        let (mut step, mut left) = (step, steps);
        if finish_half {
            self.discriminator_done = false;
            (step, left) = (step + 1, left - 1);
        }
        let mut runs = Vec::new();
        while left > 0 {
            let count = left.min(steps_per_epoch - step % steps_per_epoch);
            runs.push(count);
            (step, left) = (step + count, left - count);
        }
        (finish_half, runs)
    }

    /// Counts steps run (whole, or ended by a half) toward the next stats.
    pub fn count(&mut self, steps: u32) {
        self.steps_since_stats += steps;
    }

    /// The steps counted since the last call.
    pub fn take_count(&mut self) -> u32 {
        std::mem::take(&mut self.steps_since_stats)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_end_a_pending_half_then_stay_within_epochs() {
        let mut progress = Progress::default();
        assert_eq!(progress.runs(2, 9, 4), (false, vec![2, 4, 3]));
        assert_eq!(progress.runs(4, 0, 4), (false, vec![]));
        assert_eq!(progress.half(Half::Discriminator), [Request::DiscriminatorHalf]);
        assert_eq!(
            progress.half(Half::Discriminator),
            [Request::FinishStep, Request::DiscriminatorHalf]
        );
        assert_eq!(progress.runs(3, 0, 4), (false, vec![]), "no step asked: the half waits");
        assert_eq!(progress.runs(3, 6, 4), (true, vec![4, 1]));
        assert_eq!(progress.runs(9, 2, 4), (false, vec![2]));
    }
}

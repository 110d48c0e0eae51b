//! The CPU backend's threads in a browser: a rayon pool whose threads are Web
//! Workers sharing the wasm module's memory. Only the threaded build (atomics, shared
//! memory; `cargo xtask build` makes it beside the single-threaded one) has them.
//!
//! A pool is made here with its threads parked in a queue; the page then starts one
//! worker for each (www/cpu-thread.js), which instantiates the module on the same
//! memory and calls `run_pool_thread`, running one parked thread until the pool
//! ends. A trainer on the pool blocks its own worker (www/cpu-worker.js) while the
//! pool computes, as natively; workers may block (Atomics.wait), pages may not.
//!
//! Our own, not the wasm-bindgen-rayon crate: that one builds rayon's *global* pool,
//! while a CPU trainer runs on a pool of its own (`CpuThreads`), with the thread count
//! it was given, by the same code as natively; and this is all the code it takes.

use std::sync::Mutex;

use wasm_bindgen::prelude::*;

use crate::backend::cpu::CpuThreads;

/// The threads of pools made here that no worker runs yet.
static PARKED: Mutex<Vec<rayon::ThreadBuilder>> = Mutex::new(Vec::new());

/// The threads a CPU trainer in the page runs on (`WebTrainer::create`).
#[wasm_bindgen]
pub struct WebThreadPool(pub(super) CpuThreads);

#[wasm_bindgen]
impl WebThreadPool {
    /// `threads` threads, which compute once `workers()` workers have each called
    /// `run_pool_thread`. One thread is the calling thread alone (no workers), as
    /// natively. Fails in the single-threaded build, whose memory cannot be shared.
    #[wasm_bindgen(constructor)]
    pub fn new(threads: usize) -> Result<WebThreadPool, JsValue> {
        if !cfg!(target_feature = "atomics") {
            return Err(JsValue::from(js_sys::Error::new(
                "this build of ganvas is the single-threaded one: its memory cannot be shared with other workers",
            )));
        }
        if threads <= 1 {
            return Ok(WebThreadPool(CpuThreads::default()));
        }
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .spawn_handler(|thread| {
                PARKED
                    .lock()
                    .map_err(|e| std::io::Error::other(e.to_string()))?
                    .push(thread);
                Ok(())
            })
            .build()
            .map_err(|e| JsValue::from(js_sys::Error::new(&e.to_string())))?;
        Ok(WebThreadPool(CpuThreads::on_pool(pool)))
    }

    /// The threads the ops are split over.
    pub fn threads(&self) -> usize {
        self.0.count()
    }

    /// The workers to start for it: one for each of its threads, none for one thread.
    pub fn workers(&self) -> usize {
        match self.0.count() {
            1 => 0,
            n => n,
        }
    }

    /// Another handle on the same threads, for a trainer to take.
    pub fn share(&self) -> WebThreadPool {
        WebThreadPool(self.0.clone())
    }
}

/// Runs one parked pool thread on the calling worker until its pool ends, then
/// returns true; returns false at once when no thread is parked.
#[wasm_bindgen]
pub fn run_pool_thread() -> bool {
    let parked = PARKED.lock().ok().and_then(|mut parked| parked.pop());
    match parked {
        Some(thread) => {
            thread.run();
            true
        }
        None => false,
    }
}

//! A fixed team of threads for the many small parallel regions of a decode
//! step: about 150 per token (five products and the attention in each of 30
//! layers), each a few tens of microseconds of work. A general-purpose pool
//! (rayon) puts its idle workers to sleep between regions and wakes them
//! through the kernel, which cost about a fifth of single-stream decode
//! (measured with perf). Here the helpers are started once and, between
//! regions, spin on a counter the caller bumps — as llama.cpp's thread pool
//! does — so handing out a region costs a cache-line transfer. A helper that
//! sees no work for [`SPIN_WINDOW`] sleeps on a condition variable, so an
//! idle server does not keep a core busy.
//!
//! The caller takes part: it claims tasks from the same counter as the
//! helpers and returns only when every claimed task has finished, which is
//! what makes lending the job's borrowed closure to the helpers sound.
#![allow(unsafe_code)]

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long a helper spins for the next region before it sleeps.
const SPIN_WINDOW: Duration = Duration::from_millis(2);

/// A region's work: called once with each task index.
type Job<'a> = dyn Fn(usize) + Sync + 'a;

struct Shared {
    /// Bumped once per region; helpers watch it.
    epoch: AtomicU64,
    /// A pointer to the caller's `&Job` for the current region. Written
    /// before `epoch` is bumped (release), read after a helper sees the new
    /// epoch (acquire); valid until `busy` drops to zero, which the caller
    /// waits for before its borrow ends.
    job: AtomicPtr<()>,
    /// The next task index to claim, and how many there are.
    next: AtomicUsize,
    tasks: AtomicUsize,
    /// Helpers still inside the current region.
    busy: AtomicUsize,
    /// A task panicked in a helper; the caller panics in turn.
    panicked: AtomicBool,
    stop: AtomicBool,
    /// Helpers asleep, and where they sleep.
    sleeping: AtomicUsize,
    sleep_lock: Mutex<()>,
    wake: Condvar,
}

/// The team: the calling thread plus `threads - 1` helpers.
pub(crate) struct Team {
    shared: Arc<Shared>,
    helpers: Vec<JoinHandle<()>>,
    /// One region at a time (the model may be shared between threads).
    running: Mutex<()>,
}

impl Team {
    /// A team of `threads` threads in all (the caller counts as one).
    pub(crate) fn new(threads: usize) -> Team {
        let shared = Arc::new(Shared {
            epoch: AtomicU64::new(0),
            job: AtomicPtr::new(std::ptr::null_mut()),
            next: AtomicUsize::new(0),
            tasks: AtomicUsize::new(0),
            busy: AtomicUsize::new(0),
            panicked: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            sleeping: AtomicUsize::new(0),
            sleep_lock: Mutex::new(()),
            wake: Condvar::new(),
        });
        let helpers = (1..threads.max(1))
            .map(|i| {
                let shared = Arc::clone(&shared);
                std::thread::Builder::new()
                    .name(format!("vigie-local-{i}"))
                    .spawn(move || helper(&shared))
                    .expect("a helper thread starts")
            })
            .collect();
        Team {
            shared,
            helpers,
            running: Mutex::new(()),
        }
    }

    /// Threads that work on a region, the caller included.
    pub(crate) fn threads(&self) -> usize {
        self.helpers.len() + 1
    }

    /// Runs `job(t)` for every `t` in `0..tasks`, spread over the team, and
    /// returns when all have finished. A panic in any task panics here.
    pub(crate) fn run(&self, tasks: usize, job: &Job<'_>) {
        if self.helpers.is_empty() || tasks <= 1 {
            (0..tasks).for_each(job);
            return;
        }
        let _one_at_a_time = self.running.lock().unwrap_or_else(|e| e.into_inner());
        let s = &*self.shared;
        let fat: &Job<'_> = job;
        s.job
            .store(&fat as *const &Job<'_> as *mut (), Ordering::Relaxed);
        s.tasks.store(tasks, Ordering::Relaxed);
        s.next.store(0, Ordering::Relaxed);
        s.busy.store(self.helpers.len(), Ordering::Relaxed);
        s.epoch.fetch_add(1, Ordering::SeqCst);
        if s.sleeping.load(Ordering::SeqCst) > 0 {
            let _guard = s.sleep_lock.lock().unwrap_or_else(|e| e.into_inner());
            s.wake.notify_all();
        }
        let mine = catch_unwind(AssertUnwindSafe(|| claim(s, job)));
        // The helpers may still hold `fat`: wait until every one has left the region.
        while s.busy.load(Ordering::Acquire) != 0 {
            std::hint::spin_loop();
        }
        if let Err(panic) = mine {
            std::panic::resume_unwind(panic);
        }
        if s.panicked.swap(false, Ordering::Relaxed) {
            panic!("a task of the local model panicked on a helper thread");
        }
    }
}

fn claim(s: &Shared, job: &Job<'_>) {
    let tasks = s.tasks.load(Ordering::Relaxed);
    loop {
        let t = s.next.fetch_add(1, Ordering::Relaxed);
        if t >= tasks {
            break;
        }
        job(t);
    }
}

fn helper(s: &Shared) {
    let mut seen = 0u64;
    loop {
        // Spin for the next region, then sleep.
        let started = Instant::now();
        let mut spins = 0u32;
        while s.epoch.load(Ordering::Acquire) == seen && !s.stop.load(Ordering::Relaxed) {
            std::hint::spin_loop();
            spins = spins.wrapping_add(1);
            if spins.is_multiple_of(1024) && started.elapsed() > SPIN_WINDOW {
                s.sleeping.fetch_add(1, Ordering::SeqCst);
                let mut guard = s.sleep_lock.lock().unwrap_or_else(|e| e.into_inner());
                while s.epoch.load(Ordering::SeqCst) == seen && !s.stop.load(Ordering::SeqCst) {
                    guard = s.wake.wait(guard).unwrap_or_else(|e| e.into_inner());
                }
                drop(guard);
                s.sleeping.fetch_sub(1, Ordering::SeqCst);
            }
        }
        if s.stop.load(Ordering::Relaxed) {
            return;
        }
        seen = s.epoch.load(Ordering::Acquire);
        // SAFETY: the epoch was bumped (release) after `job` was stored, and
        // we read it after seeing that epoch (acquire); the caller does not
        // return, so the `&Job` it points to stays alive, until `busy`
        // drops to zero, which happens only after this use.
        let job: &Job<'_> = unsafe { *(s.job.load(Ordering::Relaxed) as *const &Job<'_>) };
        if catch_unwind(AssertUnwindSafe(|| claim(s, job))).is_err() {
            s.panicked.store(true, Ordering::Relaxed);
        }
        s.busy.fetch_sub(1, Ordering::Release);
    }
}

impl Drop for Team {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        {
            let _guard = self
                .shared
                .sleep_lock
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            self.shared.wake.notify_all();
        }
        for helper in self.helpers.drain(..) {
            let _ = helper.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU32;

    #[test]
    fn every_task_runs_once_across_many_regions_and_after_sleeping() {
        let team = Team::new(3);
        assert_eq!(team.threads(), 3);
        for tasks in [0, 1, 2, 7, 64] {
            let hits: Vec<AtomicU32> = (0..tasks).map(|_| AtomicU32::new(0)).collect();
            for _ in 0..200 {
                team.run(tasks, &|t| {
                    hits[t].fetch_add(1, Ordering::Relaxed);
                });
            }
            assert!(
                hits.iter().all(|h| h.load(Ordering::Relaxed) == 200),
                "tasks = {tasks}"
            );
        }
        // Helpers asleep after the spin window still wake for the next region.
        std::thread::sleep(SPIN_WINDOW * 3);
        let sum = AtomicUsize::new(0);
        team.run(100, &|t| {
            sum.fetch_add(t, Ordering::Relaxed);
        });
        assert_eq!(sum.load(Ordering::Relaxed), 4950);
    }

    #[test]
    fn a_panicking_task_panics_the_caller_and_the_team_goes_on() {
        let team = Team::new(2);
        let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
            team.run(8, &|t| {
                if t == 5 {
                    panic!("task 5");
                }
            })
        }));
        assert!(result.is_err());
        let count = AtomicUsize::new(0);
        team.run(8, &|_| {
            count.fetch_add(1, Ordering::Relaxed);
        });
        assert_eq!(count.load(Ordering::Relaxed), 8);
    }
}

//! Adaptive concurrency: additive increase, multiplicative decrease (AIMD)
//! over a semaphore. A 429 halves the number of requests allowed in flight
//! (at most once per cool-down, so one burst of 429s counts once); each
//! success adds 1/limit, so the limit regrows by one per window of successes.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

const DECREASE_COOLDOWN: Duration = Duration::from_millis(500);

/// A concurrency limit that adapts to the server's 429s.
#[derive(Debug)]
pub struct AdaptiveLimiter {
    semaphore: Arc<Semaphore>,
    state: Mutex<State>,
    max: usize,
}

#[derive(Debug)]
struct State {
    limit: f64,
    /// Permits in circulation (in flight plus available), excluding debt.
    cap: usize,
    /// Permits to destroy as they come back, after a decrease.
    debt: usize,
    last_decrease: Option<Instant>,
}

/// Leave to send one request; returned (or destroyed, after a decrease) on drop.
#[derive(Debug)]
pub struct Permit {
    permit: Option<OwnedSemaphorePermit>,
    limiter: Arc<AdaptiveLimiter>,
}

impl Drop for Permit {
    fn drop(&mut self) {
        let Some(permit) = self.permit.take() else {
            return;
        };
        let mut state = self.limiter.state.lock().expect("limiter lock");
        if state.debt > 0 {
            state.debt -= 1;
            permit.forget();
        }
    }
}

impl AdaptiveLimiter {
    /// A limiter that allows up to `max` requests in flight.
    pub fn new(max: usize) -> Arc<AdaptiveLimiter> {
        let max = max.max(1);
        Arc::new(AdaptiveLimiter {
            semaphore: Arc::new(Semaphore::new(max)),
            state: Mutex::new(State {
                limit: max as f64,
                cap: max,
                debt: 0,
                last_decrease: None,
            }),
            max,
        })
    }

    /// Waits for leave to send.
    pub async fn acquire(self: &Arc<Self>) -> Permit {
        let permit = self
            .semaphore
            .clone()
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        Permit {
            permit: Some(permit),
            limiter: self.clone(),
        }
    }

    /// The current limit, rounded down.
    pub fn limit(&self) -> usize {
        self.state.lock().expect("limiter lock").cap
    }

    /// A request succeeded: grow by 1/limit.
    pub fn on_success(&self) {
        let mut state = self.state.lock().expect("limiter lock");
        if state.cap >= self.max {
            return;
        }
        state.limit = (state.limit + 1.0 / state.limit).min(self.max as f64);
        let target = state.limit.floor() as usize;
        while state.cap < target {
            if state.debt > 0 {
                state.debt -= 1;
            } else {
                self.semaphore.add_permits(1);
            }
            state.cap += 1;
        }
    }

    /// The server said 429: halve, unless it was just halved.
    pub fn on_rate_limited(&self) {
        let mut state = self.state.lock().expect("limiter lock");
        if state
            .last_decrease
            .is_some_and(|t| t.elapsed() < DECREASE_COOLDOWN)
        {
            return;
        }
        state.last_decrease = Some(Instant::now());
        state.limit = (state.limit / 2.0).max(1.0);
        let target = state.limit.floor() as usize;
        while state.cap > target {
            match self.semaphore.try_acquire() {
                Ok(permit) => permit.forget(),
                Err(_) => state.debt += 1,
            }
            state.cap -= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn halves_on_429_and_regrows_on_success() {
        let limiter = AdaptiveLimiter::new(8);
        let held: Vec<Permit> = futures_join(&limiter, 8).await;
        limiter.on_rate_limited();
        assert_eq!(limiter.limit(), 4);
        limiter.on_rate_limited();
        assert_eq!(
            limiter.limit(),
            4,
            "a second 429 within the cool-down does not count"
        );
        drop(held);
        // Four of the eight returned permits were destroyed: only four can be held now.
        let held = futures_join(&limiter, 4).await;
        assert!(limiter.semaphore.try_acquire().is_err());
        drop(held);
        // Additive increase: 1/limit per success, so about `limit` successes add one permit.
        for _ in 0..4 {
            limiter.on_success();
        }
        assert_eq!(limiter.limit(), 4, "4.92 rounds down");
        limiter.on_success();
        assert_eq!(limiter.limit(), 5);
        let held = futures_join(&limiter, 5).await;
        assert!(limiter.semaphore.try_acquire().is_err());
        drop(held);
        for _ in 0..100 {
            limiter.on_success();
        }
        assert_eq!(limiter.limit(), 8, "never above the maximum");
    }

    async fn futures_join(limiter: &Arc<AdaptiveLimiter>, n: usize) -> Vec<Permit> {
        let mut permits = Vec::new();
        for _ in 0..n {
            permits.push(
                tokio::time::timeout(Duration::from_secs(1), limiter.acquire())
                    .await
                    .expect("a permit is free"),
            );
        }
        permits
    }
}

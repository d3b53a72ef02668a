//! Progress of a run, or of a campaign's runs, on stderr: bars on a
//! terminal, a line every ten seconds otherwise (CI logs), never on stdout.

use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressState, ProgressStyle};
use vigie_eval::engine::Observer;
use vigie_log::SampleRecord;
use vigie_providers::ProviderStats;

const PLAIN_EVERY: Duration = Duration::from_secs(10);
const MESSAGE_EVERY_MS: u64 = 100;

pub(crate) struct Progress {
    bar: Option<ProgressBar>,
    stats: Vec<Arc<ProviderStats>>,
    started: Instant,
    tokens: AtomicU64,
    /// Spending so far, in millionths of a US dollar (when the model has a price).
    micro_usd: AtomicU64,
    errors: AtomicU64,
    done: AtomicU64,
    planned: AtomicU64,
    resumed: AtomicU64,
    last_message_ms: AtomicU64,
    last_plain: Mutex<Instant>,
    enabled: bool,
}

impl Progress {
    /// `enabled` false shows nothing at all (`--no-progress`).
    pub(crate) fn new(stats: Vec<Arc<ProviderStats>>, enabled: bool) -> Progress {
        let terminal = enabled && std::io::stderr().is_terminal();
        let bar = terminal.then(|| {
            let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(
                    "{spinner:.cyan} {pos}/{len} [{bar:28.cyan/blue}] {rate} ETA {eta} {msg}",
                )
                .expect("a valid template")
                .with_key(
                    "rate",
                    |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                        let _ = write!(w, "{:.1}/s", state.per_sec());
                    },
                )
                .progress_chars("=> "),
            );
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        Progress {
            bar,
            stats,
            started: Instant::now(),
            tokens: AtomicU64::new(0),
            micro_usd: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            done: AtomicU64::new(0),
            planned: AtomicU64::new(0),
            resumed: AtomicU64::new(0),
            last_message_ms: AtomicU64::new(0),
            last_plain: Mutex::new(Instant::now()),
            enabled,
        }
    }

    fn retries(&self) -> u64 {
        self.stats
            .iter()
            .map(|s| s.retries.load(Ordering::Relaxed))
            .sum()
    }

    fn summary(&self) -> String {
        let micro_usd = self.micro_usd.load(Ordering::Relaxed);
        let cost = if micro_usd > 0 {
            format!(" · ${:.2}", micro_usd as f64 / 1e6)
        } else {
            String::new()
        };
        format!(
            "tokens {}{cost} · retries {} · errors {}",
            human_count(self.tokens.load(Ordering::Relaxed)),
            self.retries(),
            self.errors.load(Ordering::Relaxed)
        )
    }

    /// Clears the bar before the results are printed.
    pub(crate) fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

impl Observer for Progress {
    fn on_start(&self, planned: usize, already_done: usize) {
        self.planned.store(planned as u64, Ordering::Relaxed);
        self.resumed.store(already_done as u64, Ordering::Relaxed);
        self.done.store(already_done as u64, Ordering::Relaxed);
        if let Some(bar) = &self.bar {
            bar.set_length(planned as u64);
            bar.set_position(already_done as u64);
            bar.reset_eta();
            bar.set_message(self.summary());
        } else if self.enabled && already_done > 0 {
            eprintln!("resuming: {already_done} of {planned} records already done");
        }
    }

    fn on_record(&self, record: &SampleRecord) {
        self.tokens
            .fetch_add(record.usage.total_tokens, Ordering::Relaxed);
        if let Some(cost) = record.cost_usd {
            // Millionths of a dollar: an atomic counter, exact enough for a display.
            self.micro_usd
                .fetch_add((cost * 1e6).round() as u64, Ordering::Relaxed);
        }
        if record.error.is_some() {
            self.errors.fetch_add(1, Ordering::Relaxed);
        }
        let done = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        let elapsed_ms = self.started.elapsed().as_millis() as u64;
        if let Some(bar) = &self.bar {
            bar.inc(1);
            let last = self.last_message_ms.load(Ordering::Relaxed);
            if elapsed_ms >= last + MESSAGE_EVERY_MS {
                self.last_message_ms.store(elapsed_ms, Ordering::Relaxed);
                bar.set_message(self.summary());
            }
        } else if self.enabled {
            let mut last = self.last_plain.lock().expect("progress lock");
            if last.elapsed() >= PLAIN_EVERY {
                *last = Instant::now();
                let planned = self.planned.load(Ordering::Relaxed);
                let new = done - self.resumed.load(Ordering::Relaxed);
                let rate = new as f64 / self.started.elapsed().as_secs_f64().max(1e-9);
                eprintln!("{done}/{planned} done, {rate:.1}/s, {}", self.summary());
            }
        }
    }
}

/// 12345 → `12.3k`.
pub(crate) fn human_count(n: u64) -> String {
    match n {
        0..=9_999 => n.to_string(),
        10_000..=999_999 => format!("{:.1}k", n as f64 / 1e3),
        _ => format!("{:.2}M", n as f64 / 1e6),
    }
}

/// The progress of a campaign: a bar for the whole and one per run on a
/// terminal; otherwise a line every ten seconds with the whole and the runs
/// still going.
pub(crate) struct CampaignProgress {
    multi: Option<MultiProgress>,
    total: Option<ProgressBar>,
    stats: Vec<Arc<ProviderStats>>,
    runs: Mutex<Vec<Arc<RunCounts>>>,
    last_plain: Mutex<Instant>,
    enabled: bool,
}

/// One run's counts, and its bar on a terminal.
pub(crate) struct RunCounts {
    label: String,
    planned: AtomicU64,
    done: AtomicU64,
    errors: AtomicU64,
    bar: Option<ProgressBar>,
    campaign: std::sync::Weak<CampaignProgress>,
}

impl CampaignProgress {
    pub(crate) fn new(stats: Vec<Arc<ProviderStats>>, enabled: bool) -> CampaignProgress {
        let multi = (enabled && std::io::stderr().is_terminal())
            .then(|| MultiProgress::with_draw_target(ProgressDrawTarget::stderr()));
        let total = multi.as_ref().map(|m| {
            let bar = m.add(ProgressBar::new(0));
            bar.set_style(
                ProgressStyle::with_template(
                    "{prefix:>32} {pos}/{len} [{bar:28.cyan/blue}] ETA {eta} {msg}",
                )
                .expect("a valid template")
                .progress_chars("=> "),
            );
            bar.set_prefix("campaign");
            bar.enable_steady_tick(Duration::from_millis(200));
            bar
        });
        CampaignProgress {
            multi,
            total,
            stats,
            runs: Mutex::new(Vec::new()),
            last_plain: Mutex::new(Instant::now()),
            enabled,
        }
    }

    /// The observer of one run, shown as `label`.
    pub(crate) fn run_line(self: &Arc<Self>, label: &str) -> Arc<RunCounts> {
        let bar = self.multi.as_ref().map(|m| {
            let bar = m.add(ProgressBar::new(0));
            bar.set_style(
                ProgressStyle::with_template(
                    "{prefix:>32} {pos}/{len} [{bar:28.green/white}] {msg}",
                )
                .expect("a valid template")
                .progress_chars("=> "),
            );
            let shown: String = label
                .chars()
                .rev()
                .take(32)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            bar.set_prefix(shown);
            bar
        });
        let counts = Arc::new(RunCounts {
            label: label.to_string(),
            planned: AtomicU64::new(0),
            done: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            bar,
            campaign: Arc::downgrade(self),
        });
        self.runs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(counts.clone());
        counts
    }

    fn totals(&self) -> (u64, u64, u64, usize, usize) {
        let runs = self.runs.lock().unwrap_or_else(|e| e.into_inner());
        let (mut done, mut planned, mut errors, mut finished) = (0, 0, 0, 0);
        for r in runs.iter() {
            let (d, p) = (
                r.done.load(Ordering::Relaxed),
                r.planned.load(Ordering::Relaxed),
            );
            done += d;
            planned += p;
            errors += r.errors.load(Ordering::Relaxed);
            finished += usize::from(p > 0 && d >= p);
        }
        (done, planned, errors, finished, runs.len())
    }

    fn changed(&self) {
        let (done, planned, errors, finished, runs) = self.totals();
        let retries: u64 = self
            .stats
            .iter()
            .map(|s| s.retries.load(Ordering::Relaxed))
            .sum();
        if let Some(total) = &self.total {
            total.set_length(planned);
            total.set_position(done);
            total.set_message(format!(
                "{finished}/{runs} runs · retries {retries} · errors {errors}"
            ));
        } else if self.enabled {
            let mut last = self.last_plain.lock().unwrap_or_else(|e| e.into_inner());
            if last.elapsed() >= PLAIN_EVERY {
                *last = Instant::now();
                let going: Vec<String> = self
                    .runs
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .iter()
                    .filter(|r| r.done.load(Ordering::Relaxed) < r.planned.load(Ordering::Relaxed))
                    .map(|r| {
                        format!(
                            "{} {}/{}",
                            r.label,
                            r.done.load(Ordering::Relaxed),
                            r.planned.load(Ordering::Relaxed)
                        )
                    })
                    .collect();
                eprintln!(
                    "campaign {done}/{planned} records, {finished}/{runs} runs finished, retries {retries}, errors {errors}; going: {}",
                    going.join(", ")
                );
            }
        }
    }

    /// Clears the bars before the results are printed.
    pub(crate) fn finish(&self) {
        for r in self.runs.lock().unwrap_or_else(|e| e.into_inner()).iter() {
            if let Some(bar) = &r.bar {
                bar.finish_and_clear();
            }
        }
        if let Some(total) = &self.total {
            total.finish_and_clear();
        }
    }
}

impl Observer for RunCounts {
    fn on_start(&self, planned: usize, already_done: usize) {
        self.planned.store(planned as u64, Ordering::Relaxed);
        self.done.store(already_done as u64, Ordering::Relaxed);
        if let Some(bar) = &self.bar {
            bar.set_length(planned as u64);
            bar.set_position(already_done as u64);
        }
        if let Some(campaign) = self.campaign.upgrade() {
            campaign.changed();
        }
    }

    fn on_record(&self, record: &SampleRecord) {
        self.done.fetch_add(1, Ordering::Relaxed);
        if record.error.is_some() {
            let errors = self.errors.fetch_add(1, Ordering::Relaxed) + 1;
            if let Some(bar) = &self.bar {
                bar.set_message(format!("errors {errors}"));
            }
        }
        if let Some(bar) = &self.bar {
            bar.inc(1);
        }
        if let Some(campaign) = self.campaign.upgrade() {
            campaign.changed();
        }
    }
}

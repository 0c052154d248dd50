//! A progress bar on stderr for long `check` runs. It is drawn only when stderr is a terminal
//! and the run is long enough to need one, and is cleared when done, so cron mail, pipes and the
//! report itself never see it.

use std::io::IsTerminal as _;
use std::sync::OnceLock;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Runs over fewer endpoints finish before a bar would help.
const MIN_ENDPOINTS: usize = 16;

/// Progress of one batch of pulls; the bar appears once the number of endpoints is known.
pub struct Progress {
    label: Option<String>,
    bar: OnceLock<Option<ProgressBar>>,
}

impl Progress {
    /// Never drawn (`sync`, or output for machines).
    pub fn hidden() -> Self {
        Self {
            label: None,
            bar: OnceLock::new(),
        }
    }

    /// A bar labelled `label`, shown on a terminal for long runs.
    pub fn labelled(label: &str) -> Self {
        Self {
            label: Some(label.to_string()),
            bar: OnceLock::new(),
        }
    }

    /// The batch holds `total` pulls: from here on the bar is drawn, if it is to be.
    pub fn start(&self, total: usize) {
        self.bar.get_or_init(|| {
            let label = self.label.as_deref()?;
            if total < MIN_ENDPOINTS || !std::io::stderr().is_terminal() {
                return None;
            }
            let length = u64::try_from(total).unwrap_or(u64::MAX);
            let bar = ProgressBar::with_draw_target(Some(length), ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template(
                "{prefix} [{bar:30}] {pos}/{len} endpoints  {per_sec}  {elapsed}",
            )
            .map_or_else(
                |_| ProgressStyle::default_bar(),
                |s| s.progress_chars("=> "),
            );
            bar.set_style(style);
            bar.set_prefix(label.to_string());
            Some(bar)
        });
    }

    /// One pull finished.
    pub fn tick(&self) {
        if let Some(Some(bar)) = self.bar.get() {
            bar.inc(1);
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(Some(bar)) = self.bar.get() {
            bar.finish_and_clear();
        }
    }
}

//! Progress on standard error: a bar when it is a terminal, plain lines
//! otherwise (logs, pipes, tests).

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

/// A progress report for one long step.
#[derive(Debug)]
pub struct Progress {
    bar: Option<ProgressBar>,
    label: String,
    total: Option<u64>,
    last: Instant,
    printed: Option<u64>,
}

impl Progress {
    /// `total` gives a bar; without it, a spinner with a count.
    pub fn new(label: &str, total: Option<u64>, unit: &str) -> Progress {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = match total {
                Some(n) => ProgressBar::new(n),
                None => ProgressBar::new_spinner(),
            };
            let template = match total {
                Some(_) => format!("{{msg}} [{{bar:30}}] {{pos}}/{{len}} {unit} ({{eta}})"),
                None => format!("{{spinner}} {{msg}} {{pos}} {unit}"),
            };
            if let Ok(style) = ProgressStyle::with_template(&template) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_message(label.to_owned());
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        });
        if bar.is_none() {
            match total {
                Some(n) => eprintln!("{label}: 0/{n} {unit}"),
                None => eprintln!("{label}: starting"),
            }
        }
        Progress {
            bar,
            label: label.to_owned(),
            total,
            last: Instant::now(),
            printed: None,
        }
    }

    pub fn set(&mut self, done: u64) {
        match &self.bar {
            Some(bar) => bar.set_position(done),
            None => {
                // A line every few seconds at most.
                if self.last.elapsed() >= Duration::from_secs(2) && self.printed != Some(done) {
                    self.line(done);
                }
            }
        }
    }

    fn line(&mut self, done: u64) {
        match self.total {
            Some(n) => eprintln!("{}: {done}/{n}", self.label),
            None => eprintln!("{}: {done}", self.label),
        }
        self.last = Instant::now();
        self.printed = Some(done);
    }

    pub fn finish(mut self, done: u64) {
        match self.bar.take() {
            Some(bar) => {
                bar.set_position(done);
                bar.finish_and_clear();
            }
            None => {
                if self.printed != Some(done) {
                    self.line(done);
                }
            }
        }
    }
}

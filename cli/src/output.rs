//! Standard output that survives a closed pipe, and the number formats the commands share.

use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set once stdout is closed (`dynconf classify x.png | head -2`): output stops, quietly.
static STDOUT_CLOSED: AtomicBool = AtomicBool::new(false);

/// `println!` that does not panic on a closed pipe: a reader that has gone away has what it
/// wanted, so the rest of the output is dropped and the command finishes its work (a
/// calibration is still written) and exits as it would have.
macro_rules! say {
    ($($arg:tt)*) => { $crate::output::print_line(format_args!($($arg)*)) };
}

pub fn print_line(line: std::fmt::Arguments) {
    if stdout_closed() {
        return;
    }
    let mut out = std::io::stdout().lock();
    if let Err(e) = out.write_fmt(line).and_then(|()| out.write_all(b"\n")) {
        STDOUT_CLOSED.store(true, Ordering::Relaxed);
        if e.kind() != std::io::ErrorKind::BrokenPipe {
            eprintln!("error: cannot write to standard output: {e}");
        }
    }
}

/// Whether the reader of standard output has gone away.
pub fn stdout_closed() -> bool {
    STDOUT_CLOSED.load(Ordering::Relaxed)
}

/// A fraction as a percentage with two decimals.
pub fn percent(fraction: f64) -> String {
    format!("{:.2}%", 100.0 * fraction)
}

/// A threshold as printed, with `decimals` or in full: `-inf` for the sweep's "below every
/// score" point when some image never produced a finite score (`calibrate::sweep` stores
/// -f64::MAX, 309 digits in print).
pub fn threshold_text(threshold: f64, decimals: Option<usize>) -> String {
    match decimals {
        _ if threshold <= -f64::MAX => "-inf".into(),
        Some(decimals) => format!("{threshold:.decimals$}"),
        None => threshold.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::threshold_text;

    #[test]
    fn the_below_every_score_threshold_prints_as_minus_infinity() {
        assert_eq!(threshold_text(-f64::MAX, Some(4)), "-inf");
        assert_eq!(threshold_text(f64::NEG_INFINITY, None), "-inf");
        assert_eq!(threshold_text(0.25, Some(4)), "0.2500");
        assert_eq!(threshold_text(4.641, None), "4.641");
    }
}

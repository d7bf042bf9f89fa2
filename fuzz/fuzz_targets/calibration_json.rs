//! A calibration file: `Calibration::from_json` (the CLI's and the page's one validator) must
//! refuse or accept, never panic; an accepted one must drive a run's stop rule.
#![no_main]

use dynconf::calibrate::Calibration;
use dynconf::StopRule;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let Ok(calibration) = Calibration::from_json(bytes) else {
        return;
    };
    let _ = calibration.check_model("0");
    let _ = calibration.threshold_of(&calibration.decoder);
    let rule = StopRule {
        threshold: calibration.threshold,
        max_steps: StopRule::max_steps_for(None, Some(calibration.max_steps)),
    };
    let _ = calibration
        .decoder
        .score(&[1.0, 2.0, 0.5], rule.max_steps, 1);
});

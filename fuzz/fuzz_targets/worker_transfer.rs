//! Runs encoded by a Web Worker (`eval::transfer`): decoding must refuse or accept, never
//! panic; accepted runs re-encode to the same bytes (no runs: any header).
#![no_main]

use dynconf::eval::transfer;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let Ok(runs) = transfer::decode(bytes) else {
        return;
    };
    if let Some(run) = runs.first() {
        assert_eq!(transfer::encode(&runs).expect("decoded runs encode"), bytes);
        let _ = transfer::decode_for(bytes, run.classes(), run.layers(), Some(run.steps()));
        let _ = transfer::decode_for(bytes, 10, 7, Some(32));
    }
});

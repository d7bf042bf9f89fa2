//! A CIFAR-10 binary batch: the one check (`cifar::check_batch`) and the parser must agree
//! and never panic.
#![no_main]

use dynconf::cifar;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let checked = cifar::check_batch(bytes);
    match cifar::parse_batch(bytes) {
        Ok(batch) => {
            assert_eq!(checked.ok(), Some(batch.len()));
            for i in 0..batch.len() {
                assert!(batch.label(i) <= 9);
                assert_eq!(batch.image(i).len(), cifar::IMAGE_BYTES);
            }
        }
        Err(e) => assert_eq!(checked.err().map(|c| c.to_string()), Some(e.to_string())),
    }
});

//! Checks against the real CIFAR-10 batches in ../shared/cifar10 (skipped when absent, failing
//! under CI: tests/common).
#![cfg(not(target_arch = "wasm32"))] // reads files / runs the native CLI

mod common;

use dynconf::cifar;

use common::cifar_dir as data_dir;

#[test]
fn validation_split_is_the_second_half_of_batch_5() {
    let Some(dir) = data_dir() else { return };
    let validation = cifar::load_split(&dir, "validation").unwrap();
    assert_eq!(validation.len(), 5000);
    let whole = cifar::load_split(&dir, "data_batch_5").unwrap();
    assert_eq!(whole.len(), 10000);
    assert_eq!(validation.image(0), whole.image(5000));
    assert_eq!(validation.labels(), &whole.labels()[5000..]);
    let mut per_class = [0usize; 10];
    for &label in validation.labels() {
        per_class[label as usize] += 1;
    }
    assert!(
        per_class.iter().all(|&n| n > 300),
        "every class is present: {per_class:?}"
    );
}

#[test]
fn missing_test_batch_is_reported_by_name() {
    let Some(dir) = data_dir() else { return };
    if dir.join("test_batch.bin").exists() {
        assert_eq!(cifar::load_split(&dir, "test").unwrap().len(), 10000);
    } else {
        let message = cifar::load_split(&dir, "test").unwrap_err().to_string();
        assert!(message.contains("test_batch.bin"), "{message}");
    }
}

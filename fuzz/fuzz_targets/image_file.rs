//! An image file as `dynconf classify` reads it (format checks, size limit, libjpeg-turbo,
//! ICC profiles, EXIF orientation): refuse or decode, never panic; a decoded image must
//! become the network's input.
#![no_main]

use dynconf::crop::Crop;
use dynconf::model::InputSpec;
use dynconf::preprocess;
use dynconf_cli::image_file;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|bytes: &[u8]| {
    let Ok(image) = image_file::decode(bytes) else {
        return;
    };
    assert_eq!(
        image.rgba.len(),
        image.width as usize * image.height as usize * 4
    );
    let spec = InputSpec {
        channels: 3,
        height: 32,
        width: 32,
        mean: vec![0.5; 3],
        std: vec![0.25; 3],
    };
    for crop in [Crop::Center, Crop::Full] {
        preprocess::prepare_image(
            &spec,
            &image.rgba,
            image.width as usize,
            image.height as usize,
            4,
            &crop,
        )
        .expect("a decoded image becomes an input");
    }
});

//! Writes the bad-input corpus (cli/tests/common/corpus.rs: the files cli/tests/bad_inputs.rs runs
//! `dynconf classify` on) for e2e/inputs.test.mjs, which uploads each file to the demo page.
//!
//!   cargo run --release -p dynconf-cli --example input_corpus -- DIR
//!
//! DIR gets every case's file and `manifest.json`: `[{name, what, valid, …}]`, with `width`,
//! `height`, `format`, `orientation` and `icc_profile` for valid files and `cli_words` for the
//! others. For the valid ones it also writes `NAME.rgba` (the pixels `dynconf classify` sees:
//! `image_file::decode`, RGBA, row-major) and `cases.json` in e2e/jpeg-match.test.mjs's
//! format, so that `JPEG_FIXTURES=DIR node e2e/jpeg-match.test.mjs` compares the corpus's
//! pixels with Chromium's and Firefox's.

fn main() {
    native::main()
}

#[allow(dead_code)] // the reference maths is for the tests
#[path = "../tests/common/icc.rs"]
mod icc;

#[allow(dead_code)] // the generators the tests use on their own
#[path = "../tests/common/corpus.rs"]
mod corpus;

mod native {
    use std::path::PathBuf;

    use super::corpus::{self, Kind};
    use serde_json::json;

    pub fn main() {
        let dir = PathBuf::from(std::env::args().nth(1).expect("usage: input_corpus DIR"));
        std::fs::create_dir_all(&dir).expect("cannot create the output folder");
        let mut manifest = Vec::new();
        let mut pixels = Vec::new();
        for case in corpus::cases() {
            std::fs::write(dir.join(case.name), &case.bytes).unwrap();
            manifest.push(match case.kind {
                Kind::Valid {
                    width,
                    height,
                    format,
                    orientation,
                    icc_profile,
                } => {
                    let decoded = dynconf_cli::image_file::decode(&case.bytes)
                        .unwrap_or_else(|e| panic!("{}: {e}", case.name));
                    assert_eq!((decoded.width, decoded.height), (width, height));
                    let stem = case.name.replace('.', "-");
                    std::fs::write(dir.join(format!("{stem}.rgba")), &decoded.rgba).unwrap();
                    pixels.push(json!({
                        "name": stem, "file": case.name, "width": width, "height": height,
                        "kind": case.what,
                    }));
                    json!({
                        "name": case.name, "what": case.what, "valid": true, "width": width,
                        "height": height, "format": format, "orientation": orientation,
                        "icc_profile": icc_profile,
                    })
                }
                Kind::Invalid { cli_words } => json!({
                    "name": case.name, "what": case.what, "valid": false, "cli_words": cli_words,
                }),
            });
        }
        let write = |file: &str, value: &Vec<serde_json::Value>| {
            std::fs::write(dir.join(file), serde_json::to_string_pretty(value).unwrap()).unwrap()
        };
        write("manifest.json", &manifest);
        write("cases.json", &pixels);
        eprintln!(
            "{} files written to {} ({} valid)",
            manifest.len(),
            dir.display(),
            pixels.len()
        );
    }
}

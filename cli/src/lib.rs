//! What the `dynconf` command shares with its tests and examples: [`image_file`], image
//! files (PNG, JPEG, WebP, GIF) decoded to sRGB pixels as the browsers decode them. The
//! method itself is the `dynconf` library in the repository root.

pub mod image_file;

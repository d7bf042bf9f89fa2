//! Which part of an image the network sees: the crop, before the area average to 32×32.
//!
//! CIFAR-10 objects fill their frame, so by default the network sees the centre square of an
//! image (the usual convention of image classifiers); `full` keeps the whole image, squashed
//! to the model's aspect ratio; `X,Y,SIZE` is a square the user chose. The page and the CLI
//! both turn a [`Crop`] into a [`CropRect`] here, so they cut the same pixels, and both write
//! a crop the same way (`center`, `full`, `X,Y,SIZE`), so a crop chosen on the page can be
//! given to `dynconf classify --crop`.

use std::fmt;
use std::str::FromStr;

/// A crop, as the user states it (`center`, `full` or `X,Y,SIZE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Crop {
    /// The largest centred square: side min(width, height), offsets rounded down.
    #[default]
    Center,
    /// The whole image (its aspect ratio is not kept).
    Full,
    /// A square of `size` pixels whose top-left corner is at (`x`, `y`), in pixels of the
    /// image as it is meant to be seen (after its EXIF orientation is applied).
    Square { x: u32, y: u32, size: u32 },
}

/// A rectangle of an image in pixels: columns `x..x + width`, rows `y..y + height`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CropRect {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
}

/// Why a crop cannot be used. Messages name the crop and say what was expected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CropError {
    #[error("cannot read the crop {0:?}: expected center, full or X,Y,SIZE (three whole numbers of pixels, e.g. 120,0,300)")]
    Syntax(String),
    #[error("cannot read the crop {0:?}: X, Y and SIZE are pixels, so they cannot be negative")]
    Negative(String),
    #[error("cannot read the crop {0:?}: {1} is too large (at most {max} pixels)", max = u32::MAX)]
    TooLarge(String, String),
    #[error("the crop {x},{y},{size} has no pixels: SIZE must be at least 1")]
    EmptySquare { x: u32, y: u32, size: u32 },
    #[error("the crop {x},{y},{size} does not fit in this {width}×{height} image: it needs X + SIZE ≤ {width} and Y + SIZE ≤ {height}")]
    OutsideImage {
        x: u32,
        y: u32,
        size: u32,
        width: u32,
        height: u32,
    },
    #[error("the image is empty ({width}×{height} pixels)")]
    EmptyImage { width: u32, height: u32 },
}

impl Crop {
    /// The pixels this crop takes from a `width × height` image.
    ///
    /// # Errors
    /// [`CropError::EmptyImage`] for a zero width or height; for a square, [`CropError::EmptySquare`]
    /// when SIZE is 0 and [`CropError::OutsideImage`] when it does not lie inside the image.
    pub fn rect(&self, width: u32, height: u32) -> Result<CropRect, CropError> {
        if width == 0 || height == 0 {
            return Err(CropError::EmptyImage { width, height });
        }
        match *self {
            Crop::Full => Ok(CropRect {
                x: 0,
                y: 0,
                width,
                height,
            }),
            Crop::Center => {
                let size = width.min(height);
                Ok(CropRect {
                    x: (width - size) / 2,
                    y: (height - size) / 2,
                    width: size,
                    height: size,
                })
            }
            Crop::Square { x, y, size } => {
                if size == 0 {
                    return Err(CropError::EmptySquare { x, y, size });
                }
                // u64: x + size cannot wrap.
                let fits = x as u64 + size as u64 <= width as u64
                    && y as u64 + size as u64 <= height as u64;
                if !fits {
                    return Err(CropError::OutsideImage {
                        x,
                        y,
                        size,
                        width,
                        height,
                    });
                }
                Ok(CropRect {
                    x,
                    y,
                    width: size,
                    height: size,
                })
            }
        }
    }
}

impl FromStr for Crop {
    type Err = CropError;

    /// `center` (or `centre`), `full`, or `X,Y,SIZE` (spaces around the numbers allowed).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let syntax = || CropError::Syntax(text.to_string());
        match text.trim().to_ascii_lowercase().as_str() {
            "center" | "centre" => return Ok(Crop::Center),
            "full" => return Ok(Crop::Full),
            _ => {}
        }
        let mut numbers = Vec::with_capacity(3);
        for part in text.split(',').map(str::trim) {
            // Digits only (a sign or a decimal point is no pixel count), then the range.
            let digits = part.strip_prefix('-').unwrap_or(part);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(syntax());
            }
            if part.starts_with('-') {
                return Err(CropError::Negative(text.to_string()));
            }
            let number = part
                .parse::<u32>()
                .map_err(|_| CropError::TooLarge(text.to_string(), part.to_string()))?;
            numbers.push(number);
        }
        match numbers[..] {
            [x, y, 0] => Err(CropError::EmptySquare { x, y, size: 0 }),
            [x, y, size] => Ok(Crop::Square { x, y, size }),
            _ => Err(syntax()),
        }
    }
}

impl fmt::Display for Crop {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Crop::Center => f.write_str("center"),
            Crop::Full => f.write_str("full"),
            Crop::Square { x, y, size } => write!(f, "{x},{y},{size}"),
        }
    }
}

impl CropRect {
    /// The rows of the rectangle from interleaved pixels (`channels` bytes per pixel,
    /// `image_width` pixels per row, row-major), top to bottom, each `width · channels` bytes.
    ///
    /// The caller guarantees that the rectangle lies inside the image and that `pixels` holds
    /// the whole image ([`Crop::rect`] and the decoder do); a short buffer ends the rows early.
    pub fn rows<'a>(
        &self,
        pixels: &'a [u8],
        image_width: u32,
        channels: usize,
    ) -> impl Iterator<Item = &'a [u8]> + 'a {
        let stride = image_width as usize * channels;
        let start = self.x as usize * channels;
        let len = self.width as usize * channels;
        pixels
            .chunks_exact(stride)
            .skip(self.y as usize)
            .take(self.height as usize)
            .map(move |row| &row[start..start + len])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn center_is_the_largest_centred_square_rounded_down() {
        let rect = Crop::Center.rect(451, 300).unwrap();
        assert_eq!(
            rect,
            CropRect {
                x: 75,
                y: 0,
                width: 300,
                height: 300
            }
        );
        let rect = Crop::Center.rect(5, 550).unwrap();
        assert_eq!(
            rect,
            CropRect {
                x: 0,
                y: 272,
                width: 5,
                height: 5
            }
        );
        assert_eq!(Crop::Center.rect(1, 1).unwrap().width, 1);
    }

    #[test]
    fn full_is_the_whole_image() {
        let rect = Crop::Full.rect(451, 300).unwrap();
        assert_eq!(
            rect,
            CropRect {
                x: 0,
                y: 0,
                width: 451,
                height: 300
            }
        );
    }

    #[test]
    fn squares_must_lie_inside_the_image() {
        let crop: Crop = "151,0,300".parse().unwrap();
        assert_eq!(crop.rect(451, 300).unwrap().x, 151);
        let outside: Crop = "152,0,300".parse().unwrap();
        let message = outside.rect(451, 300).unwrap_err().to_string();
        assert!(
            message.contains("152,0,300") && message.contains("451×300"),
            "{message}"
        );
        let huge = Crop::Square {
            x: u32::MAX,
            y: 0,
            size: u32::MAX,
        };
        assert!(matches!(
            huge.rect(10, 10),
            Err(CropError::OutsideImage { .. })
        ));
        assert!(matches!(
            Crop::Square {
                x: 0,
                y: 0,
                size: 0
            }
            .rect(10, 10),
            Err(CropError::EmptySquare { .. })
        ));
        assert!(matches!(
            Crop::Center.rect(0, 10),
            Err(CropError::EmptyImage { .. })
        ));
    }

    #[test]
    fn parses_and_writes_the_same_syntax() {
        for text in ["center", "full", "12,0,300"] {
            assert_eq!(text.parse::<Crop>().unwrap().to_string(), text);
        }
        assert_eq!(" Centre ".parse::<Crop>().unwrap(), Crop::Center);
        assert_eq!(
            "1, 2, 3".parse::<Crop>().unwrap(),
            Crop::Square {
                x: 1,
                y: 2,
                size: 3
            }
        );
        for bad in [
            "", "middle", "1,2", "1,2,3,4", "1.5,0,5", "a,b,c", "+1,0,5", "--1,0,5",
        ] {
            let message = bad.parse::<Crop>().unwrap_err().to_string();
            assert!(message.contains("X,Y,SIZE"), "{bad}: {message}");
        }
        // Read, but not a crop: each says why.
        let negative = "-5,0,100".parse::<Crop>().unwrap_err().to_string();
        assert!(negative.contains("cannot be negative"), "{negative}");
        let huge = "99999999999,0,1".parse::<Crop>().unwrap_err().to_string();
        assert!(huge.contains("99999999999 is too large"), "{huge}");
        let empty = "3,4,0".parse::<Crop>().unwrap_err().to_string();
        assert!(empty.contains("3,4,0 has no pixels"), "{empty}");
    }

    #[test]
    fn rows_cut_the_rectangle() {
        // 4×3 image, one byte per pixel holding 10·row + column.
        let pixels: Vec<u8> = (0..3)
            .flat_map(|r| (0..4).map(move |c| 10 * r + c))
            .collect();
        let rect = CropRect {
            x: 1,
            y: 1,
            width: 2,
            height: 2,
        };
        let rows: Vec<&[u8]> = rect.rows(&pixels, 4, 1).collect();
        assert_eq!(rows, vec![&[11u8, 12][..], &[21, 22][..]]);
    }
}

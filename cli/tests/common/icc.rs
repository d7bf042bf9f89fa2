//! Minimal ICC v2 display profiles built in memory (ICC.1:2001-04): a 128-byte header, a tag
//! table, `desc`, `wtpt`, and either three colorants (`rXYZ`, `gXYZ`, `bXYZ`) with one gamma
//! curve per channel (`rTRC`, `gTRC`, `bTRC`), or one grey curve (`kTRC`). Enough for any
//! colour manager (qcms, skcms, lcms) to build a matrix/TRC transform; used to tag generated
//! images, with reference values computed here from published matrices, not by a CMS.

/// Adobe RGB (1998): its colorants adapted to the D50 connection space (Bradford), the columns
/// of Lindbloom's Adobe RGB → XYZ(D50) matrix, as in Adobe's own profile.
pub const ADOBE_RGB_COLORANTS: [[f64; 3]; 3] = [
    [0.6097559, 0.3111242, 0.0194811],
    [0.2052401, 0.6256560, 0.0608902],
    [0.1492240, 0.0632197, 0.7448387],
];

/// Adobe RGB (1998)'s transfer curve: gamma 563/256 = 2.19921875, exact in u8Fixed8.
pub const ADOBE_RGB_GAMMA: f64 = 563.0 / 256.0;

const D50: [f64; 3] = [0.9642, 1.0, 0.8249];

/// An Adobe RGB (1998) profile (matrix/TRC), named "Adobe RGB (1998) test".
pub fn adobe_rgb() -> Vec<u8> {
    rgb_profile(
        "Adobe RGB (1998) test",
        ADOBE_RGB_COLORANTS,
        ADOBE_RGB_GAMMA,
    )
}

/// An RGB display profile with the given colorants (XYZ, D50) and one gamma for all channels.
pub fn rgb_profile(name: &str, colorants: [[f64; 3]; 3], gamma: f64) -> Vec<u8> {
    let curve = curv(gamma);
    profile(
        b"RGB ",
        &[
            (*b"desc", desc(name)),
            (*b"wtpt", xyz(D50)),
            (*b"rXYZ", xyz(colorants[0])),
            (*b"gXYZ", xyz(colorants[1])),
            (*b"bXYZ", xyz(colorants[2])),
            (*b"rTRC", curve.clone()),
            (*b"gTRC", curve.clone()),
            (*b"bTRC", curve),
        ],
    )
}

/// A grey display profile with one gamma curve.
pub fn grey_profile(name: &str, gamma: f64) -> Vec<u8> {
    profile(
        b"GRAY",
        &[
            (*b"desc", desc(name)),
            (*b"wtpt", xyz(D50)),
            (*b"kTRC", curv(gamma)),
        ],
    )
}

/// Adobe RGB (1998) 8-bit values → sRGB values (0–255, unrounded, clipped to the gamut),
/// from the published D65 matrices (Lindbloom): Adobe RGB → XYZ, then XYZ → linear sRGB,
/// then the sRGB transfer function. Both spaces are D65, so no adaptation is needed.
pub fn adobe_rgb_to_srgb(rgb: [u8; 3]) -> [f64; 3] {
    const TO_XYZ: [[f64; 3]; 3] = [
        [0.5767309, 0.1855540, 0.1881852],
        [0.2973769, 0.6273491, 0.0752741],
        [0.0270343, 0.0706872, 0.9911085],
    ];
    const TO_SRGB: [[f64; 3]; 3] = [
        [3.2404542, -1.5371385, -0.4985314],
        [-0.9692660, 1.8760108, 0.0415560],
        [0.0556434, -0.2040259, 1.0572252],
    ];
    let linear = rgb.map(|v| (v as f64 / 255.0).powf(ADOBE_RGB_GAMMA));
    let times = |m: [[f64; 3]; 3], v: [f64; 3]| m.map(|row| (0..3).map(|i| row[i] * v[i]).sum());
    times(TO_SRGB, times(TO_XYZ, linear)).map(srgb_encode)
}

/// Linear light (0–1, clipped) → an sRGB value 0–255 (IEC 61966-2-1), unrounded.
pub fn srgb_encode(linear: f64) -> f64 {
    let v = linear.clamp(0.0, 1.0);
    255.0
        * if v <= 0.0031308 {
            12.92 * v
        } else {
            1.055 * v.powf(1.0 / 2.4) - 0.055
        }
}

fn profile(space: &[u8; 4], tags: &[([u8; 4], Vec<u8>)]) -> Vec<u8> {
    let table_len = 4 + 12 * tags.len();
    let mut data = Vec::new();
    let mut table = (tags.len() as u32).to_be_bytes().to_vec();
    for (signature, body) in tags {
        let offset = 128 + table_len + data.len();
        table.extend_from_slice(signature);
        table.extend_from_slice(&(offset as u32).to_be_bytes());
        table.extend_from_slice(&(body.len() as u32).to_be_bytes());
        data.extend_from_slice(body);
        while data.len() % 4 != 0 {
            data.push(0); // tags start on 4-byte boundaries
        }
    }
    let size = 128 + table_len + data.len();
    let mut header = Vec::with_capacity(128);
    header.extend_from_slice(&(size as u32).to_be_bytes());
    header.extend_from_slice(&[0; 4]); // preferred CMM: none
    header.extend_from_slice(&[2, 0x10, 0, 0]); // version 2.1
    header.extend_from_slice(b"mntr"); // display device
    header.extend_from_slice(space);
    header.extend_from_slice(b"XYZ "); // connection space
    for field in [2026u16, 1, 1, 0, 0, 0] {
        header.extend_from_slice(&field.to_be_bytes()); // date and time
    }
    header.extend_from_slice(b"acsp");
    header.extend_from_slice(&[0; 24]); // platform, flags, manufacturer, model, attributes
    header.extend_from_slice(&0u32.to_be_bytes()); // rendering intent: perceptual
    for v in D50 {
        header.extend_from_slice(&s15f16(v).to_be_bytes()); // the illuminant
    }
    header.resize(128, 0); // creator and reserved
    [header, table, data].concat()
}

fn s15f16(v: f64) -> i32 {
    (v * 65536.0).round() as i32
}

fn xyz(v: [f64; 3]) -> Vec<u8> {
    let mut tag = b"XYZ \0\0\0\0".to_vec();
    for c in v {
        tag.extend_from_slice(&s15f16(c).to_be_bytes());
    }
    tag
}

/// One gamma value (u8Fixed8Number).
fn curv(gamma: f64) -> Vec<u8> {
    let mut tag = b"curv\0\0\0\0".to_vec();
    tag.extend_from_slice(&1u32.to_be_bytes());
    tag.extend_from_slice(&((gamma * 256.0).round() as u16).to_be_bytes());
    tag
}

/// textDescriptionType: the ASCII name, no Unicode or ScriptCode names.
fn desc(name: &str) -> Vec<u8> {
    let mut tag = b"desc\0\0\0\0".to_vec();
    tag.extend_from_slice(&(name.len() as u32 + 1).to_be_bytes());
    tag.extend_from_slice(name.as_bytes());
    tag.push(0);
    tag.extend_from_slice(&[0; 8]); // Unicode language and count
    tag.extend_from_slice(&[0; 3]); // ScriptCode code and count
    tag.extend_from_slice(&[0; 67]);
    tag
}

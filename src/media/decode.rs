//! Pixels for hashing: a grayscale image, turned upright by its EXIF
//! orientation, with declared dimensions checked before any decoding so a
//! decompression bomb is refused instead of filling memory.

use std::fs::File;
use std::io::BufReader;
use std::path::Path;

use super::{exif, Kind, MediaError};
use crate::phash::Gray;

/// Largest image we decode: 200 megapixels (a 16-bit RGBA bitmap that size
/// is 1.6 GB). Real cameras top out near 100 MP.
pub const MAX_PIXELS: u64 = 200_000_000;

/// True for kinds we can turn into pixels today.
pub fn can_decode(kind: Kind) -> bool {
    matches!(kind, Kind::Jpeg | Kind::Png | Kind::Gif | Kind::Bmp | Kind::Tiff | Kind::Webp)
}

/// Pixels to hash, and the size of the full image they stand for.
#[derive(Debug, Clone)]
pub struct Decoded {
    /// Upright grayscale pixels (possibly a reduced-size version of the image).
    pub gray: Gray,
    /// Upright width of the full image.
    pub width: u32,
    /// Upright height of the full image.
    pub height: u32,
}

/// Decodes `path` (of `kind`) to an upright grayscale image.
pub fn load_gray(path: &Path, kind: Kind) -> Result<Decoded, MediaError> {
    let corrupt = |reason: String| MediaError::Corrupt { path: path.to_path_buf(), reason };
    if !can_decode(kind) {
        return Err(MediaError::NotMedia {
            path: path.to_path_buf(),
            reason: format!("{} images cannot be decoded for a perceptual hash yet", kind.name()),
        });
    }
    let open = || -> Result<image::ImageReader<BufReader<File>>, MediaError> {
        let file = File::open(path).map_err(|source| MediaError::Io { path: path.to_path_buf(), source })?;
        image::ImageReader::new(BufReader::new(file))
            .with_guessed_format()
            .map_err(|source| MediaError::Io { path: path.to_path_buf(), source })
    };
    let (w, h) = open()?.into_dimensions().map_err(|e| corrupt(format!("cannot read image size: {e}")))?;
    check_dimensions(path, w, h)?;
    let mut reader = open()?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(w);
    limits.max_image_height = Some(h);
    limits.max_alloc = Some(MAX_PIXELS * 8);
    reader.limits(limits);
    let img = reader.decode().map_err(|e| corrupt(format!("cannot decode: {e}")))?;
    let rgb = img.to_rgb8();
    // Pillow's "L" conversion (ITU-R 601-2 luma), as imagehash uses.
    let pixels = rgb
        .pixels()
        .map(|p| ((u32::from(p[0]) * 19595 + u32::from(p[1]) * 38470 + u32::from(p[2]) * 7471 + 0x8000) >> 16) as u8)
        .collect();
    let gray = Gray { width: rgb.width() as usize, height: rgb.height() as usize, pixels };
    let orientation = File::open(path)
        .ok()
        .and_then(|mut f| {
            let len = f.metadata().ok()?.len();
            exif::read(&mut f, kind, len)
        })
        .and_then(|e| e.orientation)
        .unwrap_or(1);
    Ok(upright(gray, w, h, orientation))
}

/// Turns pixels and the full size by an EXIF orientation.
pub fn upright(gray: Gray, w: u32, h: u32, orientation: u16) -> Decoded {
    let (width, height) = if matches!(orientation, 5..=8) { (h, w) } else { (w, h) };
    Decoded { gray: gray.oriented(orientation), width, height }
}

/// Refuses images whose declared size is absurd (a decompression bomb).
pub fn check_dimensions(path: &Path, w: u32, h: u32) -> Result<(), MediaError> {
    let pixels = u64::from(w) * u64::from(h);
    if w == 0 || h == 0 || pixels > MAX_PIXELS {
        return Err(MediaError::Corrupt {
            path: path.to_path_buf(),
            reason: format!(
                "declares {w}×{h} pixels ({:.0} MP), over the {} MP limit: refusing to decode a possible decompression bomb",
                pixels as f64 / 1e6,
                MAX_PIXELS / 1_000_000
            ),
        });
    }
    Ok(())
}

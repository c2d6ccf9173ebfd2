//! Copies of a photo as people make them: resized, re-encoded, converted,
//! rotated with an EXIF orientation. Shared by the pHash and dedup tests.

use std::path::{Path, PathBuf};

use image::ImageEncoder;

/// Distinct full-size photos from the corpus.
pub const PHOTOS: &[&str] = &[
    "metadata-extractor/jpg/Apple iPhone 4.jpg",
    "metadata-extractor/jpg/Canon EOS 5D.jpg",
    "metadata-extractor/jpg/Nokia Lumia 800.jpg",
    "metadata-extractor/jpg/Samsung GT-I9505 (Galaxy S4).jpg",
    "metadata-extractor/jpg/Sony DSC-H9.jpg",
    "exif-samples/jpg/hdr/canon_hdr_NO.jpg",
    "exif-samples/jpg/gps/DSCN0010.jpg",
    "exif-samples/jpg/mobile/jolla.jpg",
];

/// File-name suffixes of the variants [`write_variants`] makes, in order.
pub const NAMES: [&str; 5] = ["half.jpg", "quarter.jpg", "q60.jpg", "rotated.jpg", "png.png"];

/// The photo as it is meant to be seen (EXIF orientation applied), which
/// is what the variants are made from.
pub fn upright(path: &Path) -> image::DynamicImage {
    use image::ImageDecoder;
    let mut decoder = image::ImageReader::open(path).unwrap().with_guessed_format().unwrap().into_decoder().unwrap();
    let orientation = decoder.orientation().unwrap();
    let mut img = image::DynamicImage::from_decoder(decoder).unwrap();
    img.apply_orientation(orientation);
    img
}

pub fn jpeg(img: &image::DynamicImage, quality: u8) -> Vec<u8> {
    let mut out = Vec::new();
    let rgb = img.to_rgb8();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, quality)
        .write_image(&rgb, rgb.width(), rgb.height(), image::ExtendedColorType::Rgb8)
        .unwrap();
    out
}

/// A JPEG whose pixels are stored turned 90° clockwise with EXIF
/// orientation 8 (turn back counter-clockwise to view): what a phone writes.
pub fn rotated_with_exif(img: &image::DynamicImage) -> Vec<u8> {
    let stored = jpeg(&img.rotate90(), 90);
    // APP1 "Exif": little-endian TIFF, IFD0 with one entry, Orientation (0x0112) = 8.
    let mut tiff = b"II*\0\x08\0\0\0\x01\0".to_vec();
    tiff.extend_from_slice(&[0x12, 0x01, 3, 0, 1, 0, 0, 0, 8, 0, 0, 0]);
    tiff.extend_from_slice(&[0, 0, 0, 0]);
    let mut app1 = b"Exif\0\0".to_vec();
    app1.extend_from_slice(&tiff);
    let mut out = vec![0xFF, 0xD8, 0xFF, 0xE1];
    out.extend_from_slice(&((app1.len() + 2) as u16).to_be_bytes());
    out.extend_from_slice(&app1);
    out.extend_from_slice(&stored[2..]);
    out
}

/// Writes the variants of `original` into `dir` as `{prefix}-{name}`;
/// returns their paths in the order of [`NAMES`].
pub fn write_variants(original: &Path, dir: &Path, prefix: &str) -> Vec<PathBuf> {
    let img = upright(original);
    let (w, h) = (img.width(), img.height());
    let bytes: [Vec<u8>; 5] = [
        jpeg(&img.resize_exact(w / 2, h / 2, image::imageops::FilterType::Triangle), 90),
        jpeg(&img.resize_exact(w / 4, h / 4, image::imageops::FilterType::Triangle), 90),
        jpeg(&img, 60),
        rotated_with_exif(&img),
        {
            let mut out = std::io::Cursor::new(Vec::new());
            img.write_to(&mut out, image::ImageFormat::Png).unwrap();
            out.into_inner()
        },
    ];
    NAMES
        .iter()
        .zip(bytes)
        .map(|(name, bytes)| {
            let p = dir.join(format!("{prefix}-{name}"));
            std::fs::write(&p, bytes).unwrap();
            p
        })
        .collect()
}

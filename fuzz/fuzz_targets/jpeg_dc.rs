//! `cargo +nightly fuzz run jpeg_dc` (from the crate root). Neither function may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = clean_backup::media::jpeg_dc::read_info(data);
    if let Ok(img) = clean_backup::media::jpeg_dc::decode_luma_dc(data) {
        assert_eq!(img.pixels.len(), img.width * img.height);
    }
});

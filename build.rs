//! Links libavcodec and libavutil when the embedded libheif was built with
//! its FFmpeg HEVC decoder (build/libheif.cmake turns it on; libheif-sys
//! links only libheif itself, so the decoder's own libraries come from here).
//! Without libavcodec's development files nothing is linked, libheif builds
//! with libde265 alone, and `media::heif` uses that.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=build/libheif.cmake");
    for lib in ["libavcodec", "libavutil"] {
        if let Err(e) = pkg_config::Config::new().probe(lib) {
            println!("cargo:warning={lib} not found ({e}); HEIC decodes with libde265 only (install libavcodec-dev)");
        }
    }
}

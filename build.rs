//! Finds the libavcodec and libavutil that libheif's FFmpeg HEVC decoder was
//! built against (build/libheif.cmake turns that decoder on) and passes
//! their sonames to `media::avcodec`, which opens them when the first HEIC
//! is decoded. Nothing is linked: a process that never decodes a HEIC never
//! loads libavcodec and the ~90 libraries it brings. Without libavcodec's
//! development files libheif builds with libde265 alone, and that decodes.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed=build/libheif.cmake");
    for (lib, var) in [("libavcodec", "CLEAN_BACKUP_AVCODEC_SONAME"), ("libavutil", "CLEAN_BACKUP_AVUTIL_SONAME")] {
        match pkg_config::Config::new().cargo_metadata(false).probe(lib) {
            Ok(found) => {
                // "59.37.100" -> libavcodec.so.59, the name the runtime package ships.
                let major = found.version.split('.').next().unwrap_or_default().to_string();
                println!("cargo:rustc-env={var}={lib}.so.{major}");
            }
            Err(e) => {
                println!(
                    "cargo:warning={lib} not found ({e}); HEIC decodes with libde265 only (install libavcodec-dev)"
                )
            }
        }
    }
}

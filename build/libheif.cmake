# Read by every CMake build cargo runs (.cargo/config.toml sets
# CMAKE_TOOLCHAIN_FILE to this file); it changes nothing but one libheif option.
#
# libheif-sys builds libheif from source with its FFmpeg (libavcodec) HEVC
# decoder switched off. That decoder is about twice as fast as libde265 on phone
# HEICs (BENCHMARKS.md, "HEIC at JPEG-like cost"), so we turn it back on:
# a cache entry forced here wins over the -DWITH_FFMPEG_DECODER=OFF on the
# command line. libheif keeps libde265 too; where libavcodec's headers are
# absent, libheif's own find_package fails and only libde265 is built, and
# media::heif falls back to it at run time.
set(WITH_FFMPEG_DECODER ON CACHE BOOL "libavcodec HEVC decoder (clean-backup)" FORCE)

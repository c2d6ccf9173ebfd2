//! libavcodec, loaded when the first HEIC is decoded rather than when the
//! program starts.
//!
//! libheif's FFmpeg HEVC decoder (built in: `build/libheif.cmake`) calls
//! the eighteen libavcodec and libavutil functions below. Linking Debian's
//! libavcodec loads it, and the ~90 libraries it links (x265, rav1e,
//! librsvg, GLib, ICU, ...), into every process: 13 MiB more RSS for a
//! daemon that may never see a HEIC. So nothing links it. These functions,
//! under the same names, stand in for it: the first call opens libavcodec
//! (`dlopen`, by the soname `build.rs` found at build time) and each call
//! goes on to the real function. Where it cannot be opened (not installed)
//! `avcodec_find_decoder` answers NULL, libheif's plugin then says it
//! decodes nothing, and libde265 decodes instead.
//!
//! Only libheif calls these; nothing of ours does.

use std::ffi::{c_char, c_int, c_void, CStr};
use std::sync::OnceLock;

/// The sonames of the libraries libheif was built against (`build.rs`).
const AVCODEC: &str = match option_env!("CLEAN_BACKUP_AVCODEC_SONAME") {
    Some(s) => s,
    None => "libavcodec.so",
};
const AVUTIL: &str = match option_env!("CLEAN_BACKUP_AVUTIL_SONAME") {
    Some(s) => s,
    None => "libavutil.so",
};

/// The two opened libraries' handles, as addresses.
struct Libs {
    codec: usize,
    util: usize,
}

fn open(name: &str) -> Option<usize> {
    let name = std::ffi::CString::new(name).ok()?;
    // SAFETY: dlopen of a NUL-terminated name; the handle is never closed.
    let h = unsafe { libc::dlopen(name.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL) };
    (!h.is_null()).then_some(h as usize)
}

fn libs() -> Option<&'static Libs> {
    static LIBS: OnceLock<Option<Libs>> = OnceLock::new();
    LIBS.get_or_init(|| {
        let libs = Some(Libs { util: open(AVUTIL)?, codec: open(AVCODEC)? });
        tracing::debug!("{AVCODEC} loaded for HEVC decoding");
        libs
    })
    .as_ref()
}

/// The address of `name` (NUL-terminated) in the library `which` picks, 0 when none.
fn symbol(which: fn(&Libs) -> usize, name: &CStr) -> usize {
    libs().map_or(0, |l| {
        // SAFETY: dlsym on a handle dlopen returned, with a NUL-terminated name.
        unsafe { libc::dlsym(which(l) as *mut c_void, name.as_ptr()) as usize }
    })
}

/// Whether libavcodec could be opened (it is, when this says yes).
pub fn available() -> bool {
    libs().is_some()
}

/// `AVERROR(ENOSYS)`: what a forwarded call that has nothing to call returns.
const NOT_THERE: c_int = -libc::ENOSYS;

macro_rules! forward {
    ($lib:ident: $(fn $name:ident($($arg:ident: $ty:ty),*) -> $ret:ty = $none:expr;)*) => {$(
        #[no_mangle]
        #[allow(clippy::unused_unit)] // (the `= ()` of the functions that return nothing)
        unsafe extern "C" fn $name($($arg: $ty),*) -> $ret {
            static AT: OnceLock<usize> = OnceLock::new();
            let name = concat!(stringify!($name), "\0").as_bytes();
            let at = *AT.get_or_init(|| CStr::from_bytes_with_nul(name).map_or(0, |n| symbol(|l| l.$lib, n)));
            if at == 0 {
                return $none;
            }
            // SAFETY: `at` is the library's own function of this name,
            // declared here as FFmpeg's headers declare it.
            let f: unsafe extern "C" fn($($ty),*) -> $ret = unsafe { std::mem::transmute(at) };
            unsafe { f($($arg),*) }
        }
    )*};
}

type P = *mut c_void;

forward! { codec:
    fn avcodec_find_decoder(id: c_int) -> P = std::ptr::null_mut();
    fn avcodec_alloc_context3(codec: P) -> P = std::ptr::null_mut();
    fn avcodec_free_context(ctx: *mut P) -> () = ();
    fn avcodec_open2(ctx: P, codec: P, options: *mut P) -> c_int = NOT_THERE;
    fn avcodec_parameters_alloc() -> P = std::ptr::null_mut();
    fn avcodec_parameters_free(par: *mut P) -> () = ();
    fn avcodec_parameters_from_context(par: P, ctx: P) -> c_int = NOT_THERE;
    fn avcodec_receive_frame(ctx: P, frame: P) -> c_int = NOT_THERE;
    fn avcodec_send_packet(ctx: P, packet: P) -> c_int = NOT_THERE;
    fn av_packet_alloc() -> P = std::ptr::null_mut();
    fn av_packet_free(packet: *mut P) -> () = ();
    fn av_parser_init(codec_id: c_int) -> P = std::ptr::null_mut();
    fn av_parser_close(parser: P) -> () = ();
    fn av_parser_parse2(
        parser: P, ctx: P, out: *mut *mut u8, out_size: *mut c_int, buf: *const u8, buf_size: c_int,
        pts: i64, dts: i64, pos: i64
    ) -> c_int = NOT_THERE;
}

forward! { util:
    fn av_frame_alloc() -> P = std::ptr::null_mut();
    fn av_frame_free(frame: *mut P) -> () = ();
    fn av_strerror(errnum: c_int, buf: *mut c_char, size: usize) -> c_int = NOT_THERE;
    fn av_version_info() -> *const c_char = c"(libavcodec not installed)".as_ptr();
}

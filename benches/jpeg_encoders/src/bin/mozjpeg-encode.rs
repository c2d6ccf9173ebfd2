//! Helper process for the jpeg_encoders bench: encodes RGB images with mozjpeg
//! (crate defaults: trellis quantisation, progressive, optimized scans).
//!
//! Links mozjpeg only (libjpeg-turbo would clash on the `jpeg_*` symbols).
//! Protocol on stdin/stdout, little endian, repeated until EOF on stdin:
//!   request:  width u32, height u32, quality u8, subsampling u8 (0 = 4:4:4, 1 = 4:2:0),
//!             then width*height*3 bytes of packed RGB
//!   response: encode thread-CPU nanoseconds u64, encode wall nanoseconds u64,
//!             JPEG length u64, then the JPEG bytes
use std::io::{self, Read, Write};
use std::time::Instant;

fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: valid pointer to a timespec; CLOCK_THREAD_CPUTIME_ID is always available on Linux.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

fn encode(rgb: &[u8], width: usize, height: usize, quality: u8, sub420: bool) -> Vec<u8> {
    let mut c = mozjpeg::Compress::new(mozjpeg::ColorSpace::JCS_RGB);
    c.set_size(width, height);
    c.set_quality(quality as f32);
    if sub420 {
        c.set_chroma_sampling_pixel_sizes((2, 2), (2, 2));
    } else {
        c.set_chroma_sampling_pixel_sizes((1, 1), (1, 1));
    }
    let mut started = c.start_compress(Vec::new()).expect("mozjpeg start_compress");
    started.write_scanlines(rgb).expect("mozjpeg write_scanlines");
    started.finish().expect("mozjpeg finish")
}

fn main() {
    let mut stdin = io::stdin().lock();
    let mut stdout = io::BufWriter::new(io::stdout().lock());
    let mut rgb = Vec::new();
    loop {
        let mut hdr = [0u8; 10];
        match stdin.read_exact(&mut hdr) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => break,
            Err(e) => panic!("mozjpeg-encode: reading request: {e}"),
        }
        let width = u32::from_le_bytes(hdr[0..4].try_into().unwrap()) as usize;
        let height = u32::from_le_bytes(hdr[4..8].try_into().unwrap()) as usize;
        let (quality, sub420) = (hdr[8], hdr[9] == 1);
        rgb.resize(width * height * 3, 0);
        stdin.read_exact(&mut rgb).expect("mozjpeg-encode: reading pixels");

        let (cpu0, wall0) = (thread_cpu_ns(), Instant::now());
        let jpeg = encode(&rgb, width, height, quality, sub420);
        let (cpu, wall) = (thread_cpu_ns() - cpu0, wall0.elapsed().as_nanos() as u64);

        stdout.write_all(&cpu.to_le_bytes()).unwrap();
        stdout.write_all(&wall.to_le_bytes()).unwrap();
        stdout.write_all(&(jpeg.len() as u64).to_le_bytes()).unwrap();
        stdout.write_all(&jpeg).unwrap();
        stdout.flush().expect("mozjpeg-encode: writing response");
    }
}

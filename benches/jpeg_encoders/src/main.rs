//! JPEG re-compression bench: libjpeg-turbo (turbojpeg crate) vs mozjpeg.
//!
//! Usage: jpeg_encoders CORPUS_DIR [QUALITY...]     (default qualities: 95 85 75)
//!
//! Every file listed in CORPUS_DIR/MANIFEST.tsv with MIME image/jpeg that
//! turbojpeg can decode to RGB is re-encoded at each quality with
//!   turbo+opt       libjpeg-turbo, optimized Huffman tables, baseline
//!   turbo+opt+prog  libjpeg-turbo, optimized Huffman tables, progressive
//!   mozjpeg         mozjpeg crate defaults (trellis, progressive, optimized scans)
//! Chroma subsampling policy (same for all encoders): 4:4:4 at q >= 95, 4:2:0 below.
//!
//! Reported per encoder x quality: input bytes (original files), output bytes,
//! ratio output/input, encode-only throughput in megapixels/s on one thread
//! (thread CPU time, and wall time), and mean per-image PSNR of the re-encoded
//! image (decoded with turbojpeg) against the decoded original pixels, both on
//! BT.601 luma Y (computed from RGB) and on all RGB samples, plus mean SSIM on
//! Y (11x11 Gaussian window, sigma 1.5, valid region; Wang et al. 2004).
//!
//! Because mozjpeg's quality scale uses different quantisation tables, the
//! last section also compares sizes at equal mean PSNR_Y and SSIM_Y: for each mozjpeg
//! quality, the turbo output size at the same metric value is linearly interpolated
//! between the two bracketing turbo qualities with the same subsampling (pass
//! more qualities, e.g. `95 90 85 80 75 70 65 60`, for a meaningful result).
//!
//! mozjpeg runs in the helper process `mozjpeg-encode` (next to this binary)
//! because libjpeg-turbo and mozjpeg cannot be linked into one executable.
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Instant;

use turbojpeg::{Compressor, Image, PixelFormat, Subsamp};

const DEFAULT_QUALITIES: [u8; 3] = [95, 85, 75];
const VARIANTS: [&str; 3] = ["turbo+opt", "turbo+opt+prog", "mozjpeg"];
/// PSNR of identical images is infinite; cap it so the mean stays finite.
const PSNR_CAP: f64 = 100.0;

/// Subsampling policy: 4:4:4 at q >= 95, 4:2:0 below.
fn sub420(quality: u8) -> bool {
    quality < 95
}

fn thread_cpu_ns() -> u64 {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: valid pointer to a timespec; CLOCK_THREAD_CPUTIME_ID is always available on Linux.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed");
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

#[derive(Default, Clone)]
struct Stats {
    files: usize,
    input_bytes: u64,
    output_bytes: u64,
    megapixels: f64,
    cpu_ns: u64,
    wall_ns: u64,
    psnr_y_sum: f64,
    psnr_rgb_sum: f64,
    ssim_y_sum: f64,
}

impl Stats {
    fn mean(&self, sum: f64) -> f64 {
        sum / self.files.max(1) as f64
    }
}

struct Encoded {
    jpeg: Vec<u8>,
    cpu_ns: u64,
    wall_ns: u64,
}

struct MozHelper {
    child: Child,
    stdin: ChildStdin,
    stdout: ChildStdout,
}

impl MozHelper {
    fn spawn() -> MozHelper {
        let exe = std::env::current_exe().expect("current_exe");
        let helper = exe.with_file_name("mozjpeg-encode");
        let mut child =
            Command::new(&helper).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap_or_else(|e| {
                panic!("cannot start {} ({e}); build both binaries with `cargo build --release`", helper.display())
            });
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        MozHelper { child, stdin, stdout }
    }

    fn encode(&mut self, rgb: &[u8], width: usize, height: usize, quality: u8) -> Encoded {
        let mut hdr = Vec::with_capacity(10);
        hdr.extend_from_slice(&(width as u32).to_le_bytes());
        hdr.extend_from_slice(&(height as u32).to_le_bytes());
        hdr.push(quality);
        hdr.push(sub420(quality) as u8);
        self.stdin.write_all(&hdr).expect("writing to mozjpeg-encode");
        self.stdin.write_all(rgb).expect("writing to mozjpeg-encode");
        self.stdin.flush().expect("writing to mozjpeg-encode");
        let mut resp = [0u8; 24];
        self.stdout.read_exact(&mut resp).expect("reading from mozjpeg-encode (did it crash?)");
        let cpu_ns = u64::from_le_bytes(resp[0..8].try_into().unwrap());
        let wall_ns = u64::from_le_bytes(resp[8..16].try_into().unwrap());
        let len = u64::from_le_bytes(resp[16..24].try_into().unwrap()) as usize;
        let mut jpeg = vec![0u8; len];
        self.stdout.read_exact(&mut jpeg).expect("reading from mozjpeg-encode");
        Encoded { jpeg, cpu_ns, wall_ns }
    }

    fn finish(self) {
        let MozHelper { mut child, stdin, stdout } = self;
        drop(stdin);
        drop(stdout);
        let status = child.wait().expect("waiting for mozjpeg-encode");
        assert!(status.success(), "mozjpeg-encode exited with {status}");
    }
}

fn turbo_encode(
    c: &mut Compressor,
    rgb: &[u8],
    width: usize,
    height: usize,
    quality: u8,
    progressive: bool,
) -> Encoded {
    c.set_quality(quality as i32).expect("turbojpeg set_quality");
    c.set_subsamp(if sub420(quality) { Subsamp::Sub2x2 } else { Subsamp::None }).expect("turbojpeg set_subsamp");
    c.set_optimize(true).expect("turbojpeg set_optimize");
    c.set_progressive(progressive).expect("turbojpeg set_progressive");
    let image = Image { pixels: rgb, width, pitch: width * 3, height, format: PixelFormat::RGB };
    let (cpu0, wall0) = (thread_cpu_ns(), Instant::now());
    let jpeg = c.compress_to_vec(image).expect("turbojpeg compress");
    let (cpu_ns, wall_ns) = (thread_cpu_ns() - cpu0, wall0.elapsed().as_nanos() as u64);
    Encoded { jpeg, cpu_ns, wall_ns }
}

/// (PSNR on BT.601 luma, PSNR on all RGB samples), both capped at PSNR_CAP.
fn psnr(a: &[u8], b: &[u8]) -> (f64, f64) {
    assert_eq!(a.len(), b.len());
    let (mut se_y, mut se_rgb) = (0f64, 0f64);
    for (p, q) in a.chunks_exact(3).zip(b.chunks_exact(3)) {
        let y = |px: &[u8]| 0.299 * px[0] as f64 + 0.587 * px[1] as f64 + 0.114 * px[2] as f64;
        let dy = y(p) - y(q);
        se_y += dy * dy;
        for k in 0..3 {
            let d = p[k] as f64 - q[k] as f64;
            se_rgb += d * d;
        }
    }
    let n = (a.len() / 3) as f64;
    let to_db = |mse: f64| if mse == 0.0 { PSNR_CAP } else { (10.0 * (255.0 * 255.0 / mse).log10()).min(PSNR_CAP) };
    (to_db(se_y / n), to_db(se_rgb / (3.0 * n)))
}

fn luma(rgb: &[u8]) -> Vec<f32> {
    rgb.chunks_exact(3).map(|p| 0.299 * p[0] as f32 + 0.587 * p[1] as f32 + 0.114 * p[2] as f32).collect()
}

/// Mean SSIM of the luma planes: 11x11 Gaussian window (sigma 1.5), windows
/// fully inside the image only; images smaller than the window use one
/// window covering the whole image with uniform weights.
fn ssim_y(a_rgb: &[u8], b_rgb: &[u8], w: usize, h: usize) -> f64 {
    const R: usize = 5; // window 2R+1 = 11
    let (c1, c2) = ((0.01f64 * 255.0).powi(2), (0.03f64 * 255.0).powi(2));
    let ssim = |mx: f64, my: f64, xx: f64, yy: f64, xy: f64| {
        let (vx, vy, cov) = (xx - mx * mx, yy - my * my, xy - mx * my);
        ((2.0 * mx * my + c1) * (2.0 * cov + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    };
    let (a, b) = (luma(a_rgb), luma(b_rgb));
    if w < 2 * R + 1 || h < 2 * R + 1 {
        let n = (w * h) as f64;
        let m = |f: &dyn Fn(usize) -> f64| (0..w * h).map(f).sum::<f64>() / n;
        let (mx, my) = (m(&|i| a[i] as f64), m(&|i| b[i] as f64));
        let (xx, yy) = (m(&|i| (a[i] as f64).powi(2)), m(&|i| (b[i] as f64).powi(2)));
        let xy = m(&|i| a[i] as f64 * b[i] as f64);
        return ssim(mx, my, xx, yy, xy);
    }
    let mut g: Vec<f32> = (0..=2 * R).map(|k| (-((k as f32 - R as f32).powi(2)) / (2.0 * 1.5 * 1.5)).exp()).collect();
    let gs: f32 = g.iter().sum();
    g.iter_mut().for_each(|v| *v /= gs);
    // horizontal pass (valid): 5 planes of width w - 2R
    let wv = w - 2 * R;
    let mut hp = vec![[0f32; 5]; wv * h];
    for y in 0..h {
        let (ra, rb) = (&a[y * w..(y + 1) * w], &b[y * w..(y + 1) * w]);
        for x in 0..wv {
            let mut acc = [0f32; 5];
            for (k, &gk) in g.iter().enumerate() {
                let (pa, pb) = (ra[x + k], rb[x + k]);
                acc[0] += gk * pa;
                acc[1] += gk * pb;
                acc[2] += gk * pa * pa;
                acc[3] += gk * pb * pb;
                acc[4] += gk * pa * pb;
            }
            hp[y * wv + x] = acc;
        }
    }
    // vertical pass (valid) and SSIM map mean
    let hv = h - 2 * R;
    let mut total = 0f64;
    for y in 0..hv {
        for x in 0..wv {
            let mut acc = [0f32; 5];
            for (k, &gk) in g.iter().enumerate() {
                let v = &hp[(y + k) * wv + x];
                for c in 0..5 {
                    acc[c] += gk * v[c];
                }
            }
            total += ssim(acc[0] as f64, acc[1] as f64, acc[2] as f64, acc[3] as f64, acc[4] as f64);
        }
    }
    total / (wv * hv) as f64
}

fn jpeg_files(corpus: &Path) -> Vec<PathBuf> {
    let manifest = corpus.join("MANIFEST.tsv");
    let f = std::fs::File::open(&manifest).unwrap_or_else(|e| panic!("cannot open {}: {e}", manifest.display()));
    let mut files = Vec::new();
    for (i, line) in BufReader::new(f).lines().enumerate() {
        let line = line.unwrap_or_else(|e| panic!("reading {}: {e}", manifest.display()));
        let cols: Vec<&str> = line.split('\t').collect();
        if i == 0 || cols.len() < 4 {
            continue; // header / malformed
        }
        if cols[3] == "image/jpeg" {
            files.push(corpus.join(cols[0]));
        }
    }
    files
}

#[allow(clippy::type_complexity)]
fn main() {
    let corpus = match std::env::args_os().nth(1) {
        Some(p) => PathBuf::from(p),
        None => {
            eprintln!("usage: jpeg_encoders CORPUS_DIR [QUALITY...]   (dir containing MANIFEST.tsv; default 95 85 75)");
            std::process::exit(2);
        }
    };
    let mut qualities: Vec<u8> = std::env::args()
        .skip(2)
        .map(|a| match a.parse::<u8>() {
            Ok(q @ 1..=100) => q,
            _ => panic!("quality must be 1..=100, got {a:?}"),
        })
        .collect();
    if qualities.is_empty() {
        qualities = DEFAULT_QUALITIES.to_vec();
    }
    let files = jpeg_files(&corpus);
    let mut stats = vec![vec![Stats::default(); qualities.len()]; VARIANTS.len()];
    let mut turbo = Compressor::new().expect("turbojpeg Compressor::new");
    let mut moz = MozHelper::spawn();
    let mut skipped = Vec::new();

    for (n, path) in files.iter().enumerate() {
        let data = std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let orig = match turbojpeg::decompress(&data, PixelFormat::RGB) {
            Ok(img) => img,
            Err(e) => {
                skipped.push(format!("{}: {e}", path.display()));
                continue;
            }
        };
        let (w, h) = (orig.width, orig.height);
        assert_eq!(orig.pitch, w * 3);
        let rgb = &orig.pixels[..];
        for (qi, &q) in qualities.iter().enumerate() {
            // turbo+opt and turbo+opt+prog code the same coefficients; reuse the metrics if the pixels match
            let mut prev: Option<(Vec<u8>, f64, f64, f64)> = None; // (pixels, PSNR_Y, PSNR_RGB, SSIM_Y)
            for (vi, &variant) in VARIANTS.iter().enumerate() {
                let enc = match vi {
                    0 => turbo_encode(&mut turbo, rgb, w, h, q, false),
                    1 => turbo_encode(&mut turbo, rgb, w, h, q, true),
                    _ => moz.encode(rgb, w, h, q),
                };
                let back = turbojpeg::decompress(&enc.jpeg, PixelFormat::RGB)
                    .unwrap_or_else(|e| panic!("{variant} q{q} output of {} does not decode: {e}", path.display()));
                assert_eq!((back.width, back.height), (w, h));
                let (py, prgb, sy) = match &prev {
                    Some((px, py, prgb, sy)) if *px == back.pixels => (*py, *prgb, *sy),
                    _ => {
                        let (py, prgb) = psnr(rgb, &back.pixels);
                        (py, prgb, ssim_y(rgb, &back.pixels, w, h))
                    }
                };
                if vi == 0 {
                    prev = Some((back.pixels, py, prgb, sy));
                }
                let s = &mut stats[vi][qi];
                s.files += 1;
                s.input_bytes += data.len() as u64;
                s.output_bytes += enc.jpeg.len() as u64;
                s.megapixels += (w * h) as f64 / 1e6;
                s.cpu_ns += enc.cpu_ns;
                s.wall_ns += enc.wall_ns;
                s.psnr_y_sum += py;
                s.psnr_rgb_sum += prgb;
                s.ssim_y_sum += sy;
            }
        }
        if (n + 1) % 10 == 0 {
            eprintln!("{}/{} files", n + 1, files.len());
        }
    }
    moz.finish();

    let s0 = &stats[0][0];
    println!("corpus: {}", corpus.display());
    println!(
        "JPEGs in manifest: {}, decoded and benchmarked: {} ({:.1} MP, {} input bytes), skipped: {}",
        files.len(),
        s0.files,
        s0.megapixels,
        s0.input_bytes,
        skipped.len()
    );
    for s in &skipped {
        println!("  skipped {s}");
    }
    println!("subsampling: 4:4:4 at q>=95, 4:2:0 below (all encoders); PSNR/SSIM = mean over images, vs decoded original (PSNR capped at {PSNR_CAP} dB)");
    println!("MP/s = encode-only megapixels per second on one thread (cpu = thread CPU time, wall = wall clock)");
    println!();
    println!(
        "{:<15} {:>3} {:>5} {:>12} {:>12} {:>6} {:>9} {:>10} {:>7} {:>9} {:>7}",
        "encoder",
        "q",
        "files",
        "input_B",
        "output_B",
        "ratio",
        "MP/s_cpu",
        "MP/s_wall",
        "PSNR_Y",
        "PSNR_RGB",
        "SSIM_Y"
    );
    for (qi, &q) in qualities.iter().enumerate() {
        for (vi, &variant) in VARIANTS.iter().enumerate() {
            let s = &stats[vi][qi];
            println!(
                "{:<15} {:>3} {:>5} {:>12} {:>12} {:>6.3} {:>9.2} {:>10.2} {:>7.2} {:>9.2} {:>7.5}",
                variant,
                q,
                s.files,
                s.input_bytes,
                s.output_bytes,
                s.output_bytes as f64 / s.input_bytes.max(1) as f64,
                s.megapixels / (s.cpu_ns as f64 / 1e9),
                s.megapixels / (s.wall_ns as f64 / 1e9),
                s.mean(s.psnr_y_sum),
                s.mean(s.psnr_rgb_sum),
                s.mean(s.ssim_y_sum)
            );
        }
    }
    println!();
    println!("mozjpeg output size vs turbo (negative = mozjpeg smaller); dPSNR_Y, dSSIM_Y = mozjpeg minus turbo");
    for (qi, &q) in qualities.iter().enumerate() {
        let m = &stats[2][qi];
        let mut line = format!("q{q}:");
        for vi in 0..2 {
            let t = &stats[vi][qi];
            let pct = (m.output_bytes as f64 / t.output_bytes as f64 - 1.0) * 100.0;
            let dpsnr = m.mean(m.psnr_y_sum) - t.mean(t.psnr_y_sum);
            let dssim = m.mean(m.ssim_y_sum) - t.mean(t.ssim_y_sum);
            line += &format!("  vs {}: {:+.2}% size, {:+.2} dB, {:+.5} SSIM", VARIANTS[vi], pct, dpsnr, dssim);
        }
        println!("{line}");
    }
    let metrics: [(&str, fn(&Stats) -> f64); 2] =
        [("PSNR_Y", |s| s.mean(s.psnr_y_sum)), ("SSIM_Y", |s| s.mean(s.ssim_y_sum))];
    for (name, metric) in metrics {
        println!();
        println!(
            "equal quality: turbo size at mozjpeg's mean {name} (interpolated between turbo qualities, same subsampling)"
        );
        for (qi, &q) in qualities.iter().enumerate() {
            let m = &stats[2][qi];
            let target = metric(m);
            let mut line = format!("mozjpeg q{q} ({name} {target:.5}, {} B):", m.output_bytes);
            for vi in 0..2 {
                // turbo points with the same subsampling, sorted by the metric
                let mut pts: Vec<(f64, f64, u8)> = qualities
                    .iter()
                    .enumerate()
                    .filter(|&(_, &tq)| sub420(tq) == sub420(q))
                    .map(|(ti, &tq)| (metric(&stats[vi][ti]), stats[vi][ti].output_bytes as f64, tq))
                    .collect();
                pts.sort_by(|a, b| a.0.total_cmp(&b.0));
                let bracket = pts.windows(2).find(|w| w[0].0 <= target && target <= w[1].0);
                line += &match bracket {
                    Some(w) => {
                        let t = if w[1].0 > w[0].0 { (target - w[0].0) / (w[1].0 - w[0].0) } else { 0.0 };
                        let bytes = w[0].1 + t * (w[1].1 - w[0].1);
                        let pct = (m.output_bytes as f64 / bytes - 1.0) * 100.0;
                        format!("  {} ~q{}-{}: {:.0} B, mozjpeg {:+.2}%", VARIANTS[vi], w[0].2, w[1].2, bytes, pct)
                    }
                    None => format!("  {}: not bracketed", VARIANTS[vi]),
                };
            }
            println!("{line}");
        }
    }
}

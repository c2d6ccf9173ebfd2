//! One in-memory file per fuzzing process (memfd), rewritten with each
//! input: for the targets whose code under test reads a `File`.

use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::os::fd::FromRawFd;
use std::sync::{Mutex, MutexGuard, OnceLock};

/// The process's in-memory file, holding exactly `data`.
pub fn mem_file(data: &[u8]) -> MutexGuard<'static, File> {
    static FILE: OnceLock<Mutex<File>> = OnceLock::new();
    let file = FILE.get_or_init(|| {
        // SAFETY: a fresh fd that nothing else owns.
        let fd = unsafe { libc::memfd_create(c"fuzz".as_ptr(), libc::MFD_CLOEXEC) };
        assert!(fd >= 0, "memfd_create: {}", std::io::Error::last_os_error());
        Mutex::new(unsafe { File::from_raw_fd(fd) })
    });
    let mut f = file.lock().unwrap_or_else(|e| e.into_inner());
    f.set_len(0).unwrap();
    f.seek(SeekFrom::Start(0)).unwrap();
    f.write_all(data).unwrap();
    f
}

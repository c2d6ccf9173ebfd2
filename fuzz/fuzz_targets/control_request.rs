//! `cargo +nightly fuzz run control_request fuzz/corpus/control_request` (from the crate root).
//! `control::wire::parse_request` on one request line. It may not panic; a line it accepts is a
//! typed `Request` that passes its own checks, and sent again as `wire::request_line` it is
//! accepted again as the same request with the same id (or, if the re-serialized line outgrew
//! `MAX_REQUEST`, refused as too long and nothing else). A refused line says why, and only a line
//! that is not a request at all closes the connection.
#![no_main]

use clean_backup::control::{self, wire, ErrorKind};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let result = wire::parse_request(data);
    if data.len() > control::MAX_REQUEST {
        let e = result.as_ref().expect_err("a line longer than MAX_REQUEST is refused");
        assert!(e.close && e.error.message.contains("longer than"), "{e:?}");
        return;
    }
    let (id, request) = match result {
        Ok(r) => r,
        Err(e) => {
            assert!(!e.error.message.is_empty());
            assert_eq!(e.close, e.error.kind == ErrorKind::Malformed, "{e:?}");
            return;
        }
    };
    assert_eq!(request.check(), Ok(()));
    let line = wire::request_line(id, &request).expect("a parsed request serializes");
    match wire::parse_request(&line) {
        Ok(again) => assert_eq!(again, (id, request)),
        Err(e) if line.len() > control::MAX_REQUEST && e.close => {}
        Err(e) => panic!("re-serialized request refused: {e:?}: {}", String::from_utf8_lossy(&line)),
    }
});

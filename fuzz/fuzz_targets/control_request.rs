//! `cargo +nightly fuzz run control_request fuzz/corpus/control_request` (from the crate root).
//! `control::parse_request` on one request line. It may not panic; a line it accepts has version
//! `VERSION` and object params, and serialized back with serde_json it is accepted again with the
//! same version, id, method and params (or, if the re-serialized line outgrew `MAX_REQUEST`,
//! refused as too long and nothing else).
#![no_main]

use clean_backup::control::{self, RequestError};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

/// Equal JSON, except that floats may differ by a few ulps: without its `float_roundtrip`
/// feature serde_json may parse a printed float 1 ulp off (a serde_json trait, not ours).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) if x.is_f64() || y.is_f64() => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            x == y || (x - y).abs() <= 4.0 * f64::EPSILON * x.abs().max(y.abs())
        }
        (Value::Array(x), Value::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y)),
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

fuzz_target!(|data: &[u8]| {
    let result = control::parse_request(data);
    if data.len() > control::MAX_REQUEST {
        assert_eq!(result.as_ref().err(), Some(&RequestError::TooLong));
    }
    let Ok(req) = result else { return };
    assert_eq!(req.v, control::VERSION);
    assert!(req.params.is_object(), "params {:?}", req.params);

    let line = serde_json::to_vec(&req).expect("a parsed request serializes");
    match control::parse_request(&line) {
        Ok(again) => {
            assert_eq!((again.v, again.id, &again.method), (req.v, req.id, &req.method));
            assert!(same(&again.params, &req.params), "params {} became {}", req.params, again.params);
        }
        Err(RequestError::TooLong) if line.len() > control::MAX_REQUEST => {}
        Err(e) => panic!("re-serialized request refused: {e}: {}", String::from_utf8_lossy(&line)),
    }
});

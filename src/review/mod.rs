//! `cbctl review`: a page on the loopback interface that shows duplicate
//! groups side by side before anything is deleted.
//!
//! It is served by cbctl itself, with the user's own rights, never by the
//! root daemon. What may talk to it is decided by [`guard`]: the random
//! token in the URL it prints (the Jupyter model), a `Host` that is the
//! loopback address it listens on (no DNS rebinding), no cross-site
//! `Origin`, and state-changing requests as POSTs with the token in a header.

pub mod guard;
pub mod html;
pub mod server;
pub mod view;

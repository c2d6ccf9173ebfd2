//! The page itself: one HTML shell, a script and a style sheet, embedded in
//! the binary (no CDN; it works offline). The live page loads them from
//! cbctl's server; the static report (`cbctl dedup --report html`) carries
//! them inline with its data and thumbnails as data URIs.

/// The page's script.
pub const APP_JS: &str = include_str!("assets/app.js");
/// The page's style sheet.
pub const APP_CSS: &str = include_str!("assets/app.css");
const SHELL: &str = include_str!("assets/index.html");

/// The live page: its script and style from the server, the token in their URLs.
pub fn live_page(token: &str) -> String {
    let head = format!(
        "<link rel=\"stylesheet\" href=\"/app.css?token={token}\">\n<script src=\"/app.js?token={token}\" defer></script>"
    );
    SHELL.replace("{{CSP}}", "").replace("{{HEAD}}", &head).replace("{{TITLE}}", "clean-backup review")
}

/// JSON safe inside a `<script>` element: no `<` to end it early.
fn script_json(v: &serde_json::Value) -> String {
    v.to_string().replace('<', "\\u003c")
}

/// A static, read-only page: `view` (a [`super::view::View`] as JSON) and
/// `thumbs` (a data URI per file number, `None` for a file without one).
pub fn static_page(title: &str, view: &serde_json::Value, thumbs: &[Option<String>]) -> String {
    let data = serde_json::json!({ "view": view, "thumbs": thumbs });
    let csp = "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src data:; \
               style-src 'unsafe-inline'; script-src 'unsafe-inline'\">";
    let head = format!(
        "<style>\n{APP_CSS}\n</style>\n<script>window.CB_STATIC = {};</script>\n<script>\n{APP_JS}\n</script>",
        script_json(&data)
    );
    let title = title.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
    SHELL.replace("{{CSP}}", csp).replace("{{HEAD}}", &head).replace("{{TITLE}}", &title)
}

/// A thumbnail as a `data:` URI.
pub fn data_uri(jpeg: &[u8]) -> String {
    use base64::Engine as _;
    format!("data:image/jpeg;base64,{}", base64::engine::general_purpose::STANDARD.encode(jpeg))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_static_page_carries_its_data_inline_and_no_script_can_be_closed_by_it() {
        let view = serde_json::json!({"rows": [], "dir": "</script><script>alert(1)</script>"});
        let page = static_page("dupes in <b>", &view, &[Some(data_uri(b"\xff\xd8"))]);
        assert!(!page.contains("</script><script>alert(1)"), "a path cannot end the data's script element");
        assert!(page.contains("\\u003c/script>"));
        assert!(page.contains("<title>dupes in &lt;b&gt;</title>"));
        assert!(page.contains("data:image/jpeg;base64,/9g="));
        assert!(page.contains("Content-Security-Policy") && page.contains("default-src 'none'"));
        assert!(!page.contains("{{"), "every placeholder filled");
    }

    #[test]
    fn the_live_page_loads_its_assets_with_the_token() {
        let page = live_page("abc123");
        assert!(page.contains("/app.js?token=abc123") && page.contains("/app.css?token=abc123"));
        assert!(!page.contains("{{"));
    }
}

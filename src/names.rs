//! File names that operating systems give to copies: `IMG (1).jpg`,
//! `IMG - Copy.jpg`, `IMG copy 2.jpg`, `IMG (another copy).jpg`, ...
//!
//! A name only *suggests* a copy. Callers count a file as a duplicate only
//! when the original name exists in the same folder and has the same
//! content (blake3) or a pHash within the threshold, never on the name
//! alone. Camera sequence names (`IMG_1234`, `IMG_20230514_101010`,
//! `DSC-0042`) never match: every pattern needs a space (or the word copy)
//! before the suffix, which cameras and phones do not write.

/// If `name` (a file name, with extension) looks like an OS copy of another
/// file, the name that original would have.
pub fn original_name(name: &str) -> Option<String> {
    let (stem, ext) = match name.rfind('.') {
        Some(i) if i > 0 => (&name[..i], &name[i..]),
        _ => (name, ""),
    };
    if let Some(rest) = strip_prefix_ci(stem, "Copy of ") {
        // Windows XP and older: "Copy of IMG.jpg", "Copy (2) of IMG.jpg".
        return nonempty(rest, ext);
    }
    if let Some(rest) = strip_prefix_ci(stem, "Copy (") {
        if let Some((n, rest)) = rest.split_once(") of ") {
            if is_number(n) {
                return nonempty(rest, ext);
            }
        }
    }
    let base = copy_suffix(stem)?;
    nonempty(base, ext)
}

fn nonempty(base: &str, ext: &str) -> Option<String> {
    let base = base.trim_end();
    (!base.is_empty()).then(|| format!("{base}{ext}"))
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then(|| &s[prefix.len()..])
}

fn strip_suffix_ci<'a>(s: &'a str, suffix: &str) -> Option<&'a str> {
    let cut = s.len().checked_sub(suffix.len())?;
    let tail = s.get(cut..)?;
    tail.eq_ignore_ascii_case(suffix).then(|| &s[..cut])
}

fn is_number(s: &str) -> bool {
    !s.is_empty() && s.len() <= 4 && s.bytes().all(|b| b.is_ascii_digit())
}

/// The stem without its copy suffix, if it has one.
fn copy_suffix(stem: &str) -> Option<&str> {
    // Linux file managers: " (copy)", " (another copy)", " (3rd copy)", " (copy 2)".
    for fixed in [" (copy)", " (another copy)", " - copy", " copy"] {
        if let Some(base) = strip_suffix_ci(stem, fixed) {
            return Some(base);
        }
    }
    if let Some(inner) = stem.strip_suffix(')') {
        if let Some(open) = inner.rfind(" (") {
            let (base, arg) = (&inner[..open], &inner[open + 2..]);
            // Windows and browsers: " (1)"; " - Copy (2)".
            if is_number(arg) {
                return Some(strip_suffix_ci(base, " - copy").unwrap_or(base));
            }
            // GNOME: " (3rd copy)", " (21st copy)"; " (copy 2)".
            if let Some(nth) = strip_suffix_ci(arg, " copy") {
                let digits = nth.trim_end_matches(|c: char| c.is_ascii_alphabetic());
                let ordinal = &nth[digits.len()..];
                if is_number(digits) && ["st", "nd", "rd", "th"].iter().any(|o| ordinal.eq_ignore_ascii_case(o)) {
                    return Some(base);
                }
            }
            if let Some(n) = strip_prefix_ci(arg, "copy ") {
                if is_number(n) {
                    return Some(base);
                }
            }
        }
    }
    // macOS Finder: " copy 2", and " 2" (a name clash when copying).
    let (head, num) = stem.rsplit_once(' ')?;
    if !is_number(num) || num.starts_with('0') {
        return None;
    }
    if let Some(base) = strip_suffix_ci(head, " copy") {
        return Some(base);
    }
    // A bare " N" only for small N: "Holiday 2.jpg", not "IMG 1234.jpg" or "Trip 2023.jpg".
    let n: u32 = num.parse().ok()?;
    ((2..=99).contains(&n)).then_some(head)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_names_of_every_system_point_at_their_original() {
        let cases = [
            ("IMG_0001 (1).jpg", "IMG_0001.jpg"),
            ("IMG_0001 (12).JPG", "IMG_0001.JPG"),
            ("IMG_0001 - Copy.jpg", "IMG_0001.jpg"),
            ("IMG_0001 - copy.jpg", "IMG_0001.jpg"),
            ("IMG_0001 - Copy (2).jpg", "IMG_0001.jpg"),
            ("IMG_0001 copy.jpg", "IMG_0001.jpg"),
            ("IMG_0001 Copy 2.heic", "IMG_0001.heic"),
            ("IMG_0001 2.jpg", "IMG_0001.jpg"),
            ("IMG_0001 (copy).jpg", "IMG_0001.jpg"),
            ("IMG_0001 (another copy).jpg", "IMG_0001.jpg"),
            ("IMG_0001 (3rd copy).jpg", "IMG_0001.jpg"),
            ("IMG_0001 (21st copy).jpg", "IMG_0001.jpg"),
            ("IMG_0001 (copy 2).jpg", "IMG_0001.jpg"),
            ("IMG_0001 (Copy).jpg", "IMG_0001.jpg"),
            ("Copy of IMG_0001.jpg", "IMG_0001.jpg"),
            ("Copy (2) of IMG_0001.jpg", "IMG_0001.jpg"),
            ("holiday (1)", "holiday"),
        ];
        for (copy, original) in cases {
            assert_eq!(original_name(copy).as_deref(), Some(original), "{copy}");
        }
    }

    #[test]
    fn camera_sequences_and_ordinary_names_are_not_copies() {
        for name in [
            "IMG_1234.jpg",
            "IMG_1235.jpg",
            "IMG_20230514_101010.jpg",
            "IMG_20230514_101011.jpg",
            "PXL_20230514_123456789.jpg",
            "IMG-20230514-WA0001.jpg",
            "DSC-0042.jpg",
            "DSCN0042 .jpg",
            "Trip 2023.jpg",
            "IMG 1234.jpg",
            "Scan 02.jpg",
            "(1).jpg",
            "copy.jpg",
            "Photo (a).jpg",
            ".jpg",
        ] {
            assert_eq!(original_name(name), None, "{name}");
        }
    }
}

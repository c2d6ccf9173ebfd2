//! Capture dates in XMP packets (what editors such as Lightroom keep when
//! they drop or rewrite the EXIF block).

use chrono::{FixedOffset, NaiveDateTime};

use super::date::parse_iso_datetime;

/// XMP properties that mean "when the picture was taken", best first.
const PROPERTIES: &[&str] = &["exif:DateTimeOriginal", "photoshop:DateCreated"];

/// The capture date in the first XMP packet of `data`, if any.
pub fn xmp_date(data: &[u8]) -> Option<(NaiveDateTime, Option<FixedOffset>)> {
    let start = find(data, b"<x:xmpmeta")?;
    let end = find(&data[start..], b"</x:xmpmeta>").map_or(data.len(), |e| start + e);
    let packet = String::from_utf8_lossy(&data[start..end]);
    PROPERTIES.iter().find_map(|p| value_of(&packet, p).and_then(|v| parse_iso_datetime(&v)))
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    memchr::memmem::find(hay, needle)
}

/// A property written as an attribute (`exif:X="v"`) or an element (`<exif:X>v</exif:X>`).
fn value_of(packet: &str, prop: &str) -> Option<String> {
    if let Some(i) = packet.find(&format!("{prop}=\"")) {
        let rest = &packet[i + prop.len() + 2..];
        return rest.find('"').map(|e| rest[..e].to_string());
    }
    let open = format!("<{prop}>");
    let i = packet.find(&open)?;
    let rest = &packet[i + open.len()..];
    rest.find('<').map(|e| rest[..e].trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attribute_and_element_forms_are_read() {
        let a = b"junk<x:xmpmeta><rdf:Description exif:DateTimeOriginal=\"2013-07-05T03:18:27Z\"/></x:xmpmeta>";
        let (t, o) = xmp_date(a).unwrap();
        assert_eq!((t.to_string().as_str(), o), ("2013-07-05 03:18:27", FixedOffset::east_opt(0)));
        let e = b"<x:xmpmeta><photoshop:DateCreated>2020-01-02T03:04:05+02:00</photoshop:DateCreated></x:xmpmeta>";
        assert_eq!(xmp_date(e).unwrap().1, FixedOffset::east_opt(7200));
        assert_eq!(xmp_date(b"<x:xmpmeta><exif:DateTimeOriginal>2013</exif:DateTimeOriginal>"), None);
        assert_eq!(xmp_date(b"no packet"), None);
    }
}

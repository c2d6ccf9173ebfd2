//! The time zone where a photo was taken, from its GPS position: the IANA
//! zone at that point (tzf-rs, boundary data bundled in the binary, no
//! network), then that zone's UTC offset at the instant (chrono-tz).

use std::sync::OnceLock;

use chrono::{FixedOffset, NaiveDateTime, Offset, TimeZone};

use super::date::CaptureDate;

/// The zone of most places on earth, from tzf's pre-indexed map tiles:
/// built once (~90 ms, ~13 MB kept), shared by every thread after.
fn tiles() -> &'static tzf_rs::FuzzyFinder {
    static TILES: OnceLock<tzf_rs::FuzzyFinder> = OnceLock::new();
    TILES.get_or_init(tzf_rs::FuzzyFinder::new)
}

/// The zone boundaries themselves, for a position whose tile straddles a
/// border: built only when one comes (~30 MB more, without tzf's lookup
/// index: a lookup costs microseconds more). `tzf_rs::DefaultFinder` builds
/// both at once with that index, 61 MB of a daemon that is otherwise a few
/// tens (BENCHMARKS.md, "Bounded memory"); it answers as this does.
fn boundaries() -> &'static tzf_rs::Finder {
    static BOUNDARIES: OnceLock<tzf_rs::Finder> = OnceLock::new();
    BOUNDARIES.get_or_init(tzf_rs::Finder::new)
}

/// The IANA zone at `(lat, lon)` ("America/Los_Angeles"), if the position is on the map.
pub fn zone_at(lat: f64, lon: f64) -> Option<chrono_tz::Tz> {
    if !lat.is_finite() || !lon.is_finite() || lat.abs() > 90.0 || lon.abs() > 180.0 {
        return None;
    }
    let name = match tiles().get_tz_name(lon, lat) {
        "" => around(lat, lon).unwrap_or_else(|| boundaries().get_tz_name(lon, lat)),
        name => name,
    };
    name.parse().ok()
}

/// The zone of the tiles around a position whose own tile straddles a
/// border, when all of them that have one agree (Rome's tile holds the
/// Vatican; inland, most border tiles are of this kind); `None` when two
/// zones meet there, and only the boundaries can tell.
fn around(lat: f64, lon: f64) -> Option<&'static str> {
    let mut found: Option<&'static str> = None;
    for r in [0.05, 0.1, 0.2] {
        for (dy, dx) in
            [(-1.0, -1.0), (-1.0, 0.0), (-1.0, 1.0), (0.0, -1.0), (0.0, 1.0), (1.0, -1.0), (1.0, 0.0), (1.0, 1.0)]
        {
            match (tiles().get_tz_name(lon + dx * r, lat + dy * r), found) {
                ("", _) => {}
                (n, None) => found = Some(n),
                (n, Some(f)) if n != f => return None,
                _ => {}
            }
        }
        if found.is_some() {
            return found;
        }
    }
    None
}

/// The offset at `(lat, lon)` for the UTC instant `utc`.
pub fn offset_at_utc(lat: f64, lon: f64, utc: NaiveDateTime) -> Option<FixedOffset> {
    Some(zone_at(lat, lon)?.offset_from_utc_datetime(&utc).fix())
}

/// The offset at `(lat, lon)` for the wall-clock time `local` (the earlier
/// one when a clock change makes it ambiguous; none in the skipped hour).
pub fn offset_at_local(lat: f64, lon: f64, local: NaiveDateTime) -> Option<FixedOffset> {
    Some(zone_at(lat, lon)?.offset_from_local_datetime(&local).earliest()?.fix())
}

/// `taken` with the offset of the place it was taken, when its source gave
/// none: a local time gets the zone's offset then, a UTC-only time is moved
/// to the local wall clock there. Marks it `offset_from = "gps"`.
pub fn localize(taken: CaptureDate, position: Option<(f64, f64)>) -> CaptureDate {
    let Some((lat, lon)) = position else { return taken };
    if taken.utc_only {
        return match offset_at_utc(lat, lon, taken.local) {
            Some(off) => CaptureDate { offset_from: Some("gps"), ..taken.at_offset(off) },
            None => taken,
        };
    }
    if taken.offset.is_some() {
        return taken;
    }
    match offset_at_local(lat, lon, taken.local) {
        Some(off) => CaptureDate { offset: Some(off), offset_from: Some("gps"), ..taken },
        None => taken,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::media::DateSource;

    fn dt(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    #[test]
    fn positions_give_zones_and_their_offsets_at_the_time() {
        assert_eq!(zone_at(34.05, -118.24), Some(chrono_tz::America::Los_Angeles));
        assert_eq!(zone_at(48.8566, 2.3522), Some(chrono_tz::Europe::Paris));
        // Summer and winter time in Los Angeles.
        assert_eq!(offset_at_utc(34.05, -118.24, dt("2023-06-01 03:30:00")), FixedOffset::west_opt(7 * 3600));
        assert_eq!(offset_at_local(34.05, -118.24, dt("2023-01-01 12:00:00")), FixedOffset::west_opt(8 * 3600));
        assert_eq!(zone_at(91.0, 0.0), None);
    }

    #[test]
    fn a_tile_that_straddles_a_border_takes_its_neighbours_zone_when_they_agree_else_the_boundaries() {
        // Rome (the tile holds the Vatican): every tile around is Europe/Rome.
        assert_eq!(tiles().get_tz_name(12.4888, 41.8530), "");
        assert_eq!(around(41.8530, 12.4888), Some("Europe/Rome"));
        assert_eq!(zone_at(41.8530, 12.4888), Some(chrono_tz::Europe::Rome));
        // On the French-Spanish border two zones meet: the boundaries answer.
        let (lat, lon) = (43.3390, -1.7890);
        if tiles().get_tz_name(lon, lat).is_empty() {
            assert_eq!(around(lat, lon), None);
            assert!(matches!(zone_at(lat, lon), Some(chrono_tz::Europe::Madrid | chrono_tz::Europe::Paris)));
        }
    }

    #[test]
    fn utc_only_times_move_to_the_local_wall_clock_and_known_offsets_stay() {
        let utc = CaptureDate::utc(dt("2023-06-01 03:30:00"), DateSource::Takeout);
        let t = localize(utc, Some((34.05, -118.24)));
        assert_eq!((t.to_rfc3339().as_str(), t.offset_from), ("2023-05-31T20:30:00-07:00", Some("gps")));
        let known = CaptureDate::local(dt("2023-06-01 03:30:00"), FixedOffset::east_opt(3600), DateSource::Exif);
        assert_eq!(localize(known, Some((34.05, -118.24))), known);
        assert_eq!(localize(utc, None), utc);
    }
}

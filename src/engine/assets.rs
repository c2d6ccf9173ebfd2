//! Files that belong together: a primary file and the files that ride with
//! it (sidecars `NAME.EXT.xmp` / `NAME.xmp`, iOS `.aae` edits, Google
//! Takeout `.json`, a Live Photo's video, the JPEG of a RAW+JPEG pair, an
//! Apple edited version `IMG_E1234.JPG`). They are filed as one unit: into
//! the primary's folder, under a common base name, with the primary's
//! verdict.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::path::Path;

use crate::media::Kind;

/// Why a file rides with its primary.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// An XMP sidecar.
    Xmp,
    /// An iOS edit file (`.aae`).
    Aae,
    /// A Google Takeout metadata file (`.json`).
    Takeout,
    /// A Live Photo's video.
    LiveVideo,
    /// The JPEG (or HEIC) a camera saved beside its RAW.
    RawJpeg,
    /// An Apple edited version (`IMG_E1234.JPG`).
    Edited,
}

impl Role {
    /// In words, for reports.
    pub fn describe(self) -> &'static str {
        match self {
            Role::Xmp => "its XMP sidecar",
            Role::Aae => "its iOS edit file",
            Role::Takeout => "its Google Takeout metadata",
            Role::LiveVideo => "its Live Photo video",
            Role::RawJpeg => "the JPEG of its RAW+JPEG pair",
            Role::Edited => "its edited version",
        }
    }
}

/// The sidecar role of a file by its extension, for files that are not media.
pub fn sidecar_role(path: &Path) -> Option<Role> {
    let ext = path.extension()?.to_str()?.to_ascii_lowercase();
    match ext.as_str() {
        "xmp" => Some(Role::Xmp),
        "aae" => Some(Role::Aae),
        "json" => Some(Role::Takeout),
        _ => None,
    }
}

fn lower(s: &OsStr) -> String {
    s.to_string_lossy().to_lowercase()
}

/// The stem without a trailing Takeout/OS copy number: `IMG(1)` → (`IMG`, `(1)`).
fn split_copy_number(s: &str) -> (&str, &str) {
    if let Some(open) = s.rfind('(') {
        if s.ends_with(')') && s[open + 1..s.len() - 1].bytes().all(|b| b.is_ascii_digit()) && open + 2 < s.len() {
            return (&s[..open], &s[open..]);
        }
    }
    (s, "")
}

/// The primary (its index, as `media` gives it: files of one folder, or
/// the library's) a sidecar named `name` belongs to.
pub fn primary_of_sidecar(name: &str, role: Role, media: &[(usize, String, Kind)]) -> Option<usize> {
    let lname = name.to_lowercase();
    let by_name = |n: &str| media.iter().find(|(_, m, _)| m.to_lowercase() == n).map(|(i, _, _)| *i);
    let by_stem = |s: &str| {
        let s = s.to_lowercase();
        let mut hits: Vec<&(usize, String, Kind)> =
            media.iter().filter(|(_, m, _)| Path::new(m).file_stem().is_some_and(|st| lower(st) == s)).collect();
        // A RAW before its JPEG, a photo before its video.
        hits.sort_by_key(|(_, _, k)| (k.is_video(), std::cmp::Reverse(k.keeper_rank())));
        hits.first().map(|(i, _, _)| *i)
    };
    let body = &lname[..lname.rfind('.')?];
    match role {
        // NAME.EXT.xmp, else NAME.xmp
        Role::Xmp => by_name(body).or_else(|| by_stem(body)),
        // IMG_1234.AAE, IMG_O1234.AAE
        Role::Aae => by_stem(body).or_else(|| body.strip_prefix("img_o").and_then(|n| by_stem(&format!("img_{n}")))),
        Role::Takeout => {
            let body = body.strip_suffix(".supplemental-metadata").unwrap_or(body);
            // IMG.JPG(1).json is the file IMG(1).JPG.
            let (core, copy) = split_copy_number(body);
            if let Some(i) = by_name(core).filter(|_| copy.is_empty()) {
                return Some(i);
            }
            if !copy.is_empty() {
                if let Some((stem, ext)) = core.rsplit_once('.') {
                    if let Some(i) = by_name(&format!("{stem}{copy}.{ext}")) {
                        return Some(i);
                    }
                }
            }
            // Takeout cuts long names (to 51 characters with ".json"): a
            // prefix of one media name, or of its ".supplemental-metadata".
            let cut = body.trim_end_matches('.');
            if cut.len() < 8 {
                return None;
            }
            let hits: Vec<usize> = media
                .iter()
                .filter(|(_, m, _)| {
                    let m = m.to_lowercase();
                    m.starts_with(cut) || format!("{m}.supplemental-metadata").starts_with(cut)
                })
                .map(|(i, _, _)| *i)
                .collect();
            (hits.len() == 1).then(|| hits[0])
        }
        _ => None,
    }
}

/// What [`assemble`] knows of each file of a batch.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    /// Its media kind (`None`: not media).
    pub kind: Option<Kind>,
    /// Its capture time in seconds, when it has an embedded one.
    pub time: Option<i64>,
    /// Apple's ContentIdentifier: the Live Photo it is the still or the video of.
    pub live: Option<String>,
}

/// A video's stem with iCloud's `_HEVC` suffix taken off (`IMG_1234_HEVC.MOV`
/// is the video of `IMG_1234.HEIC`).
fn video_stem(stem: &str) -> &str {
    stem.strip_suffix("_hevc").unwrap_or(stem)
}

/// Groups of one batch: for each primary (index into `paths`), the files
/// that ride with it and why. `facts[i]` is what probing `paths[i]` found.
///
/// A Live Photo's still and video are paired by the ContentIdentifier they
/// share, whatever their names and folders; by stem in one folder only when
/// neither has one.
pub fn assemble<P: AsRef<Path>>(paths: &[P], facts: &[Facts]) -> HashMap<usize, Vec<(usize, Role)>> {
    let paths: Vec<&Path> = paths.iter().map(AsRef::as_ref).collect();
    let kinds: Vec<Option<Kind>> = facts.iter().map(|f| f.kind).collect();
    let mut out: HashMap<usize, Vec<(usize, Role)>> = HashMap::new();
    let mut member = vec![false; paths.len()];
    // Paired by identifier: out of the pairing by name.
    let mut by_id = vec![false; paths.len()];
    let mut ids: HashMap<&str, (Vec<usize>, Vec<usize>)> = HashMap::new();
    for (i, f) in facts.iter().enumerate() {
        if let (Some(kind), Some(id)) = (f.kind, f.live.as_deref()) {
            let (stills, videos) = ids.entry(id).or_default();
            if kind.is_video() { videos } else { stills }.push(i);
        }
    }
    let stem = |i: usize| paths[i].file_stem().map(lower).unwrap_or_default();
    for (stills, videos) in ids.values() {
        // Two copies of one Live Photo (a re-sync) are two pairs: each video
        // goes with the still of its name, else of its folder, else the
        // first by name (`IMG_1234.HEIC` before its edit `IMG_E1234.JPG`).
        for &v in videos {
            let near = |i: usize| {
                let folder = paths[i].parent() == paths[v].parent();
                (!(folder && stem(i) == video_stem(&stem(v))), !folder, paths[i].file_name().map(lower), i)
            };
            let Some(&still) = stills.iter().min_by_key(|&&i| near(i)) else { continue };
            (member[v], by_id[v], by_id[still]) = (true, true, true);
            out.entry(still).or_default().push((v, Role::LiveVideo));
        }
    }
    let mut by_folder: HashMap<&Path, Vec<usize>> = HashMap::new();
    for (i, p) in paths.iter().enumerate() {
        by_folder.entry(p.parent().unwrap_or(Path::new(""))).or_default().push(i);
    }
    let name = |i: usize| paths[i].file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    for files in by_folder.values() {
        // Media pairs by stem: a photo and its video; a RAW and its JPEG.
        let mut stems: HashMap<String, Vec<usize>> = HashMap::new();
        for &i in files.iter().filter(|&&i| kinds[i].is_some() && !by_id[i]) {
            let s = stem(i);
            let key = if kinds[i].is_some_and(Kind::is_video) { video_stem(&s).to_string() } else { s };
            stems.entry(key).or_default().push(i);
        }
        for group in stems.values().filter(|g| g.len() > 1) {
            let kind = |i: usize| kinds[i].unwrap_or(Kind::Jpeg);
            let Some(&primary) = group.iter().min_by_key(|&&i| (kind(i).is_video(), !kind(i).is_raw(), paths[i]))
            else {
                continue;
            };
            for &i in group.iter().filter(|&&i| i != primary) {
                let role = if kind(i).is_video() && !kind(primary).is_video() {
                    // By name only when neither has an identifier.
                    (facts[i].live.is_none() && facts[primary].live.is_none()).then_some(Role::LiveVideo)
                } else if kind(primary).is_raw() && !kind(i).is_raw() && !kind(i).is_video() {
                    // Shot together: capture times within a second (or one of them has none).
                    match (facts[primary].time, facts[i].time) {
                        (Some(a), Some(b)) if (a - b).abs() > 1 => None,
                        _ => Some(Role::RawJpeg),
                    }
                } else {
                    None
                };
                if let Some(role) = role {
                    member[i] = true;
                    out.entry(primary).or_default().push((i, role));
                }
            }
        }
        // Apple edited versions: IMG_E1234.JPG beside IMG_1234.*.
        for &i in files {
            if kinds[i].is_none() || member[i] {
                continue;
            }
            let Some(n) = stem(i).strip_prefix("img_e").map(str::to_string) else { continue };
            let original = format!("img_{n}");
            if let Some(&p) = files.iter().find(|&&j| j != i && kinds[j].is_some() && !member[j] && stem(j) == original)
            {
                member[i] = true;
                out.entry(p).or_default().push((i, Role::Edited));
            }
        }
        // Sidecars, by name.
        let media: Vec<(usize, String, Kind)> =
            files.iter().filter_map(|&i| kinds[i].filter(|_| !member[i]).map(|k| (i, name(i), k))).collect();
        for &i in files.iter().filter(|&&i| kinds[i].is_none()) {
            let Some(role) = sidecar_role(paths[i]) else { continue };
            if let Some(p) = primary_of_sidecar(&name(i), role, &media) {
                out.entry(p).or_default().push((i, role));
            }
        }
    }
    out
}

/// The name a member takes beside its primary, when the primary named
/// `primary` is filed as `target`: the primary's new base name in place of
/// its old one (`IMG_1234 (1).HEIC.xmp`, `IMG_1234 (1).MOV`), or, for a
/// member named otherwise (`IMG_O1234.AAE`), its own name with the same
/// number (`IMG_O1234 (1).AAE`).
pub fn member_name(member: &OsStr, primary: &OsStr, target: &OsStr) -> OsString {
    let (m, p, t) = (member.to_string_lossy(), primary.to_string_lossy(), target.to_string_lossy());
    if p == t {
        return member.to_os_string();
    }
    let stem = |s: &str| s.rfind('.').map_or(s.len(), |i| i).min(s.len());
    let (ps, ts) = (&p[..stem(&p)], &t[..stem(&t)]);
    if let Some(rest) = m.strip_prefix(&*p) {
        return OsString::from(format!("{t}{rest}"));
    }
    if let Some(rest) = m.strip_prefix(ps).filter(|r| r.starts_with('.')) {
        return OsString::from(format!("{ts}{rest}"));
    }
    let number = ts.strip_prefix(ps).unwrap_or("");
    let cut = stem(&m);
    OsString::from(format!("{}{number}{}", &m[..cut], &m[cut..]))
}

/// The names the members of a group take beside a primary named `primary`
/// filed as `target` ([`member_name`]), except that a Live Photo's video
/// always takes the still's base name (`IMG_1234_HEVC.MOV` or a video named
/// otherwise beside `IMG_1234.HEIC` becomes `IMG_1234.MOV`), so the pair
/// keeps one name. Never two members the same name.
pub fn member_names(members: &[(&OsStr, Role)], primary: &OsStr, target: &OsStr) -> Vec<OsString> {
    let mut out: Vec<OsString> = Vec::with_capacity(members.len());
    for &(m, role) in members {
        let plain = member_name(m, primary, target);
        let name = match (role, Path::new(target).file_stem(), Path::new(m).extension()) {
            (Role::LiveVideo, Some(stem), Some(ext)) => {
                let mut n = stem.to_os_string();
                n.push(".");
                n.push(ext);
                n
            }
            _ => plain.clone(),
        };
        let taken = |n: &OsStr| out.iter().any(|o| o.eq_ignore_ascii_case(n));
        out.push(if taken(&name) { plain } else { name });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn assemble_names(names: &[&str], times: &[Option<i64>]) -> Vec<(String, Vec<(String, Role)>)> {
        assemble_live(names, times, &[])
    }

    /// `live`: (name, ContentIdentifier) of the files that have one.
    fn assemble_live(
        names: &[&str],
        times: &[Option<i64>],
        live: &[(&str, &str)],
    ) -> Vec<(String, Vec<(String, Role)>)> {
        let paths: Vec<PathBuf> = names.iter().map(|n| PathBuf::from(format!("/in/{n}"))).collect();
        let kind = |e: &str| match e {
            "heic" => Some(Kind::Heif),
            "jpg" => Some(Kind::Jpeg),
            "mov" => Some(Kind::Mov),
            "nef" => Some(Kind::Nef),
            _ => None,
        };
        let kinds: Vec<Option<Kind>> =
            paths.iter().map(|p| p.extension().and_then(|e| kind(&e.to_string_lossy().to_lowercase()))).collect();
        let facts: Vec<Facts> = (0..names.len())
            .map(|i| Facts {
                kind: kinds[i],
                time: times.get(i).copied().flatten(),
                live: live.iter().find(|(n, _)| *n == names[i]).map(|(_, id)| id.to_string()),
            })
            .collect();
        let mut out: Vec<(String, Vec<(String, Role)>)> = assemble(&paths, &facts)
            .into_iter()
            .map(|(p, ms)| {
                let mut ms: Vec<(String, Role)> = ms.into_iter().map(|(i, r)| (names[i].to_string(), r)).collect();
                ms.sort();
                (names[p].to_string(), ms)
            })
            .collect();
        out.sort();
        out
    }

    #[test]
    fn sidecars_live_videos_raw_jpegs_and_edits_find_their_primary() {
        let names = [
            "IMG_1234.HEIC",
            "IMG_1234.MOV",
            "IMG_1234.HEIC.xmp",
            "IMG_O1234.AAE",
            "IMG_E1234.JPG",
            "DSC_0001.NEF",
            "DSC_0001.JPG",
            "DSC_0001.xmp",
            "PXL_20230101_101010123.jpg",
            "PXL_20230101_101010123.jpg.supplemental-metadata.json",
            "IMG(1).JPG",
            "IMG.JPG(1).json",
            "lonely.xmp",
        ];
        let times = vec![None; names.len()];
        let got = assemble_names(&names, &times);
        let want = vec![
            (
                "DSC_0001.NEF".to_string(),
                vec![("DSC_0001.JPG".into(), Role::RawJpeg), ("DSC_0001.xmp".into(), Role::Xmp)],
            ),
            ("IMG(1).JPG".to_string(), vec![("IMG.JPG(1).json".into(), Role::Takeout)]),
            (
                "IMG_1234.HEIC".to_string(),
                vec![
                    ("IMG_1234.HEIC.xmp".into(), Role::Xmp),
                    ("IMG_1234.MOV".into(), Role::LiveVideo),
                    ("IMG_E1234.JPG".into(), Role::Edited),
                    ("IMG_O1234.AAE".into(), Role::Aae),
                ],
            ),
            (
                "PXL_20230101_101010123.jpg".to_string(),
                vec![("PXL_20230101_101010123.jpg.supplemental-metadata.json".into(), Role::Takeout)],
            ),
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn a_live_photo_pairs_by_its_identifier_whatever_the_names() {
        let names = ["IMG_5195.HEIC", "live-video.mov", "IMG_5196.HEIC", "IMG_5196.MOV", "IMG_7.HEIC", "IMG_7.MOV"];
        let live = [("IMG_5195.HEIC", "A"), ("live-video.mov", "A"), ("IMG_5196.HEIC", "B"), ("IMG_7.MOV", "C")];
        let got = assemble_live(&names, &[], &live);
        // By id; a same-stem video with no id is no pair for a still that
        // has one, nor a video with an id for a still without one.
        assert_eq!(got, vec![("IMG_5195.HEIC".to_string(), vec![("live-video.mov".to_string(), Role::LiveVideo)])]);
        // iCloud's `_HEVC` suffix: the same stem.
        let got = assemble_live(&["IMG_1.HEIC", "IMG_1_HEVC.MOV"], &[], &[]);
        assert_eq!(got, vec![("IMG_1.HEIC".to_string(), vec![("IMG_1_HEVC.MOV".to_string(), Role::LiveVideo)])]);
        // Two copies of one Live Photo: two pairs, by name.
        let names = ["a.HEIC", "a.MOV", "b.HEIC", "b.MOV"];
        let live = [("a.HEIC", "A"), ("a.MOV", "A"), ("b.HEIC", "A"), ("b.MOV", "A")];
        let got = assemble_live(&names, &[], &live);
        let pair = |s: &str, v: &str| (s.to_string(), vec![(v.to_string(), Role::LiveVideo)]);
        assert_eq!(got, vec![pair("a.HEIC", "a.MOV"), pair("b.HEIC", "b.MOV")]);
    }

    #[test]
    fn a_raw_and_a_jpeg_shot_apart_are_not_a_pair() {
        let got = assemble_names(&["DSC_0001.NEF", "DSC_0001.JPG"], &[Some(100), Some(105)]);
        assert!(got.is_empty(), "{got:?}");
        let got = assemble_names(&["DSC_0001.NEF", "DSC_0001.JPG"], &[Some(100), Some(101)]);
        assert_eq!(got.len(), 1);
    }

    #[test]
    fn a_truncated_takeout_name_finds_the_one_photo_it_starts() {
        let long = "Screenshot_20190812-231512_Samsung Internet.jpg";
        let json = "Screenshot_20190812-231512_Samsung Internet.jpg.su.json";
        let got = assemble_names(&[long, json, "other.jpg"], &[None, None, None]);
        assert_eq!(got, vec![(long.to_string(), vec![(json.to_string(), Role::Takeout)])]);
    }

    #[test]
    fn a_live_photo_s_video_takes_the_still_s_base_name() {
        let (a, b) = (OsStr::new("IMG_1_HEVC.MOV"), OsStr::new("clip.mov"));
        let names = member_names(
            &[(a, Role::LiveVideo), (b, Role::LiveVideo), (OsStr::new("IMG_1.HEIC.xmp"), Role::Xmp)],
            OsStr::new("IMG_1.HEIC"),
            OsStr::new("IMG_1 (1).HEIC"),
        );
        assert_eq!(names, ["IMG_1 (1).MOV", "clip (1).mov", "IMG_1 (1).HEIC.xmp"]);
    }

    #[test]
    fn members_take_the_primary_s_new_base_name() {
        let n = |m: &str| member_name(OsStr::new(m), OsStr::new("IMG_1234.HEIC"), OsStr::new("IMG_1234 (1).HEIC"));
        assert_eq!(n("IMG_1234.HEIC.xmp"), "IMG_1234 (1).HEIC.xmp");
        assert_eq!(n("IMG_1234.MOV"), "IMG_1234 (1).MOV");
        assert_eq!(n("IMG_1234.xmp"), "IMG_1234 (1).xmp");
        assert_eq!(n("IMG_O1234.AAE"), "IMG_O1234 (1).AAE");
        assert_eq!(member_name(OsStr::new("a.xmp"), OsStr::new("a.jpg"), OsStr::new("a.jpg")), "a.xmp");
    }
}

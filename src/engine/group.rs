//! Grouping duplicates: exact (same blake3) and perceptual (pHash within the
//! threshold of the group's keeper, never chained through other members).
//!
//! Files are taken best first (the keeper order of DESIGN.md: most pixels,
//! then larger file, then better format, then, with `names`, the original
//! name over an OS copy name, then oldest). Each file not yet in a group
//! becomes a keeper and takes every ungrouped file within the threshold of
//! *itself*, so a group can never drift from its keeper one small step at a
//! time, and the keeper is always the best file of its group.

use std::cmp::Ordering;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use crate::media::Kind;
use crate::names;
use crate::phash::PHash;
use crate::store::{FileRow, HashIndex};

/// How grouping decides.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GroupOptions {
    /// Maximum Hamming distance to the keeper.
    pub threshold: u32,
    /// Group by pHash at all (else exact copies only, plus `names`).
    pub perceptual: bool,
    /// Prefer original names as keepers; without `perceptual`, also group a
    /// copy-named file with its original when their pHashes are close.
    pub names: bool,
    /// `dedup.prefer`: formats kept first at equal pixels, before size.
    #[serde(default)]
    pub prefer: Vec<String>,
    /// `dedup.protect`: files under these folders are kept first and never set aside.
    #[serde(default)]
    pub protect: Vec<std::path::PathBuf>,
    /// `dedup.on_duplicate`: what filing does with an exact duplicate.
    #[serde(default)]
    pub on_duplicate: SetAside,
    /// `dedup.on_similar`: what filing does with a copy of the same capture.
    #[serde(default = "quarantine")]
    pub on_similar: SetAside,
    /// Pairs of contents (blake3, smaller first) the user said are not
    /// duplicates (`cbctl not-duplicate`, `cbctl keep`). Read from the
    /// index by the job itself, never taken from a request.
    #[serde(skip)]
    pub apart: std::sync::Arc<std::collections::BTreeSet<(String, String)>>,
    /// Contents (blake3) the user chose as the keeper of their group
    /// (`cbctl prefer`): kept first after `dedup.protect`. Read from the
    /// index by the job itself, never taken from a request.
    #[serde(skip)]
    pub chosen: std::sync::Arc<std::collections::BTreeSet<String>>,
}

/// What filing does with a file set aside as a duplicate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SetAside {
    /// Leave it where it is (listed by `cbctl skipped`).
    #[default]
    Skip,
    /// Move it into the library's duplicates folder, journaled.
    Quarantine,
    /// File it all the same (similar copies only).
    File,
}

fn quarantine() -> SetAside {
    SetAside::Quarantine
}

impl SetAside {
    /// The config word.
    pub fn as_str(self) -> &'static str {
        match self {
            SetAside::Skip => "skip",
            SetAside::Quarantine => "quarantine",
            SetAside::File => "file",
        }
    }
}

impl GroupOptions {
    /// The file lies under a `dedup.protect` folder.
    pub fn protects(&self, path: &std::path::Path) -> bool {
        self.protect.iter().any(|p| path.starts_with(p))
    }

    /// The user chose this file's content as the keeper of its group.
    pub fn is_chosen(&self, r: &FileRow) -> bool {
        !self.chosen.is_empty() && self.chosen.contains(&r.blake3)
    }

    /// The user said these two files are not duplicates of each other.
    pub fn kept_apart(&self, a: &FileRow, b: &FileRow) -> bool {
        !self.apart.is_empty() && self.apart.contains(&crate::store::pair(&a.blake3, &b.blake3))
    }

    /// Whether `b` is a copy of the same capture as `a` by its picture:
    /// the pHash distance, when the pHashes are within the threshold (a
    /// match near it confirmed by the second look), the metadata does not
    /// say they are different shots, and the user did not keep them apart.
    pub fn similar(&self, a: &FileRow, b: &FileRow) -> Option<u32> {
        let d = crate::phash::matches(a.phash?, a.second, b.phash?, b.second, self.threshold)?;
        (different_shots(a, b).is_none() && !self.kept_apart(a, b)).then_some(d)
    }
}

/// Why two files are different shots of one camera (a burst, a bracket,
/// an HDR pair), however alike they look.
pub fn different_shots(a: &FileRow, b: &FileRow) -> Option<String> {
    let name = |r: &FileRow| r.path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    crate::media::capture::different_captures(&a.capture, &b.capture, &name(a), &name(b))
}

impl GroupOptions {
    /// The `[dedup]` settings of a config.
    pub fn from_config(cfg: &crate::config::Config) -> GroupOptions {
        GroupOptions {
            threshold: cfg.dedup_threshold,
            perceptual: cfg.dedup_perceptual,
            names: cfg.dedup_names,
            prefer: cfg.dedup_prefer.clone(),
            // As the index has paths: absolute, links resolved.
            protect: cfg
                .dedup_protect
                .iter()
                .map(|p| crate::fsops::canonical_lenient(p).unwrap_or_else(|_| p.clone()))
                .collect(),
            on_duplicate: match cfg.on_duplicate {
                crate::config::OnDuplicate::Quarantine => SetAside::Quarantine,
                crate::config::OnDuplicate::Skip => SetAside::Skip,
            },
            on_similar: cfg.on_similar,
            apart: Default::default(),
            chosen: Default::default(),
        }
    }
}

/// Why a member is in its group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Match {
    /// Same bytes as the keeper.
    Exact,
    /// pHash within the threshold of the keeper's.
    Perceptual,
    /// An OS copy name of the keeper's, in the same folder, with a close pHash.
    Name,
}

/// A member of a group (not the keeper).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// Index into the rows given to [`group`].
    pub index: usize,
    /// pHash distance to the keeper (0 for exact copies).
    pub distance: u32,
    /// Why it is a duplicate.
    pub how: Match,
    /// Its name is an OS copy name of the keeper's.
    pub copy_name: bool,
}

/// A keeper and its duplicates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    /// Index of the file to keep.
    pub keeper: usize,
    /// The duplicates, nearest first.
    pub members: Vec<Member>,
}

/// Rows whose name is an OS copy name of another row in the same folder.
fn copy_names(rows: &[&FileRow]) -> HashMap<usize, usize> {
    let by_path: HashMap<&Path, usize> = rows.iter().enumerate().map(|(i, r)| (r.path.as_path(), i)).collect();
    let mut out = HashMap::new();
    for (i, r) in rows.iter().enumerate() {
        let Some(name) = r.path.file_name().and_then(|n| n.to_str()) else { continue };
        if let Some(original) = names::original_name(name) {
            let base: PathBuf = r.path.with_file_name(original);
            if let Some(&j) = by_path.get(base.as_path()) {
                out.insert(i, j);
            }
        }
    }
    out
}

/// The file carries its own capture date (EXIF, XMP, a container's), as
/// a camera original does and a re-save without metadata does not.
pub fn has_embedded_date(r: &FileRow) -> bool {
    r.taken_source.as_deref().and_then(crate::media::date::DateSource::parse).is_some_and(|s| s.is_embedded())
}

/// How much of a camera original a file is: 2 with its capture date
/// embedded and the camera's make and model (or a maker note), 1 with the
/// date only, 0 for a copy that lost both (a re-save without metadata).
pub fn originality(r: &FileRow) -> u8 {
    match (has_embedded_date(r), r.capture.camera.is_some() || r.capture.maker_note) {
        (true, true) => 2,
        (true, false) => 1,
        (false, _) => 0,
    }
}

/// Where a file's format stands in `dedup.prefer` (lower is better; not
/// listed: after every listed one). "raw" stands for every RAW kind,
/// "jpg" for "jpeg", "heic" for "heif".
fn preference(r: &FileRow, prefer: &[String]) -> usize {
    let kind = Kind::from_name(&r.kind);
    prefer
        .iter()
        .position(|p| match p.as_str() {
            "raw" => kind.is_some_and(Kind::is_raw),
            "jpg" => r.kind == "jpeg",
            "heic" => r.kind == "heif",
            name => r.kind == name,
        })
        .unwrap_or(prefer.len())
}

/// Why `keeper` was kept over `other`, in words: the first rule of
/// [`keeper_order`] that tells them apart.
pub fn why_kept(keeper: &FileRow, other: &FileRow, other_is_copy: bool, opts: &GroupOptions) -> &'static str {
    let rank = |r: &FileRow| Kind::from_name(&r.kind).map(Kind::keeper_rank).unwrap_or(0);
    let prefer = &opts.prefer;
    if opts.protects(&other.path) {
        "this copy is under dedup.protect: left where it is"
    } else if opts.protects(&keeper.path) {
        "the keeper is under dedup.protect"
    } else if opts.is_chosen(keeper) && !opts.is_chosen(other) {
        "you chose the keeper over its duplicates (`cbctl prefer`; `cbctl undo` takes the choice back)"
    } else if originality(keeper) > originality(other) && originality(other) == 0 {
        if originality(keeper) == 2 {
            "the keeper has its capture date from the camera, and the camera's make and model; this copy lost \
             them (a re-encode without metadata)"
        } else {
            "the keeper has its capture date from the camera; this copy lost it (a re-save without metadata)"
        }
    } else if originality(keeper) > originality(other) {
        "the keeper has the camera's make and model (or maker note); this copy lost them"
    } else if keeper.pixels() != other.pixels() {
        "the keeper has more pixels"
    } else if preference(keeper, prefer) != preference(other, prefer) {
        "the keeper's format comes first in dedup.prefer"
    } else if keeper.size != other.size {
        "the keeper is the larger file (less compressed)"
    } else if rank(keeper) != rank(other) {
        "the keeper's format keeps more (RAW > HEIC/PNG > JPEG)"
    } else if other_is_copy {
        "this copy has an OS copy name of the keeper's"
    } else if keeper.mtime_ns != other.mtime_ns {
        "the keeper is the older file"
    } else {
        "they are alike; the keeper comes first by path"
    }
}

/// The keeper order: `Less` means `a` is the better file to keep. First a
/// file under `dedup.protect`, then one the user chose (`cbctl prefer`),
/// then the camera original (its capture date embedded, and its camera)
/// over a copy that lost them ([`originality`]),
/// then pixels, bytes, format, an OS copy name, age.
pub fn keeper_order(a: &FileRow, b: &FileRow, a_is_copy: bool, b_is_copy: bool, opts: &GroupOptions) -> Ordering {
    let rank = |r: &FileRow| Kind::from_name(&r.kind).map(Kind::keeper_rank).unwrap_or(0);
    let prefer = &opts.prefer;
    opts.protects(&b.path)
        .cmp(&opts.protects(&a.path))
        .then(opts.is_chosen(b).cmp(&opts.is_chosen(a)))
        .then(originality(b).cmp(&originality(a)))
        .then(b.pixels().cmp(&a.pixels()))
        .then(preference(a, prefer).cmp(&preference(b, prefer)))
        .then(b.size.cmp(&a.size))
        .then(rank(b).cmp(&rank(a)))
        .then(a_is_copy.cmp(&b_is_copy))
        .then(a.mtime_ns.cmp(&b.mtime_ns))
        .then(a.path.cmp(&b.path))
}

/// Groups `rows`; only groups with at least one member are returned, in
/// keeper order.
pub fn group<R: std::borrow::Borrow<FileRow>>(rows: &[R], opts: &GroupOptions) -> Vec<Group> {
    // Rows or references to them: dedup compares its rows without a copy.
    let rows: Vec<&FileRow> = rows.iter().map(std::borrow::Borrow::borrow).collect();
    let rows = rows.as_slice();
    let copies = if opts.names { copy_names(rows) } else { HashMap::new() };
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order.sort_by(|&a, &b| keeper_order(rows[a], rows[b], copies.contains_key(&a), copies.contains_key(&b), opts));

    // Exact clusters, each led by its best file.
    let mut clusters: Vec<Vec<usize>> = Vec::new();
    let mut cluster_of_hash: HashMap<&str, usize> = HashMap::new();
    for &i in &order {
        match cluster_of_hash.get(rows[i].blake3.as_str()) {
            Some(&c) => clusters[c].push(i),
            None => {
                cluster_of_hash.insert(rows[i].blake3.as_str(), clusters.len());
                clusters.push(vec![i]);
            }
        }
    }
    // Clusters are in keeper order of their leaders (the order was sorted).
    let leaders: Vec<usize> = clusters.iter().map(|c| c[0]).collect();
    let mut taken = vec![false; clusters.len()];
    let mut joined: Vec<Vec<(usize, u32, Match)>> = vec![Vec::new(); clusters.len()];

    if opts.perceptual {
        let hashed: Vec<(i64, PHash)> =
            leaders.iter().enumerate().filter_map(|(c, &i)| rows[i].phash.map(|h| (c as i64, h))).collect();
        let index = HashIndex::new(hashed);
        for c in 0..clusters.len() {
            if taken[c] {
                continue;
            }
            let Some(h) = rows[leaders[c]].phash else { continue };
            for (other, _) in index.within(h, opts.threshold) {
                let other = other as usize;
                if other != c && !taken[other] && other > c {
                    if let Some(distance) = opts.similar(rows[leaders[c]], rows[leaders[other]]) {
                        taken[other] = true;
                        joined[c].push((other, distance, Match::Perceptual));
                    }
                }
            }
        }
    } else if opts.names {
        let cluster_of: HashMap<usize, usize> =
            clusters.iter().enumerate().flat_map(|(c, m)| m.iter().map(move |&i| (i, c))).collect();
        let mut seen = HashSet::new();
        for (&copy, &original) in &copies {
            let (cc, co) = (cluster_of[&copy], cluster_of[&original]);
            if cc == co || taken[cc] || !seen.insert(cc) {
                continue;
            }
            if let Some(d) = opts.similar(rows[original], rows[copy]) {
                if !taken[co] {
                    taken[cc] = true;
                    joined[co].push((cc, d, Match::Name));
                }
            }
        }
    }

    let mut groups = Vec::new();
    for c in 0..clusters.len() {
        if taken[c] {
            continue;
        }
        let keeper = clusters[c][0];
        let is_copy_of_keeper = |i: usize| copies.get(&i) == Some(&keeper);
        let mut members: Vec<Member> = clusters[c][1..]
            .iter()
            .map(|&i| Member { index: i, distance: 0, how: Match::Exact, copy_name: is_copy_of_keeper(i) })
            .collect();
        for &(other, distance, how) in &joined[c] {
            for &i in &clusters[other] {
                let d = match (rows[i].phash, rows[keeper].phash) {
                    (Some(a), Some(b)) => a.distance(b),
                    _ => distance,
                };
                members.push(Member { index: i, distance: d, how, copy_name: is_copy_of_keeper(i) });
            }
        }
        if !members.is_empty() {
            members.sort_by_key(|m| (m.distance, m.index));
            groups.push(Group { keeper, members });
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(path: &str, blake3: &str, phash: u64, pixels: u32, size: u64) -> FileRow {
        FileRow {
            path: PathBuf::from(path),
            size,
            mtime_ns: 0,
            inode: 0,
            blake3: blake3.into(),
            phash: Some(PHash(phash)),
            width: Some(pixels),
            height: Some(1),
            taken_at: None,
            taken_source: None,
            kind: "jpeg".into(),
            hash_error: None,
            second: None,
            capture: Default::default(),
            format: crate::store::INDEX_FORMAT,
        }
    }

    fn base_opts() -> GroupOptions {
        GroupOptions {
            threshold: 6,
            perceptual: true,
            names: false,
            prefer: Vec::new(),
            protect: Vec::new(),
            on_duplicate: SetAside::Skip,
            on_similar: SetAside::Quarantine,
            apart: Default::default(),
            chosen: Default::default(),
        }
    }
    const OPTS_PREFER_JPEG: &[&str] = &["jpg", "png"];

    #[test]
    fn a_copy_that_kept_the_camera_is_kept_over_one_that_kept_only_the_date() {
        // An app's export kept DateTimeOriginal but dropped Make, Model and the maker note.
        let mut camera = row("IMG_0002.jpg", "aa", 0x0f0f, 1000, 8_000);
        camera.taken_source = Some("exif".into());
        camera.capture.camera = Some("Apple iPhone 12".into());
        camera.capture.maker_note = true;
        let mut export = row("IMG_0002-export.jpg", "bb", 0x0f0f, 1000, 9_000);
        export.taken_source = Some("exif".into());
        let rows = [export.clone(), camera.clone()];
        assert_eq!(rows[group(&rows, &base_opts())[0].keeper].path, camera.path);
        assert_eq!((originality(&camera), originality(&export)), (2, 1));
        assert!(why_kept(&camera, &export, false, &base_opts()).contains("make and model"));
        let mut bare = export.clone();
        bare.taken_source = Some("mtime".into());
        let why = why_kept(&camera, &bare, false, &base_opts());
        assert!(why.contains("capture date from the camera, and the camera's make and model"), "{why}");
    }

    #[test]
    fn the_camera_original_is_kept_over_a_bigger_re_save_that_lost_its_date() {
        // A Pillow re-save as PNG: same pixels, more bytes, a "better" format, no EXIF.
        let mut jpeg = row("IMG_0001.jpg", "aa", 0x0f0f, 1000, 8_000);
        (jpeg.taken_source, jpeg.taken_at) = (Some("exif".into()), Some("2008-05-30T15:56:01".into()));
        let mut png = row("IMG_0001.png", "bb", 0x0f0f, 1000, 90_000);
        (png.kind, png.taken_source) = ("png".into(), Some("mtime".into()));
        for rows in [[jpeg.clone(), png.clone()], [png.clone(), jpeg.clone()]] {
            let groups = group(&rows, &base_opts());
            assert_eq!(groups.len(), 1);
            assert_eq!(rows[groups[0].keeper].path, jpeg.path, "the dated camera JPEG is the keeper");
        }
        // A date from the file name is no better than none: then pixels and bytes decide as before.
        png.taken_source = Some("filename".into());
        jpeg.taken_source = Some("filename".into());
        let rows = [jpeg.clone(), png.clone()];
        assert_eq!(rows[group(&rows, &base_opts())[0].keeper].path, png.path);
        assert_eq!(why_kept(&png, &jpeg, false, &base_opts()), "the keeper is the larger file (less compressed)");
        // dedup.prefer puts a format first at equal pixels, whatever the sizes.
        let prefer = OPTS_PREFER_JPEG;
        let opts = GroupOptions { prefer: prefer.iter().map(|s| s.to_string()).collect(), ..base_opts() };
        assert_eq!(rows[group(&rows, &opts)[0].keeper].path, jpeg.path);
        assert_eq!(why_kept(&jpeg, &png, false, &opts), "the keeper's format comes first in dedup.prefer");
        jpeg.taken_source = Some("exif".into());
        assert!(why_kept(&jpeg, &png, false, &base_opts()).starts_with("the keeper has its capture date"));
        // A copy under dedup.protect is kept over everything else.
        let opts = GroupOptions { protect: vec![PathBuf::from("/keep")], ..base_opts() };
        let mut kept = png.clone();
        kept.path = PathBuf::from("/keep/IMG_0001.png");
        let rows = [jpeg.clone(), kept.clone()];
        assert_eq!(rows[group(&rows, &opts)[0].keeper].path, kept.path);
        assert_eq!(why_kept(&kept, &jpeg, false, &opts), "the keeper is under dedup.protect");
    }

    #[test]
    fn a_chosen_file_is_kept_over_a_better_original_but_not_over_a_protected_one() {
        let mut camera = row("/d/IMG_0003.jpg", "aa", 0x0f0f, 1000, 8_000);
        (camera.taken_source, camera.capture.camera) = (Some("exif".into()), Some("Canon EOS 40D".into()));
        let small = row("/d/small.jpg", "bb", 0x0f0f, 250, 2_000);
        let opts = base_opts();
        assert_eq!(keeper_order(&camera, &small, false, false, &opts), Ordering::Less);
        let chosen = GroupOptions { chosen: std::sync::Arc::new(["bb".to_string()].into()), ..base_opts() };
        assert_eq!(keeper_order(&camera, &small, false, false, &chosen), Ordering::Greater);
        assert_eq!(keeper_order(&small, &camera, false, false, &chosen), Ordering::Less);
        for rows in [[camera.clone(), small.clone()], [small.clone(), camera.clone()]] {
            let g = group(&rows, &chosen);
            assert_eq!(rows[g[0].keeper].path, small.path, "the chosen one keeps");
        }
        let why = why_kept(&small, &camera, false, &chosen);
        assert!(why.contains("you chose the keeper") && why.contains("cbctl prefer"), "{why}");
        // Both chosen: the choice says nothing between them, the usual rules decide.
        let both = GroupOptions { chosen: std::sync::Arc::new(["aa".into(), "bb".into()].into()), ..base_opts() };
        assert_eq!(keeper_order(&camera, &small, false, false, &both), Ordering::Less);
        // dedup.protect comes first still.
        let mut protected = camera.clone();
        protected.path = PathBuf::from("/keep/IMG_0003.jpg");
        let opts = GroupOptions { protect: vec![PathBuf::from("/keep")], ..chosen };
        assert_eq!(keeper_order(&protected, &small, false, false, &opts), Ordering::Less);
        assert_eq!(why_kept(&protected, &small, false, &opts), "the keeper is under dedup.protect");
    }

    #[test]
    fn members_must_be_near_the_keeper_not_near_each_other() {
        // a–b 4 bits, b–c 4 bits, a–c 8 bits: c must not chain in through b.
        let rows = [
            row("/a.jpg", "1", 0, 400, 10),
            row("/b.jpg", "2", 0b1111, 300, 10),
            row("/c.jpg", "3", 0b1111_1111, 200, 10),
        ];
        let groups = group(&rows, &base_opts());
        assert_eq!(groups.len(), 1);
        assert_eq!(groups[0].keeper, 0);
        assert_eq!(groups[0].members.iter().map(|m| m.index).collect::<Vec<_>>(), vec![1]);
    }

    #[test]
    fn the_keeper_has_most_pixels_then_bytes_then_format() {
        let mut rows = [row("/small.jpg", "1", 0, 100, 99), row("/big.jpg", "2", 1, 400, 10)];
        assert_eq!(group(&rows, &base_opts())[0].keeper, 1);
        rows[1].width = Some(100);
        assert_eq!(group(&rows, &base_opts())[0].keeper, 0, "same pixels: the larger file");
        rows[1].size = 99;
        rows[1].kind = "heif".into();
        assert_eq!(group(&rows, &base_opts())[0].keeper, 1, "same pixels and bytes: HEIC over JPEG");
    }

    #[test]
    fn exact_copies_group_even_without_a_phash_and_copy_names_lose_the_keeper_tie() {
        let mut rows = [row("/d/IMG_1 (1).jpg", "same", 0, 1, 5), row("/d/IMG_1.jpg", "same", 0, 1, 5)];
        rows[0].mtime_ns = -1; // the copy is "older": names still decide
        rows.iter_mut().for_each(|r| r.phash = None);
        let g = group(&rows, &GroupOptions { names: true, ..base_opts() });
        assert_eq!(g[0].keeper, 1);
        assert_eq!(g[0].members, vec![Member { index: 0, distance: 0, how: Match::Exact, copy_name: true }]);
        let g = group(&rows, &base_opts());
        assert_eq!(g[0].keeper, 0, "without names, the older file wins");
    }

    #[test]
    fn without_perceptual_a_copy_name_needs_a_close_phash_not_just_the_name() {
        let rows = [
            row("/d/IMG_1.jpg", "1", 0, 10, 5),
            row("/d/IMG_1 (1).jpg", "2", 0b11, 10, 5),
            row("/d/IMG_2.jpg", "3", u64::MAX, 10, 5),
            row("/d/IMG_2 copy.jpg", "4", 0, 10, 5),
        ];
        let g = group(&rows, &GroupOptions { threshold: 6, perceptual: false, names: true, ..base_opts() });
        assert_eq!(g.len(), 1);
        assert_eq!((g[0].keeper, g[0].members[0].index, g[0].members[0].how), (0, 1, Match::Name));
    }
}

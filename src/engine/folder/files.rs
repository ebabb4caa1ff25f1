//! Files in a folder repository, as Eden's `filesync` names and finds them:
//! input files by a glob in the folder (oldest first; names starting with
//! a dot are never matched, which is where files being written hide),
//! output files named by a pattern with `$year $month $day $hour $minute
//! $second $timestamp` (UTC, at the start of the run). Written files appear
//! whole or not at all: written under a hidden name, synced, then renamed.

use std::fs::File;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use chrono::{DateTime, NaiveDateTime, Utc};
use sha2::{Digest, Sha256};

/// A file that matched a task's input pattern.
#[derive(Debug, Clone)]
pub struct InputFile {
    pub path: PathBuf,
    /// The path relative to the folder: how the ledger and the log name it.
    pub name: String,
    pub bytes: u64,
    /// Its modification time, UTC, whole microseconds as the database keeps
    /// them.
    pub mtime: NaiveDateTime,
}

/// The regular files in `folder` matching `pattern`, oldest first (ties by
/// name, so the order is the same on every run).
pub fn matching(folder: &Path, pattern: &str) -> Result<Vec<InputFile>, String> {
    // The folder's own name is not a pattern (`/media/usb [1]`).
    let escaped = glob::Pattern::escape(&folder.to_string_lossy());
    let full = Path::new(&escaped).join(pattern);
    let full = full.to_string_lossy();
    let options = glob::MatchOptions {
        case_sensitive: true,
        require_literal_separator: true,
        require_literal_leading_dot: true,
    };
    let paths = glob::glob_with(&full, options)
        .map_err(|e| format!("the input file pattern '{pattern}' is not a valid pattern: {e}"))?;
    let mut files = Vec::new();
    for path in paths.flatten() {
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if !meta.is_file() {
            continue;
        }
        let Ok(modified) = meta.modified() else {
            continue;
        };
        let mtime = DateTime::<Utc>::from(modified).naive_utc();
        let mtime = chrono::SubsecRound::trunc_subsecs(mtime, 6);
        let name = path
            .strip_prefix(folder)
            .unwrap_or(&path)
            .to_string_lossy()
            .into_owned();
        files.push(InputFile {
            path,
            name,
            bytes: meta.len(),
            mtime,
        });
    }
    files.sort_by(|a, b| a.mtime.cmp(&b.mtime).then_with(|| a.name.cmp(&b.name)));
    Ok(files)
}

/// The output file name for a run started at `at` (UTC), by Eden's rules:
/// `$name` and `${name}`, `$$` for a dollar, unknown names left as they
/// are, `%%` for a percent sign.
pub fn output_name(pattern: &str, at: NaiveDateTime) -> String {
    let value = |name: &str| -> Option<String> {
        Some(match name {
            "year" => at.format("%Y").to_string(),
            "month" => at.format("%m").to_string(),
            "day" => at.format("%d").to_string(),
            "hour" => at.format("%H").to_string(),
            "minute" => at.format("%M").to_string(),
            "second" => at.format("%S").to_string(),
            "timestamp" => at.format("%Y%m%d%H%M%S").to_string(),
            _ => return None,
        })
    };
    let mut out = String::new();
    let mut rest = pattern;
    while let Some(i) = rest.find(['$', '%']) {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        if rest.as_bytes()[i] == b'%' {
            out.push('%');
            rest = after.strip_prefix('%').unwrap_or(after);
            continue;
        }
        if let Some(after) = after.strip_prefix('$') {
            out.push('$');
            rest = after;
            continue;
        }
        let (name, skip) = match after.strip_prefix('{') {
            Some(braced) => match braced.find('}') {
                Some(end) => (&braced[..end], end + 2),
                None => ("", 0),
            },
            None => {
                let end = after
                    .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                    .unwrap_or(after.len());
                (&after[..end], end)
            }
        };
        match value(name) {
            Some(v) => {
                out.push_str(&v);
                rest = &after[skip..];
            }
            None => {
                out.push('$');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Whether an output pattern is usable: a file name in the folder, with at
/// least one time placeholder or a fixed name.
pub fn check_output_pattern(pattern: &str) -> Result<(), String> {
    let pattern = pattern.trim();
    if pattern.is_empty() {
        return Err("the output file pattern is empty".into());
    }
    if pattern.starts_with('/') || pattern.split('/').any(|part| part == "..") {
        return Err(format!(
            "the output file pattern '{pattern}' must name a file inside the folder"
        ));
    }
    if pattern.starts_with('.') {
        return Err(format!(
            "the output file pattern '{pattern}' starts with a dot: such files are hidden from input patterns"
        ));
    }
    Ok(())
}

/// Whether an input pattern is usable: a valid pattern for files inside
/// the folder.
pub fn check_input_pattern(pattern: &str) -> Result<(), String> {
    let inside = !pattern.starts_with('/') && !pattern.split('/').any(|part| part == "..");
    if !inside || glob::Pattern::new(pattern).is_err() {
        return Err(format!(
            "'{pattern}' is not a file name pattern inside the folder (e.g. org_organisation-*.xml)"
        ));
    }
    Ok(())
}

/// The folder of a folder repository, as a run finds it: there, and a
/// folder (a stick that is not plugged in is reported, not written past).
pub fn check_present(folder: &Path) -> Result<(), String> {
    if folder.is_dir() {
        return Ok(());
    }
    Err(format!(
        "the folder {} is not there: is the stick or share plugged in and mounted?",
        folder.display()
    ))
}

/// Write `source` (read from its start) into `folder` as `name`, whole or
/// not at all: under a new hidden temporary name (created, never opened
/// through a link someone left there), synced, then renamed. A file of
/// that name already there (not read yet, perhaps) is kept: the new one
/// gets `-2`, `-3`, … before its extension. Returns the name written.
pub fn write_whole(folder: &Path, name: &str, source: &mut File) -> std::io::Result<String> {
    let mut hidden = tempfile::Builder::new()
        .prefix(&format!(".{}.", name.replace('/', "_")))
        .suffix(".part")
        .tempfile_in(folder)?;
    std::io::copy(source, hidden.as_file_mut())?;
    hidden.as_file_mut().flush()?;
    hidden.as_file().sync_all()?;
    let mut final_name = free_name(folder, name);
    loop {
        match hidden.persist_noclobber(folder.join(&final_name)) {
            Ok(_) => break,
            // Taken meanwhile: the next free name.
            Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => {
                hidden = e.file;
                final_name = free_name(folder, name);
            }
            Err(e) => return Err(e.error),
        }
    }
    if let Ok(dir) = File::open(folder) {
        let _ = dir.sync_all();
    }
    Ok(final_name)
}

fn free_name(folder: &Path, name: &str) -> String {
    if !folder.join(name).exists() {
        return name.to_string();
    }
    let (stem, extension) = split_extension(name);
    (2..)
        .map(|n| format!("{stem}-{n}{extension}"))
        .find(|candidate| !folder.join(candidate).exists())
        .expect("some numbered name is free")
}

/// `org-1.xml.gz` → (`org-1`, `.xml.gz`).
fn split_extension(name: &str) -> (&str, &str) {
    let base_start = name.rfind('/').map_or(0, |i| i + 1);
    match name[base_start..].find('.') {
        Some(0) | None => (name, ""),
        Some(dot) => name.split_at(base_start + dot),
    }
}

/// Give the file a time after `youngest` (a record's time in it) when it
/// would otherwise look older; returns its time.
pub fn not_older_than(
    path: &Path,
    youngest: Option<NaiveDateTime>,
) -> std::io::Result<NaiveDateTime> {
    let file = File::options().write(true).open(path)?;
    let mut modified = file.metadata()?.modified()?;
    if let Some(young) = youngest {
        let after = std::time::SystemTime::from((young + chrono::TimeDelta::seconds(2)).and_utc());
        if after > modified {
            file.set_modified(after)?;
            modified = after;
        }
    }
    Ok(chrono::SubsecRound::trunc_subsecs(
        DateTime::<Utc>::from(modified).naive_utc(),
        6,
    ))
}

/// The file's SHA-256, hex: the same bytes under any name are one file.
pub fn digest(path: &Path) -> std::io::Result<String> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// Whether the file starts as gzip does.
pub fn is_gzip(file: &mut File) -> std::io::Result<bool> {
    use std::io::{Seek, SeekFrom};
    let mut magic = [0u8; 2];
    let n = file.read(&mut magic)?;
    file.seek(SeekFrom::Start(0))?;
    Ok(n == 2 && magic == [0x1f, 0x8b])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> NaiveDateTime {
        NaiveDateTime::parse_from_str("2026-12-03 07:01:10", "%Y-%m-%d %H:%M:%S").unwrap()
    }

    #[test]
    fn output_names_follow_edens_placeholders() {
        // The names Eden wrote (vectors filesync/).
        assert_eq!(
            output_name("org_organisation-$timestamp.xml", at()),
            "org_organisation-20261203070110.xml"
        );
        assert_eq!(
            output_name(
                "org_organisation-$year$month$day-$hour$minute$second-${timestamp}.xml",
                at()
            ),
            "org_organisation-20261203-070110-20261203070110.xml"
        );
        assert_eq!(
            output_name("a$$b-$unknown-%%.xml", at()),
            "a$b-$unknown-%.xml"
        );
        assert_eq!(output_name("plain.xml", at()), "plain.xml");
        assert_eq!(output_name("${minute", at()), "${minute");
    }

    #[test]
    fn output_patterns_stay_in_the_folder_and_visible() {
        assert!(check_output_pattern("org-$timestamp.xml").is_ok());
        assert!(check_output_pattern("/etc/passwd").is_err());
        assert!(check_output_pattern("../up.xml").is_err());
        assert!(check_output_pattern(".hidden.xml").is_err());
        assert!(check_output_pattern(" ").is_err());
        assert!(check_input_pattern("org-*.xml").is_ok());
        assert!(check_input_pattern("../*.xml").is_err());
        assert!(check_input_pattern("/etc/*").is_err());
    }

    #[test]
    fn a_temporary_file_left_as_a_link_is_never_written_through() {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(outside.path(), "keep me").unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join(".a.xml.part")).unwrap();
        let mut source = tempfile::tempfile().unwrap();
        source.write_all(b"<s3xml/>").unwrap();
        use std::io::Seek;
        source.rewind().unwrap();
        write_whole(dir.path(), "a.xml", &mut source).unwrap();
        assert_eq!(std::fs::read_to_string(outside.path()).unwrap(), "keep me");
        assert_eq!(
            std::fs::read_to_string(dir.path().join("a.xml")).unwrap(),
            "<s3xml/>"
        );
    }

    #[test]
    fn a_missing_folder_is_reported() {
        assert!(check_present(Path::new("/nonexistent/stick")).is_err());
        assert!(check_present(Path::new("/tmp")).is_ok());
    }

    #[test]
    fn a_written_file_never_replaces_one_already_there() {
        let dir = tempfile::tempdir().unwrap();
        let mut source = tempfile::tempfile().unwrap();
        source.write_all(b"<s3xml/>").unwrap();
        use std::io::Seek;
        source.rewind().unwrap();
        assert_eq!(
            write_whole(dir.path(), "a.xml.gz", &mut source).unwrap(),
            "a.xml.gz"
        );
        source.rewind().unwrap();
        assert_eq!(
            write_whole(dir.path(), "a.xml.gz", &mut source).unwrap(),
            "a-2.xml.gz"
        );
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.len(), 2, "no temporary file left: {names:?}");
    }

    #[test]
    fn input_patterns_skip_hidden_and_sort_oldest_first() {
        let dir = tempfile::tempdir().unwrap();
        for (name, age) in [("b.xml", 10), ("a.xml", 20), (".a.xml.part", 30)] {
            let path = dir.path().join(name);
            std::fs::write(&path, "x").unwrap();
            let time = std::time::SystemTime::now() - std::time::Duration::from_secs(age);
            File::options()
                .write(true)
                .open(&path)
                .unwrap()
                .set_modified(time)
                .unwrap();
        }
        let found = matching(dir.path(), "*.xml*").unwrap();
        let names: Vec<_> = found.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["a.xml", "b.xml"]);
    }
}

//! Atomic, consistent file installs: every new content is staged first (a temporary file in the
//! target's own directory, written and fsynced), then all are renamed into place, then the
//! directories are fsynced. A crash leaves each file wholly old or wholly new.

use std::fs::{self, File, Permissions};
use std::io::{self, Write as _};
use std::os::unix::fs::{MetadataExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};

use tempfile::TempPath;

use crate::exit::{Class, CliError, Result};

/// Mode of a file that did not exist before: certificates are public.
const NEW_FILE_MODE: u32 = 0o644;

const STAGING_SUFFIX: &str = ".tmp";

/// Staged copies of `target` are named `.certpull-NAME-RANDOM.tmp` beside it, so that those a
/// killed run left behind can be told apart and removed.
fn staging_prefix(target: &Path) -> String {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    format!(".certpull-{name}-")
}

/// Removes what a killed run left staged for `path`. Call it only while holding the lock of the
/// certificate that owns `path`: another run's staging would look the same.
pub fn remove_stale_staging(path: &Path) {
    let Ok(target) = resolve_target(path) else {
        return;
    };
    let dir = match target.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let prefix = staging_prefix(&target);
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with(&prefix) && name.ends_with(STAGING_SUFFIX) {
            let _ = fs::remove_file(entry.path());
        }
    }
}

struct Staged {
    target: PathBuf,
    temp: TempPath,
}

/// A set of files to replace together.
#[derive(Default)]
pub struct FileSet {
    staged: Vec<Staged>,
}

fn write_error(path: &Path, error: impl std::fmt::Display) -> CliError {
    CliError::new(
        Class::Write,
        format!("cannot write {}: {error}", path.display()),
    )
}

/// The file a path names: a symlink (certbot's live/ directory) is followed, so that the file it
/// points to is replaced and the link kept.
fn resolve_target(path: &Path) -> io::Result<PathBuf> {
    let mut current = path.to_path_buf();
    for _ in 0..40 {
        match fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => {
                let link = fs::read_link(&current)?;
                current = match current.parent() {
                    Some(parent) if link.is_relative() => parent.join(link),
                    _ => link,
                };
            }
            _ => return Ok(current),
        }
    }
    Err(io::Error::other("too many levels of symbolic links"))
}

impl FileSet {
    pub fn new() -> Self {
        Self::default()
    }

    /// Writes `contents` to a temporary file beside `path`, with the mode, owner and group of the
    /// file it will replace (0644 for a new file), and fsyncs it.
    pub fn stage(&mut self, path: &Path, contents: &[u8]) -> Result<()> {
        let target = resolve_target(path).map_err(|e| write_error(path, e))?;
        let dir = match target.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let existing = fs::metadata(&target).ok();
        let mut temp = tempfile::Builder::new()
            .prefix(&staging_prefix(&target))
            .suffix(STAGING_SUFFIX)
            .tempfile_in(&dir)
            .map_err(|e| write_error(&target, e))?;
        let file: &mut File = temp.as_file_mut();
        let mode = existing
            .as_ref()
            .map_or(NEW_FILE_MODE, |meta| meta.mode() & 0o7777);
        file.set_permissions(Permissions::from_mode(mode))
            .map_err(|e| write_error(&target, e))?;
        if let Some(meta) = &existing {
            // Only root may give a file away; anyone else keeps their own ownership.
            let _ = std::os::unix::fs::fchown(&*file, Some(meta.uid()), Some(meta.gid()));
        }
        file.write_all(contents)
            .and_then(|()| file.sync_all())
            .map_err(|e| write_error(&target, e))?;
        self.staged.push(Staged {
            target,
            temp: temp.into_temp_path(),
        });
        Ok(())
    }

    /// Renames every staged file into place, then fsyncs their directories.
    pub fn commit(self) -> Result<()> {
        self.commit_observed(|_| {})
    }

    /// [`commit`](Self::commit), calling `after_rename(n)` once the n-th file (from 1) is in
    /// place (the tests' fault injection uses it to stop between renames).
    pub fn commit_observed(self, mut after_rename: impl FnMut(usize)) -> Result<()> {
        let mut dirs: Vec<PathBuf> = Vec::new();
        for (index, staged) in self.staged.into_iter().enumerate() {
            let target = staged.target;
            staged
                .temp
                .persist(&target)
                .map_err(|e| write_error(&target, e.error))?;
            after_rename(index + 1);
            if let Some(dir) = target.parent() {
                let dir = if dir.as_os_str().is_empty() {
                    Path::new(".")
                } else {
                    dir
                };
                if !dirs.iter().any(|d| d == dir) {
                    dirs.push(dir.to_path_buf());
                }
            }
        }
        for dir in dirs {
            File::open(&dir)
                .and_then(|d| d.sync_all())
                .map_err(|e| write_error(&dir, e))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staged_files_appear_only_on_commit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cert.pem");
        fs::write(&path, "old").unwrap();
        let mut set = FileSet::new();
        set.stage(&path, b"new").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "old");
        set.commit().unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "new");
        assert_eq!(
            fs::read_dir(dir.path()).unwrap().count(),
            1,
            "no temp file left"
        );
    }

    #[test]
    fn dropped_set_leaves_old_files_and_no_temp_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cert.pem");
        fs::write(&path, "old").unwrap();
        let mut set = FileSet::new();
        set.stage(&path, b"new").unwrap();
        drop(set);
        assert_eq!(fs::read_to_string(&path).unwrap(), "old");
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn existing_mode_is_kept_and_new_files_get_0644() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join("old.pem");
        fs::write(&old, "x").unwrap();
        fs::set_permissions(&old, Permissions::from_mode(0o640)).unwrap();
        let new = dir.path().join("new.pem");
        let mut set = FileSet::new();
        set.stage(&old, b"y").unwrap();
        set.stage(&new, b"z").unwrap();
        set.commit().unwrap();
        assert_eq!(fs::metadata(&old).unwrap().mode() & 0o777, 0o640);
        assert_eq!(fs::metadata(&new).unwrap().mode() & 0o777, 0o644);
    }

    #[test]
    fn symlinked_target_is_replaced_through_the_link() {
        let dir = tempfile::tempdir().unwrap();
        let archive = dir.path().join("archive");
        fs::create_dir(&archive).unwrap();
        fs::write(archive.join("cert1.pem"), "old").unwrap();
        let link = dir.path().join("cert.pem");
        std::os::unix::fs::symlink("archive/cert1.pem", &link).unwrap();
        let mut set = FileSet::new();
        set.stage(&link, b"new").unwrap();
        set.commit().unwrap();
        assert!(fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink());
        assert_eq!(
            fs::read_to_string(archive.join("cert1.pem")).unwrap(),
            "new"
        );
    }

    #[test]
    fn missing_directory_is_a_write_error_naming_the_path() {
        let error = FileSet::new()
            .stage(Path::new("/nonexistent-dir/cert.pem"), b"x")
            .err()
            .unwrap();
        assert_eq!(error.class, Class::Write);
        assert!(error.message.contains("/nonexistent-dir/cert.pem"));
    }
}

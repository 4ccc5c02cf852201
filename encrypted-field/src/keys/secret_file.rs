//! Secret files on disk: the one way this crate writes them, and the file modes it accepts when
//! it reads a key.
//!
//! Writing never follows a symbolic link: the bytes go into a new temporary file beside the
//! target (exclusive create, `O_NOFOLLOW`, mode 0600), which is synced and then renamed (or, when
//! an existing file must be kept, hard-linked) into place, and the directory is synced.
//!
//! Reading a key applies this rule to the file (links resolved) and the directory holding it:
//! - group or others can write the file or its directory: refused (they could replace the key);
//! - group or others can read the file and reach it through its directory, and its owner may
//!   write it: loaded, with a warning;
//! - anything else loads quietly: 0600 files, files in a directory only the owner can enter, and
//!   read-only secrets (a mode without any write bit, such as Docker's 0444, or any file on a
//!   read-only mount, such as a Kubernetes secret volume, whose modes the platform sets).

use std::fs;
use std::io::{ErrorKind, Write as _};
use std::path::{Path, PathBuf};

use crate::error::{BadKeyReason, Error, Result};

/// What [`write_secret_file`] does when the target already exists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Existing {
    /// Refuse ([`ErrorKind::AlreadyExists`]) and leave it as it is: key files, backups.
    Keep,
    /// Replace it in one step (a reader sees the old file or the new one): the active-version pin.
    Replace,
}

/// Writes `contents` into `path` (mode 0600) through a new temporary file beside it, never
/// through a symbolic link at either name; see the module documentation.
pub(crate) fn write_secret_file(path: &Path, contents: &[u8], existing: Existing) -> Result<()> {
    let name = path.file_name().ok_or_else(|| {
        io_error(
            "writing secret file",
            path,
            std::io::Error::new(ErrorKind::InvalidInput, "the path names no file"),
        )
    })?;
    let mut suffix = [0u8; 8];
    crate::keys::os_random::fill_from_os(&mut suffix)?;
    let suffix: String = suffix.iter().map(|b| format!("{b:02x}")).collect();
    // Unpredictable, and not named like a key file: a leftover of a crash is never loaded.
    let tmp = parent_dir(path).join(format!(".{}.{suffix}.tmp", name.to_string_lossy()));
    write_via(&tmp, path, contents, existing)
}

/// [`write_secret_file`] with the temporary name given.
fn write_via(tmp: &Path, path: &Path, contents: &[u8], existing: Existing) -> Result<()> {
    let mut file =
        open_new_private(tmp).map_err(|e| io_error("creating temporary file", tmp, e))?;
    let placed = file
        .write_all(contents)
        .and_then(|()| file.sync_all())
        .and_then(|()| match existing {
            // rename(2) replaces a link at `path` itself, never the file it points to.
            Existing::Replace => fs::rename(tmp, path),
            // link(2) refuses any existing name, a dangling link included.
            Existing::Keep => fs::hard_link(tmp, path),
        });
    drop(file);
    match placed {
        Ok(()) => {}
        // A file system without hard links (FAT, some network shares) says EPERM: the file is
        // then created in place, still exclusive and never through a link, only not atomically.
        Err(e)
            if existing == Existing::Keep
                && matches!(
                    e.kind(),
                    ErrorKind::PermissionDenied | ErrorKind::Unsupported
                ) =>
        {
            let _ = fs::remove_file(tmp);
            return write_in_place(path, contents);
        }
        Err(source) => {
            let _ = fs::remove_file(tmp);
            return Err(io_error("writing secret file", path, source));
        }
    }
    if existing == Existing::Keep {
        fs::remove_file(tmp).map_err(|e| io_error("removing temporary file", tmp, e))?;
    }
    sync_dir(parent_dir(path))
}

/// Writes a new file at `path` itself (exclusive create, `O_NOFOLLOW`, mode 0600) and syncs it.
fn write_in_place(path: &Path, contents: &[u8]) -> Result<()> {
    let io = |e| io_error("writing secret file", path, e);
    let mut file = open_new_private(path).map_err(io)?;
    file.write_all(contents)
        .and_then(|()| file.sync_all())
        .map_err(io)?;
    sync_dir(parent_dir(path))
}

/// A new file, mode 0600, that is neither an existing file nor a link (`O_EXCL`, `O_NOFOLLOW`).
fn open_new_private(path: &Path) -> std::io::Result<fs::File> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    no_follow(&mut options);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)
}

/// Makes `options` refuse to open a symbolic link (`O_NOFOLLOW`).
pub(crate) fn no_follow(options: &mut fs::OpenOptions) {
    #[cfg(unix)]
    {
        #[allow(clippy::cast_possible_wrap)] // a flag bit, well below i32::MAX
        let flag = rustix::fs::OFlags::NOFOLLOW.bits() as i32;
        std::os::unix::fs::OpenOptionsExt::custom_flags(options, flag);
    }
    #[cfg(not(unix))]
    let _ = options;
}

/// Creates a directory (and its parents) that only its owner can enter.
pub(crate) fn create_private_dir(path: &Path) -> Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(path)
        .map_err(|e| io_error("creating directory", path, e))
}

/// Makes a new, renamed or removed name in `dir` durable.
pub(crate) fn sync_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| io_error("syncing directory", dir, e))?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

fn parent_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

pub(crate) fn io_error(action: &'static str, path: &Path, source: std::io::Error) -> Error {
    Error::Io {
        action,
        path: path.display().to_string(),
        source,
    }
}

/// What the rule of the module documentation says about one key file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    FileWritableByOthers,
    DirWritableByOthers,
    ReadableByOthers,
    Private,
}

/// The rule, on the permission bits of a key file and of its directory.
fn judge(file_mode: u32, dir_mode: u32, read_only_mount: bool) -> Verdict {
    let owner_may_write = file_mode & 0o200 != 0;
    if read_only_mount {
        Verdict::Private
    } else if file_mode & 0o022 != 0 {
        Verdict::FileWritableByOthers
    } else if dir_mode & 0o022 != 0 {
        Verdict::DirWritableByOthers
    } else if file_mode & 0o044 != 0 && dir_mode & 0o011 != 0 && owner_may_write {
        Verdict::ReadableByOthers
    } else {
        Verdict::Private
    }
}

/// Applies the rule to the key file `path` (its links resolved): an error naming the path, its
/// mode and the fix when group or others can write it, or `Some(path)` when they can read it.
pub(crate) fn check_key_file(path: &Path) -> Result<Option<PathBuf>> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        let unreadable = |e: std::io::Error| Error::BadKey {
            origin: path.display().to_string(),
            reason: BadKeyReason::Unreadable(e.to_string()),
        };
        let real = fs::canonicalize(path).map_err(unreadable)?;
        let dir = parent_dir(&real);
        let file_mode = fs::metadata(&real).map_err(unreadable)?.mode() & 0o7777;
        let dir_mode = fs::metadata(dir).map_err(unreadable)?.mode() & 0o7777;
        let writable = |offender: &Path, mode: u32| Error::BadKey {
            origin: path.display().to_string(),
            reason: BadKeyReason::WritableByOthers {
                path: offender.display().to_string(),
                mode,
            },
        };
        match judge(file_mode, dir_mode, on_read_only_mount(&real)) {
            Verdict::FileWritableByOthers => Err(writable(&real, file_mode)),
            Verdict::DirWritableByOthers => Err(writable(dir, dir_mode)),
            Verdict::ReadableByOthers => Ok(Some(path.to_path_buf())),
            Verdict::Private => Ok(None),
        }
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        Ok(None)
    }
}

/// Refuses a keys directory that group or others can write: they could add a key version, which
/// would become the active one.
pub(crate) fn check_keys_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt as _;
        let real = fs::canonicalize(dir).map_err(|e| Error::BadKey {
            origin: dir.display().to_string(),
            reason: BadKeyReason::Unreadable(e.to_string()),
        })?;
        let mode = fs::metadata(&real).map(|m| m.mode() & 0o7777).unwrap_or(0);
        if mode & 0o022 != 0 && !on_read_only_mount(&real) {
            return Err(Error::BadKey {
                origin: dir.display().to_string(),
                reason: BadKeyReason::WritableByOthers {
                    path: real.display().to_string(),
                    mode,
                },
            });
        }
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// One warning for every key file of a load that group or others can read.
pub(crate) fn warn_readable(paths: &[PathBuf]) {
    if paths.is_empty() {
        return;
    }
    let list: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    tracing::warn!(
        "key files readable by group or others: {}; run `chmod go-r` on them, or mount them \
         read-only as Docker and Kubernetes secrets are",
        list.join(", ")
    );
}

/// Whether `path` is on a read-only mount (where no one can write, whatever the modes say).
#[cfg(unix)]
fn on_read_only_mount(path: &Path) -> bool {
    rustix::fs::statvfs(path)
        .is_ok_and(|s| s.f_flag.contains(rustix::fs::StatVfsMountFlags::RDONLY))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule_refuses_writable_warns_readable_and_trusts_read_only_secrets() {
        use Verdict::*;
        let cases = [
            (0o600, 0o700, false, Private),
            (0o600, 0o755, false, Private),
            (0o644, 0o700, false, Private),
            (0o644, 0o755, false, ReadableByOthers),
            (0o640, 0o750, false, ReadableByOthers),
            (0o444, 0o755, false, Private),
            (0o440, 0o750, false, Private),
            (0o664, 0o755, false, FileWritableByOthers),
            (0o606, 0o700, false, FileWritableByOthers),
            (0o600, 0o775, false, DirWritableByOthers),
            (0o444, 0o1777, false, DirWritableByOthers),
            // A Kubernetes secret volume: 0644 files (the default mode) under a 1777 tmpfs
            // root, mounted read-only.
            (0o644, 0o1777, true, Private),
        ];
        for (file, dir, read_only, verdict) in cases {
            assert_eq!(
                judge(file, dir, read_only),
                verdict,
                "{file:o} in {dir:o}, ro {read_only}"
            );
        }
    }

    #[cfg(unix)]
    #[test]
    fn a_link_planted_at_the_temporary_name_is_not_followed() {
        let tmp = tempfile::tempdir().unwrap();
        let victim = tmp.path().join("victim");
        fs::write(&victim, "keep").unwrap();
        let planted = tmp.path().join(".secret.tmp");
        std::os::unix::fs::symlink(&victim, &planted).unwrap();
        for existing in [Existing::Keep, Existing::Replace] {
            let err =
                write_via(&planted, &tmp.path().join("secret"), b"new", existing).unwrap_err();
            assert!(
                matches!(err, Error::Io { ref source, .. } if source.kind() == ErrorKind::AlreadyExists),
                "{err}"
            );
        }
        assert_eq!(fs::read_to_string(&victim).unwrap(), "keep");
        assert!(!tmp.path().join("secret").exists());
    }

    #[cfg(unix)]
    #[test]
    fn a_link_planted_at_the_target_is_never_written_through() {
        use std::os::unix::fs::PermissionsExt as _;
        let tmp = tempfile::tempdir().unwrap();
        let victim = tmp.path().join("victim");
        fs::write(&victim, "keep").unwrap();
        let target = tmp.path().join("secret");
        std::os::unix::fs::symlink(&victim, &target).unwrap();
        let dangling = tmp.path().join("dangling");
        std::os::unix::fs::symlink(tmp.path().join("nowhere"), &dangling).unwrap();

        let err = write_secret_file(&target, b"new", Existing::Keep).unwrap_err();
        assert!(
            matches!(err, Error::Io { ref source, .. } if source.kind() == ErrorKind::AlreadyExists),
            "{err}"
        );
        assert!(write_secret_file(&dangling, b"new", Existing::Keep).is_err());
        assert!(!tmp.path().join("nowhere").exists());

        write_secret_file(&target, b"new", Existing::Replace).unwrap();
        assert_eq!(fs::read_to_string(&victim).unwrap(), "keep");
        let meta = fs::symlink_metadata(&target).unwrap();
        assert!(meta.is_file());
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(fs::read(&target).unwrap(), b"new");
        let left: Vec<_> = fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left.len(), 3, "no temporary file left: {left:?}");
    }

    #[cfg(unix)]
    #[test]
    fn the_fallback_without_hard_links_is_private_exclusive_and_follows_no_link() {
        use std::os::unix::fs::PermissionsExt as _;
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("backup.json");
        write_in_place(&path, b"{}").unwrap();
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert!(write_in_place(&path, b"other").is_err());
        assert_eq!(fs::read(&path).unwrap(), b"{}");
        let link = tmp.path().join("link");
        std::os::unix::fs::symlink(tmp.path().join("nowhere"), &link).unwrap();
        assert!(write_in_place(&link, b"x").is_err());
        assert!(!tmp.path().join("nowhere").exists());
    }
}

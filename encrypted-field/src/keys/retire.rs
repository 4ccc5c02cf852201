//! Moving a retired key version's file out of the keys directory into `retired/` beside the
//! other keys: no longer loaded, not destroyed either (moving it back undoes the retirement).

use std::fs;
use std::io::ErrorKind;
use std::path::Path;

use serde::Serialize;
use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::keys::dir::KeyFile;
use crate::keys::secret_file::{
    Existing, create_private_dir, io_error, sync_dir, write_secret_file,
};

/// The subdirectory of a keys directory that retired key files are moved into.
pub const RETIRED_DIR: &str = "retired";

/// A key file that [`Rotation::retire_key`](crate::rotation::Rotation::retire_key) moved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RetiredKey {
    /// The version retired.
    pub version: u32,
    /// Where its file was.
    pub from: String,
    /// Where its key is now: a file of its own (mode 0600, in a directory of mode 0700).
    pub to: String,
}

/// Moves `file` into `keys_dir/retired/`: its key is copied there as a file of its own (never
/// over another file) before its name is removed here, so a crash leaves it in one place or both,
/// and never in none. The key is read through links and the link itself is what is removed: in
/// a Kubernetes secret (`enc_key_vN -> ..data/enc_key_vN`) moving the link would leave it dangling.
pub(crate) fn move_into_retired(file: &KeyFile, keys_dir: &Path) -> Result<RetiredKey> {
    let retired = keys_dir.join(RETIRED_DIR);
    create_private_dir(&retired).map_err(|e| read_only_mount(e, keys_dir))?;
    let name = file.path.file_name().unwrap_or(file.path.as_os_str());
    let to = retired.join(name);
    let key = Zeroizing::new(
        fs::read(&file.path).map_err(|e| io_error("reading key file", &file.path, e))?,
    );
    match write_secret_file(&to, &key, Existing::Keep) {
        Ok(()) => {}
        // A retirement interrupted after the copy: the same key is in both places.
        Err(Error::Io { source, .. })
            if source.kind() == ErrorKind::AlreadyExists && same_content(&file.path, &to) => {}
        Err(Error::Io { source, .. }) => {
            return Err(io_error("moving the key file into", &to, source));
        }
        Err(other) => return Err(other),
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        fs::set_permissions(&retired, fs::Permissions::from_mode(0o700))
            .map_err(|e| io_error("restricting the permissions of", &retired, e))?;
    }
    fs::remove_file(&file.path)
        .map_err(|e| read_only_mount(io_error("removing key file", &file.path, e), keys_dir))?;
    sync_dir(keys_dir)?;
    Ok(RetiredKey {
        version: file.version.get(),
        from: file.path.display().to_string(),
        to: to.display().to_string(),
    })
}

/// Says what to do instead when the keys directory is a read-only mount (a Kubernetes or Docker
/// secret, which the platform owns); any other error is returned as it is.
fn read_only_mount(error: Error, keys_dir: &Path) -> Error {
    match error {
        Error::Io { source, .. } if source.kind() == ErrorKind::ReadOnlyFilesystem => io_error(
            "retiring a key in",
            keys_dir,
            std::io::Error::new(
                ErrorKind::ReadOnlyFilesystem,
                "the keys directory is read-only (a Kubernetes or Docker secret mount?): remove the \
                 key from the secret itself and redeploy; nothing was moved",
            ),
        ),
        other => other,
    }
}

fn same_content(a: &Path, b: &Path) -> bool {
    let read = |p: &Path| fs::read(p).map(Zeroizing::new);
    matches!((read(a), read(b)), (Ok(a), Ok(b)) if *a == *b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::dir::KeysDir;
    use crate::keys::version::KeyVersion;

    #[test]
    fn a_read_only_keys_directory_is_refused_with_what_to_do_instead() {
        let err = read_only_mount(
            io_error(
                "creating directory",
                Path::new("/run/secrets/retired"),
                std::io::Error::from(ErrorKind::ReadOnlyFilesystem),
            ),
            Path::new("/run/secrets"),
        )
        .to_string();
        assert!(
            err.contains("/run/secrets")
                && err.contains("read-only")
                && err.contains("nothing was moved"),
            "{err}"
        );
    }

    #[cfg(unix)]
    #[test]
    fn a_retired_key_file_is_private_and_no_longer_listed() {
        use std::os::unix::fs::PermissionsExt as _;
        let tmp = tempfile::tempdir().unwrap();
        let keys = KeysDir::new(tmp.path());
        keys.add(true).unwrap();
        keys.add(true).unwrap();
        let v1 = keys.list().unwrap().remove(0);
        let retired = move_into_retired(&v1, tmp.path()).unwrap();
        assert_eq!(keys.list().unwrap().len(), 1);
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(Path::new(&retired.to)), 0o600);
        assert_eq!(mode(&tmp.path().join(RETIRED_DIR)), 0o700);
    }

    #[test]
    fn an_interrupted_retirement_is_finished_and_another_file_is_never_replaced() {
        let tmp = tempfile::tempdir().unwrap();
        let keys = KeysDir::new(tmp.path());
        keys.add(true).unwrap();
        let v1 = keys.list().unwrap().remove(0);
        fs::create_dir(tmp.path().join(RETIRED_DIR)).unwrap();
        fs::copy(&v1.path, tmp.path().join("retired/enc_key_v1")).unwrap();
        move_into_retired(&v1, tmp.path()).unwrap();
        assert!(!v1.path.exists());

        keys.add(true).unwrap(); // a new v1, with another key
        let again = keys.list().unwrap().remove(0);
        let err = move_into_retired(&again, tmp.path()).unwrap_err();
        assert!(
            matches!(err, Error::Io { ref source, .. } if source.kind() == ErrorKind::AlreadyExists),
            "{err}"
        );
        assert!(again.path.exists());
    }

    /// A keys directory laid out as Kubernetes mounts a secret: `enc_key_vN -> ..data/enc_key_vN`,
    /// `..data -> ..2026_12_01_10_00_00.1`.
    #[cfg(unix)]
    #[test]
    fn retiring_a_key_of_the_kubernetes_layout_keeps_the_key_and_leaves_no_dangling_link() {
        use std::os::unix::fs::symlink;
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("secrets");
        let data = dir.join("..2026_12_01_10_00_00.1");
        fs::create_dir_all(&data).unwrap();
        let mut keys = Vec::new();
        for v in [1, 2] {
            let key = crate::keys::master_key::MasterKey::generate();
            let name = format!("enc_key_v{v}");
            fs::write(data.join(&name), key.to_base64().as_bytes()).unwrap();
            symlink(format!("..data/{name}"), dir.join(&name)).unwrap();
            keys.push(key);
        }
        symlink("..2026_12_01_10_00_00.1", dir.join("..data")).unwrap();
        let keys_dir = KeysDir::new(&dir);
        let v1 = keys_dir.list().unwrap().remove(0);

        let retired = move_into_retired(&v1, &dir).unwrap();

        let to = Path::new(&retired.to);
        assert!(
            fs::symlink_metadata(to).unwrap().is_file(),
            "a copy, not a link"
        );
        assert_eq!(
            crate::keys::master_key::MasterKey::from_file(to).unwrap(),
            keys[0]
        );
        assert_eq!(
            keys_dir
                .list()
                .unwrap()
                .iter()
                .map(|f| f.version)
                .collect::<Vec<_>>(),
            [KeyVersion::new(2)]
        );
        for entry in fs::read_dir(&dir)
            .unwrap()
            .chain(fs::read_dir(dir.join(RETIRED_DIR)).unwrap())
        {
            let path = entry.unwrap().path();
            assert!(
                fs::metadata(&path).is_ok(),
                "dangling link left at {}",
                path.display()
            );
        }
    }
}

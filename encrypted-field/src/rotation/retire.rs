//! Retiring a key version: once no value uses it, its file is moved out of the keys directory
//! into `retired/` beside the other keys, so that it is no longer loaded (and a value still sealed
//! with it fails loudly instead of decrypting) but is not destroyed either: moving it back undoes
//! the retirement.

use std::fs;
use std::io::ErrorKind;
use std::path::Path;

use serde::Serialize;
use zeroize::Zeroizing;

use crate::database::Database;
use crate::error::{Error, Result};
use crate::key::KeyVersion;
use crate::keys_dir::{KeyFile, KeysDir};
use crate::model::Registry;
use crate::rotation::{DEFAULT_BATCH_SIZE, ensure_unused, status};
use crate::secret_file::{Existing, create_private_dir, io_error, sync_dir, write_secret_file};

/// The subdirectory of a keys directory that retired key files are moved into.
pub const RETIRED_DIR: &str = "retired";

/// A key file that [`retire_key`] moved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RetiredKey {
    /// The version retired.
    pub version: u32,
    /// Where its file was.
    pub from: String,
    /// Where its key is now: a file of its own (mode 0600, in a directory of mode 0700).
    pub to: String,
}

/// Retires `version` of `keys_dir`: refuses if it is the active version (the directory's, or
/// `env_active`, the one the environment pins, if any) or if any value of a column of `registry`
/// still uses it ([`Error::KeyVersionInUse`], counted as `status` counts); otherwise moves its file
/// into [`RETIRED_DIR`] under the keys directory.
///
/// Only the columns of `registry` are counted: list every model whose values may use the key.
/// The count runs under the rotation lock, so no rotation runs meanwhile.
///
/// ```
/// # #[cfg(feature = "sqlite")] {
/// use encrypted_field::database::Database;
/// use encrypted_field::model::{ColumnSpec, ModelSpec, Registry};
/// use encrypted_field::rotation::{Rotation, retire_key};
/// use encrypted_field::{Error, KeyVersion, KeysDir};
///
/// let tmp = tempfile::tempdir()?;
/// let keys = KeysDir::new(tmp.path().join("keys"));
/// keys.add(true)?;
/// let mut db = Database::connect(":memory:")?;
/// db.execute("CREATE TABLE customers (id INTEGER PRIMARY KEY, _ssn BLOB)")?;
/// let sealed: String = keys.load(None)?.encrypt_with_context(b"078-05-1120", "customers._ssn").iter().map(|b| format!("{b:02x}")).collect();
/// db.execute(&format!("INSERT INTO customers VALUES (1, x'{sealed}')"))?;
/// let registry = Registry::new().register_spec(ModelSpec::new("customers", "id").column(ColumnSpec::binary("_ssn")))?;
///
/// keys.add(true)?; // v2 is active, the value still uses v1
/// let v1 = KeyVersion::new(1);
/// assert!(matches!(retire_key(&mut db, &registry, &keys, v1, None), Err(Error::KeyVersionInUse { values: 1, .. })));
/// Rotation::new(&registry).run(&mut db, &keys.load(None)?)?;
/// let retired = retire_key(&mut db, &registry, &keys, v1, None)?;
/// assert!(retired.to.ends_with("retired/enc_key_v1"));
/// assert_eq!(keys.load(None)?.versions().collect::<Vec<_>>(), [KeyVersion::new(2)]);
/// # }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn retire_key(
    db: &mut Database,
    registry: &Registry,
    keys_dir: &KeysDir,
    version: KeyVersion,
    env_active: Option<KeyVersion>,
) -> Result<RetiredKey> {
    let files = keys_dir.list()?;
    let file = files.iter().find(|f| f.version == version).ok_or_else(|| {
        io_error(
            "retiring a key version of",
            keys_dir.path(),
            std::io::Error::new(
                ErrorKind::NotFound,
                format!("no key file has version {version}"),
            ),
        )
    })?;
    let dir_active = keys_dir.active_of(&files)?;
    if dir_active == Some(version) || env_active == Some(version) {
        return Err(Error::ActiveKeyVersion(version));
    }
    let lock = db.try_lock()?.ok_or(Error::RotationInProgress)?;
    let result = status(db, registry, DEFAULT_BATCH_SIZE)
        .and_then(|counts| ensure_unused(&counts, version))
        .and_then(|()| move_into_retired(file, keys_dir.path()));
    let released = db.unlock(lock);
    let retired = result?;
    released?;
    Ok(retired)
}

/// Moves `file` into `keys_dir/retired/`: its key is copied there as a file of its own (never
/// over another file) before its name is removed here, so a crash leaves it in one place or both,
/// and never in none. The key is read through links and the link itself is what is removed: in
/// a Kubernetes secret (`enc_key_vN -> ..data/enc_key_vN`) moving the link would leave it dangling.
fn move_into_retired(file: &KeyFile, keys_dir: &Path) -> Result<RetiredKey> {
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
            let key = crate::MasterKey::generate();
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
        assert_eq!(crate::MasterKey::from_file(to).unwrap(), keys[0]);
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

//! [`Pkcs11Wrapper`]: key-encryption keys on a PKCS#11 token (an HSM, SoftHSM2), through the
//! `cryptoki` crate.
//!
//! The module is `PKCS11_MODULE` (a URI's `module-path` must name the same file: a key file
//! never chooses the library loaded into the process); the PIN is `PKCS11_PIN`, else the file
//! `PKCS11_PIN_FILE`, else the URI's `pin-source` file. Wrapping uses AES key
//! wrap with padding (RFC 5649, `CKM_AES_KEY_WRAP_PAD`) when the token has it, else AES-GCM
//! (`CKM_AES_GCM`, a random 96-bit IV, the key version as associated data); the file records
//! which, and unwrapping uses what it records.

mod uri;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as CkError, RvError};
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::types::AuthPin;
use zeroize::{Zeroize, Zeroizing};

pub use uri::Pkcs11Uri;

use super::{KeyWrapper, WrapError, WrapErrorKind, Wrapped};
use crate::keys::master_key::{KEY_LEN, MasterKey};
use crate::keys::version::KeyVersion;

/// The `algorithm` recorded for RFC 5649 key wrap with padding.
const KEY_WRAP_PAD: &str = "CKM_AES_KEY_WRAP_PAD";
/// The `algorithm` recorded for AES-GCM (12-byte IV, then ciphertext and 16-byte tag).
const AES_GCM: &str = "CKM_AES_GCM";
const GCM_IV_LEN: usize = 12;

/// Which wrapping mechanism a [`Pkcs11Wrapper`] uses for new wrapped keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Pkcs11Algorithm {
    /// `CKM_AES_KEY_WRAP_PAD` (RFC 5649) if the token has it, else `CKM_AES_GCM`.
    Best,
    /// `CKM_AES_KEY_WRAP_PAD` (RFC 5649), through `C_WrapKey`/`C_UnwrapKey`.
    AesKeyWrapPad,
    /// `CKM_AES_GCM`, through `C_Encrypt`/`C_Decrypt`, the version as associated data.
    AesGcm,
}

/// Key-encryption keys on a PKCS#11 token, named by RFC 7512 URIs
/// (`pkcs11:token=<label>;object=<key label>`, see [`Pkcs11Uri`]).
///
/// The module is `PKCS11_MODULE` (a URI's `module-path` must name the same file: a key file never
/// chooses the library loaded into the process); the PIN is `PKCS11_PIN`, else the file
/// `PKCS11_PIN_FILE`, else the URI's `pin-source` file. Wrapping uses AES key
/// wrap with padding (RFC 5649, `CKM_AES_KEY_WRAP_PAD`) when the token has it, else AES-GCM
/// (`CKM_AES_GCM`, a random 96-bit IV, the key version as associated data); the wrapped key file
/// records which, and unwrapping uses what it records. The key-encryption key is an AES key on
/// the token with `CKA_WRAP`/`CKA_UNWRAP` (key wrap) or `CKA_ENCRYPT`/`CKA_DECRYPT` (GCM).
///
/// ```no_run
/// use std::sync::Arc;
/// use encrypted_field::keys::KeysDir;
/// use encrypted_field::keys::wrap::{KeyWrappers, Pkcs11Wrapper};
/// // PKCS11_MODULE=/usr/lib/softhsm/libsofthsm2.so PKCS11_PIN_FILE=/run/secrets/hsm_pin
/// let keys = KeysDir::new("/run/secrets/keys")
///     .with_wrappers(KeyWrappers::empty().with(Arc::new(Pkcs11Wrapper::from_env())));
/// keys.add_wrapped("pkcs11:token=encrypted-field;object=kek-2026", true)?;
/// # Ok::<(), encrypted_field::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Pkcs11Wrapper {
    module: Option<PathBuf>,
    pin: PinSource,
    algorithm: Pkcs11Algorithm,
}

/// Where the PIN comes from (never shown by `Debug`).
#[derive(Clone, Default)]
enum PinSource {
    #[default]
    None,
    Value(Zeroizing<String>),
    File(PathBuf),
}

impl std::fmt::Debug for PinSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::None => f.write_str("None"),
            Self::Value(_) => f.write_str("Value(<redacted>)"),
            Self::File(path) => f.debug_tuple("File").field(path).finish(),
        }
    }
}

/// The modules loaded and initialized in this process: `C_Initialize` is once per process.
static MODULES: Mutex<Option<HashMap<PathBuf, Arc<Pkcs11>>>> = Mutex::new(None);

impl Pkcs11Wrapper {
    /// The module from `PKCS11_MODULE`, the PIN from `PKCS11_PIN` or the file
    /// `PKCS11_PIN_FILE` (read when a key is used, so nothing fails until then).
    pub fn from_env() -> Self {
        let pin = if let Some(pin) = std::env::var_os("PKCS11_PIN") {
            PinSource::Value(Zeroizing::new(pin.to_string_lossy().into_owned()))
        } else if let Some(file) = std::env::var_os("PKCS11_PIN_FILE") {
            PinSource::File(PathBuf::from(file))
        } else {
            PinSource::None
        };
        Self {
            module: std::env::var_os("PKCS11_MODULE").map(PathBuf::from),
            pin,
            algorithm: Pkcs11Algorithm::Best,
        }
    }

    /// The module at `module`, with `pin` (no environment).
    pub fn new(module: impl Into<PathBuf>, pin: &str) -> Self {
        Self {
            module: Some(module.into()),
            pin: PinSource::Value(Zeroizing::new(pin.to_owned())),
            algorithm: Pkcs11Algorithm::Best,
        }
    }

    /// The same wrapper, wrapping new keys with `algorithm` (unwrapping always uses the one a
    /// wrapped key records).
    #[must_use]
    pub fn algorithm(mut self, algorithm: Pkcs11Algorithm) -> Self {
        self.algorithm = algorithm;
        self
    }

    /// A logged-in session on the URI's token and the handle of its key.
    fn open(&self, key_uri: &str) -> Result<(Session, ObjectHandle, Arc<Pkcs11>), WrapError> {
        let uri = Pkcs11Uri::parse(key_uri)?;
        let module_path = self.module_for(&uri)?;
        let module = load_module(&module_path)?;
        let slot = find_token(&module, &uri)?;
        let session = module
            .open_rw_session(slot)
            .map_err(|e| ck("opening a session", &e))?;
        let pin = self.pin(&uri)?;
        match session.login(UserType::User, Some(&pin)) {
            Ok(()) | Err(CkError::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {}
            Err(e) => return Err(ck("logging in to the token", &e)),
        }
        let mut template = vec![Attribute::Class(ObjectClass::SECRET_KEY)];
        if let Some(label) = &uri.object {
            template.push(Attribute::Label(label.as_bytes().to_vec()));
        }
        if let Some(id) = &uri.id {
            template.push(Attribute::Id(id.clone()));
        }
        let found = session
            .find_objects(&template)
            .map_err(|e| ck("finding the key", &e))?;
        let key = match found.as_slice() {
            [key] => *key,
            [] => {
                return Err(WrapError::new(
                    WrapErrorKind::KeyNotFound,
                    format!(
                        "no secret key with this label or id on token `{}`",
                        uri.token
                    ),
                ));
            }
            several => {
                return Err(WrapError::new(
                    WrapErrorKind::BadUri,
                    format!(
                        "{} secret keys on token `{}` match: add `id=` to the URI",
                        several.len(),
                        uri.token
                    ),
                ));
            }
        };
        Ok((session, key, module))
    }

    /// The configured module. A URI's `module-path` only confirms it: whoever can write a key
    /// file must not choose the native library every process loads.
    fn module_for(&self, uri: &Pkcs11Uri) -> Result<PathBuf, WrapError> {
        match (&uri.module_path, &self.module) {
            (Some(named), Some(configured)) if named == configured => Ok(configured.clone()),
            (Some(named), Some(configured)) => Err(WrapError::new(
                WrapErrorKind::BadUri,
                format!(
                    "the key URI names the module {} but PKCS11_MODULE is {}: a key file does \
                     not choose the library loaded into this process",
                    named.display(),
                    configured.display()
                ),
            )),
            (Some(named), None) => Err(WrapError::new(
                WrapErrorKind::Unavailable,
                format!(
                    "no PKCS#11 module configured: set PKCS11_MODULE={} (the key URI's \
                     module-path is not loaded on its own word)",
                    named.display()
                ),
            )),
            (None, Some(configured)) => Ok(configured.clone()),
            (None, None) => Err(WrapError::new(
                WrapErrorKind::Unavailable,
                "no PKCS#11 module: set PKCS11_MODULE (e.g. /usr/lib/softhsm/libsofthsm2.so)",
            )),
        }
    }

    fn pin(&self, uri: &Pkcs11Uri) -> Result<AuthPin, WrapError> {
        Ok(AuthPin::from(self.pin_text(uri)?.trim()))
    }

    /// The PIN's text, as configured or read (not trimmed).
    fn pin_text(&self, uri: &Pkcs11Uri) -> Result<Zeroizing<String>, WrapError> {
        let read = |path: &Path| {
            std::fs::read_to_string(path)
                .map(Zeroizing::new)
                .map_err(|e| {
                    WrapError::new(
                        WrapErrorKind::AccessDenied,
                        format!("reading the PIN file {}: {e}", path.display()),
                    )
                })
        };
        // The configured PIN wins over a key file's `pin-source`.
        let text = match (&self.pin, &uri.pin_source) {
            (PinSource::Value(pin), _) => pin.clone(),
            (PinSource::File(path), _) | (PinSource::None, Some(path)) => read(path)?,
            (PinSource::None, None) => {
                return Err(WrapError::new(
                    WrapErrorKind::AccessDenied,
                    "no PIN: set PKCS11_PIN or PKCS11_PIN_FILE",
                ));
            }
        };
        Ok(text)
    }

    fn chosen_algorithm(
        &self,
        module: &Pkcs11,
        session: &Session,
    ) -> Result<&'static str, WrapError> {
        let supported = |mechanism: MechanismType| {
            session
                .get_session_info()
                .and_then(|info| module.get_mechanism_list(info.slot_id()))
                .map(|list| list.contains(&mechanism))
                .map_err(|e| ck("listing the token's mechanisms", &e))
        };
        Ok(match self.algorithm {
            Pkcs11Algorithm::AesKeyWrapPad => KEY_WRAP_PAD,
            Pkcs11Algorithm::AesGcm => AES_GCM,
            Pkcs11Algorithm::Best if supported(MechanismType::AES_KEY_WRAP_PAD)? => KEY_WRAP_PAD,
            Pkcs11Algorithm::Best if supported(MechanismType::AES_GCM)? => AES_GCM,
            Pkcs11Algorithm::Best => {
                return Err(WrapError::new(
                    WrapErrorKind::Unavailable,
                    "the token has neither CKM_AES_KEY_WRAP_PAD nor CKM_AES_GCM",
                ));
            }
        })
    }
}

impl KeyWrapper for Pkcs11Wrapper {
    fn provider(&self) -> &str {
        "pkcs11"
    }

    fn wrap(
        &self,
        key_uri: &str,
        version: KeyVersion,
        key: &MasterKey,
    ) -> Result<Wrapped, WrapError> {
        let (session, kek, module) = self.open(key_uri)?;
        let algorithm = self.chosen_algorithm(&module, &session)?;
        let bytes = if algorithm == KEY_WRAP_PAD {
            let mut template = [
                Attribute::Class(ObjectClass::SECRET_KEY),
                Attribute::KeyType(KeyType::GENERIC_SECRET),
                Attribute::Token(false),
                Attribute::Sensitive(false),
                Attribute::Extractable(true),
                Attribute::Value(key.expose_bytes().to_vec()),
            ];
            let created = session.create_object(&template);
            // The module copied the key into its session object (destroyed below).
            for attribute in &mut template {
                if let Attribute::Value(bytes) = attribute {
                    bytes.zeroize();
                }
            }
            let data_key = created.map_err(|e| ck("loading the key into a session object", &e))?;
            let wrapped = session.wrap_key(&Mechanism::AesKeyWrapPad, kek, data_key);
            let _ = session.destroy_object(data_key);
            wrapped.map_err(|e| ck("wrapping (C_WrapKey)", &e))?
        } else {
            let mut iv = [0u8; GCM_IV_LEN];
            crate::keys::os_random::fill_from_os(&mut iv)
                .map_err(|e| WrapError::new(WrapErrorKind::Other, e.to_string()))?;
            let aad = associated_data(version);
            let mut iv_param = iv;
            let params = GcmParams::new(&mut iv_param, aad.as_bytes(), 128.into())
                .map_err(|e| ck("preparing AES-GCM", &e))?;
            let sealed = session
                .encrypt(&Mechanism::AesGcm(params), kek, key.expose_bytes())
                .map_err(|e| ck("wrapping (C_Encrypt, AES-GCM)", &e))?;
            iv.iter().copied().chain(sealed).collect()
        };
        Ok(Wrapped::new(algorithm, bytes))
    }

    fn unwrap(
        &self,
        key_uri: &str,
        version: KeyVersion,
        wrapped: &Wrapped,
    ) -> Result<MasterKey, WrapError> {
        let (session, kek, _module) = self.open(key_uri)?;
        let mut raw = Zeroizing::new(match wrapped.algorithm() {
            KEY_WRAP_PAD => {
                let data_key = session
                    .unwrap_key(
                        &Mechanism::AesKeyWrapPad,
                        kek,
                        wrapped.bytes(),
                        &[
                            Attribute::Class(ObjectClass::SECRET_KEY),
                            Attribute::KeyType(KeyType::GENERIC_SECRET),
                            Attribute::Token(false),
                            Attribute::Sensitive(false),
                            Attribute::Extractable(true),
                        ],
                    )
                    .map_err(|e| unwrap_failure("unwrapping (C_UnwrapKey)", &e))?;
                let value = session.get_attributes(data_key, &[AttributeType::Value]);
                let _ = session.destroy_object(data_key);
                let mut value = value.map_err(|e| ck("reading the unwrapped key", &e))?;
                let bytes = match value.first_mut() {
                    Some(Attribute::Value(bytes)) => std::mem::take(bytes),
                    _ => Vec::new(),
                };
                value.iter_mut().for_each(|a| {
                    if let Attribute::Value(v) = a {
                        v.zeroize();
                    }
                });
                bytes
            }
            AES_GCM => {
                if wrapped.bytes().len() <= GCM_IV_LEN {
                    return Err(WrapError::new(
                        WrapErrorKind::WrongKey,
                        "the AES-GCM wrapped key is truncated",
                    ));
                }
                let (iv, sealed) = wrapped.bytes().split_at(GCM_IV_LEN);
                let mut iv = iv.to_vec();
                let aad = associated_data(version);
                let params = GcmParams::new(&mut iv, aad.as_bytes(), 128.into())
                    .map_err(|e| ck("preparing AES-GCM", &e))?;
                session
                    .decrypt(&Mechanism::AesGcm(params), kek, sealed)
                    .map_err(|e| unwrap_failure("unwrapping (C_Decrypt, AES-GCM)", &e))?
            }
            other => {
                return Err(WrapError::new(
                    WrapErrorKind::Unavailable,
                    format!("unknown algorithm `{other}` (known: {KEY_WRAP_PAD}, {AES_GCM})"),
                ));
            }
        });
        let mut key: [u8; KEY_LEN] = raw.as_slice().try_into().map_err(|_| {
            WrapError::new(
                WrapErrorKind::WrongKey,
                format!(
                    "the unwrapped key has {} bytes instead of {KEY_LEN}",
                    raw.len()
                ),
            )
        })?;
        raw.zeroize();
        let master = MasterKey::from_bytes(key);
        key.zeroize();
        Ok(master)
    }
}

/// The AES-GCM associated data: the key version, so a wrapped key cannot move to another one.
fn associated_data(version: KeyVersion) -> String {
    format!("encrypted-field key version {}", version.get())
}

/// The module at `path`, loaded and initialized once per process.
fn load_module(path: &Path) -> Result<Arc<Pkcs11>, WrapError> {
    let mut modules = MODULES.lock().unwrap_or_else(PoisonError::into_inner);
    let modules = modules.get_or_insert_with(HashMap::new);
    if let Some(module) = modules.get(path) {
        return Ok(Arc::clone(module));
    }
    let module = Pkcs11::new(path).map_err(|e| {
        WrapError::new(
            WrapErrorKind::Unavailable,
            format!("cannot load the PKCS#11 module {}: {e}", path.display()),
        )
    })?;
    match module.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(()) | Err(CkError::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {}
        Err(e) => {
            return Err(WrapError::new(
                WrapErrorKind::Unavailable,
                format!("initializing the PKCS#11 module {}: {e}", path.display()),
            ));
        }
    }
    let module = Arc::new(module);
    modules.insert(path.to_path_buf(), Arc::clone(&module));
    Ok(module)
}

/// The slot holding the URI's token.
fn find_token(module: &Pkcs11, uri: &Pkcs11Uri) -> Result<cryptoki::slot::Slot, WrapError> {
    let slots = module
        .get_slots_with_token()
        .map_err(|e| ck("listing the slots", &e))?;
    for slot in slots {
        let Ok(info) = module.get_token_info(slot) else {
            continue;
        };
        let matches = info.label().trim_end() == uri.token
            && uri
                .manufacturer
                .as_deref()
                .is_none_or(|m| info.manufacturer_id().trim_end() == m)
            && uri
                .serial
                .as_deref()
                .is_none_or(|s| info.serial_number().trim_end() == s)
            && uri
                .model
                .as_deref()
                .is_none_or(|m| info.model().trim_end() == m);
        if matches {
            return Ok(slot);
        }
    }
    Err(WrapError::new(
        WrapErrorKind::Unavailable,
        format!("no token labelled `{}` is present", uri.token),
    ))
}

/// A failed unwrap: bytes another key wrapped (or altered bytes) say so.
fn unwrap_failure(action: &str, error: &CkError) -> WrapError {
    match error {
        CkError::Pkcs11(
            RvError::WrappedKeyInvalid
            | RvError::WrappedKeyLenRange
            | RvError::EncryptedDataInvalid
            | RvError::EncryptedDataLenRange
            | RvError::GeneralError,
            _,
        ) => WrapError::new(
            WrapErrorKind::WrongKey,
            format!("{action}: {}", rv_name(error)),
        ),
        other => ck(action, other),
    }
}

/// A PKCS#11 failure while doing `action`, by kind.
fn ck(action: &str, error: &CkError) -> WrapError {
    let kind = match error {
        CkError::Pkcs11(rv, _) => match rv {
            RvError::PinIncorrect
            | RvError::PinInvalid
            | RvError::PinLenRange
            | RvError::PinExpired
            | RvError::PinLocked
            | RvError::UserNotLoggedIn
            | RvError::KeyFunctionNotPermitted => WrapErrorKind::AccessDenied,
            RvError::DeviceRemoved
            | RvError::DeviceError
            | RvError::TokenNotPresent
            | RvError::SessionClosed
            | RvError::DeviceMemory => WrapErrorKind::Unreachable,
            RvError::KeyHandleInvalid
            | RvError::WrappingKeyHandleInvalid
            | RvError::UnwrappingKeyHandleInvalid => WrapErrorKind::KeyNotFound,
            RvError::MechanismInvalid | RvError::KeyTypeInconsistent => WrapErrorKind::Unavailable,
            _ => WrapErrorKind::Other,
        },
        CkError::LibraryLoading(_) => WrapErrorKind::Unavailable,
        _ => WrapErrorKind::Other,
    };
    WrapError::new(kind, format!("{action}: {}", rv_name(error)))
}

/// `CKR_…`-like name of a failure (the crate's long descriptions are not needed in a log line).
fn rv_name(error: &CkError) -> String {
    match error {
        CkError::Pkcs11(rv, function) => format!("{rv:?} from {function:?}"),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(text: &str) -> Pkcs11Uri {
        Pkcs11Uri::parse(text).unwrap()
    }

    #[test]
    fn a_key_uri_never_chooses_the_module_on_its_own() {
        let configured = Pkcs11Wrapper::new("/usr/lib/softhsm/libsofthsm2.so", "1234");
        let same = uri("pkcs11:token=t;object=k?module-path=/usr/lib/softhsm/libsofthsm2.so");
        assert_eq!(
            configured.module_for(&same).unwrap(),
            PathBuf::from("/usr/lib/softhsm/libsofthsm2.so")
        );
        let other = uri("pkcs11:token=t;object=k?module-path=/tmp/evil.so");
        let err = configured.module_for(&other).unwrap_err();
        assert_eq!(err.kind(), WrapErrorKind::BadUri);
        assert!(err.detail().contains("/tmp/evil.so"), "{err}");

        let unconfigured = Pkcs11Wrapper {
            module: None,
            pin: PinSource::None,
            algorithm: Pkcs11Algorithm::Best,
        };
        let err = unconfigured.module_for(&other).unwrap_err();
        assert_eq!(err.kind(), WrapErrorKind::Unavailable);
        assert!(err.detail().contains("PKCS11_MODULE=/tmp/evil.so"), "{err}");
        assert!(
            unconfigured
                .module_for(&uri("pkcs11:token=t;object=k"))
                .is_err()
        );
    }

    #[test]
    fn the_configured_pin_wins_over_a_key_files_pin_source() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("pin");
        std::fs::write(&file, "from-the-uri\n").unwrap();
        let with_source = uri(&format!(
            "pkcs11:token=t;object=k?pin-source=file:{}",
            file.display()
        ));
        let configured = Pkcs11Wrapper::new("/m.so", "configured");
        assert_eq!(
            configured.pin_text(&with_source).unwrap().as_str(),
            "configured"
        );
        let unconfigured = Pkcs11Wrapper {
            module: None,
            pin: PinSource::None,
            algorithm: Pkcs11Algorithm::Best,
        };
        assert_eq!(
            unconfigured.pin_text(&with_source).unwrap().trim(),
            "from-the-uri"
        );
    }
}

//! [`TrustedRoots`]: the CA certificates a notifier trusts for its server's TLS certificate, in
//! place of the Mozilla roots it trusts by default (for a webhook or SMTP relay whose certificate
//! a private CA signed).

use std::fmt;
use std::path::Path;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;

/// CA certificates, read from PEM (`-----BEGIN CERTIFICATE-----` blocks). A notifier given them
/// accepts a server certificate only if it chains to one of them: the Mozilla roots are no
/// longer trusted, so a private CA cannot be bypassed by any public one.
///
/// ```
/// use encrypted_field::notify::{TrustedRoots, TrustedRootsError};
///
/// let err = TrustedRoots::from_pem(b"not a certificate").unwrap_err();
/// assert!(matches!(err, TrustedRootsError::NoCertificate { .. }));
/// // let roots = TrustedRoots::from_pem_file("/etc/ssl/private-ca.pem")?;
/// // WebhookNotifier::new("https://hooks.internal/rotation")?.trusted_roots(roots.clone());
/// // EmailNotifier::new("smtp://relay.internal", from, to)?.trusted_roots(roots);
/// ```
#[derive(Clone)]
pub struct TrustedRoots {
    /// Each certificate, DER-encoded, checked to be usable as a trust anchor.
    certificates: Vec<CertificateDer<'static>>,
    /// Where they came from, for `Debug`.
    origin: String,
}

/// Why a set of CA certificates cannot be used. Names the file; never holds its content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TrustedRootsError {
    /// The file cannot be read.
    #[error("CA file {origin}: {reason}")]
    Unreadable {
        /// The file.
        origin: String,
        /// Why.
        reason: String,
    },
    /// It holds no PEM certificate.
    #[error(
        "CA file {origin}: it holds no certificate (expected -----BEGIN CERTIFICATE----- blocks)"
    )]
    NoCertificate {
        /// The file (or `PEM text`).
        origin: String,
    },
    /// A PEM block is damaged, or its certificate cannot serve as a trust anchor.
    #[error("CA file {origin}: certificate {index}: {reason}")]
    BadCertificate {
        /// The file (or `PEM text`).
        origin: String,
        /// Which certificate, counting from 1.
        index: usize,
        /// What is wrong with it.
        reason: String,
    },
}

impl TrustedRoots {
    /// The certificates of a PEM file.
    pub fn from_pem_file(path: impl AsRef<Path>) -> Result<Self, TrustedRootsError> {
        let path = path.as_ref();
        let origin = path.display().to_string();
        let pem = std::fs::read(path).map_err(|e| TrustedRootsError::Unreadable {
            origin: origin.clone(),
            reason: e.to_string(),
        })?;
        Self::parse(&pem, origin)
    }

    /// The certificates of PEM text.
    pub fn from_pem(pem: &[u8]) -> Result<Self, TrustedRootsError> {
        Self::parse(pem, "PEM text".to_owned())
    }

    fn parse(pem: &[u8], origin: String) -> Result<Self, TrustedRootsError> {
        let mut certificates = Vec::new();
        for (index, certificate) in CertificateDer::pem_slice_iter(pem).enumerate() {
            let bad = |reason: String| TrustedRootsError::BadCertificate {
                origin: origin.clone(),
                index: index + 1,
                reason,
            };
            let certificate = certificate.map_err(|e| bad(e.to_string()))?;
            // The check rustls makes when it builds its root store, made here so that a broken
            // certificate is a configuration error and not a refused server later.
            rustls::RootCertStore::empty()
                .add(certificate.clone())
                .map_err(|e| bad(e.to_string()))?;
            certificates.push(certificate);
        }
        if certificates.is_empty() {
            return Err(TrustedRootsError::NoCertificate { origin });
        }
        Ok(Self {
            certificates,
            origin,
        })
    }

    /// How many certificates there are (at least one).
    pub fn len(&self) -> usize {
        self.certificates.len()
    }

    /// Always `false`: a set of roots holds at least one certificate.
    pub fn is_empty(&self) -> bool {
        self.certificates.is_empty()
    }

    /// Each certificate, DER-encoded.
    pub(super) fn der(&self) -> impl Iterator<Item = &[u8]> {
        self.certificates.iter().map(|c| c.as_ref())
    }
}

impl fmt::Debug for TrustedRoots {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrustedRoots")
            .field("certificates", &self.certificates.len())
            .field("from", &self.origin)
            .finish()
    }
}

/// How a notifier's `Debug` shows the roots it trusts: `Mozilla` (the default) or the set.
pub(super) fn shown(roots: Option<&TrustedRoots>) -> &dyn fmt::Debug {
    /// The Mozilla roots of `webpki-roots`, trusted when no other roots are configured.
    struct Mozilla;
    impl fmt::Debug for Mozilla {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("Mozilla")
        }
    }
    match roots {
        Some(roots) => roots,
        None => &Mozilla,
    }
}

//! The test CA and the TLS configurations of the sinks, from the certificates in
//! `tests/fixtures/notify-tls` (made by its `make.sh`).

use std::path::PathBuf;
use std::sync::Arc;

use encrypted_field::notify::TrustedRoots;
use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// Who signed the certificate a sink presents.
#[derive(Debug, Clone, Copy)]
pub enum Signer {
    /// The test CA, which the notifiers are told to trust.
    TestCa,
    /// Another CA, which nobody trusts.
    OtherCa,
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/notify-tls")
        .join(name)
}

/// The PEM file of the test CA: what `ENCRYPTED_FIELD_NOTIFY_CA_FILE` names.
pub fn ca_file() -> PathBuf {
    fixture("ca.pem")
}

/// The test CA, as a notifier trusts it.
pub fn test_ca() -> TrustedRoots {
    TrustedRoots::from_pem_file(ca_file()).unwrap()
}

/// A server configuration presenting a certificate for 127.0.0.1 and `localhost`.
pub fn server_config(signer: Signer) -> Arc<ServerConfig> {
    let name = match signer {
        Signer::TestCa => "server",
        Signer::OtherCa => "other-server",
    };
    let chain = vec![CertificateDer::from_pem_file(fixture(&format!("{name}.pem"))).unwrap()];
    let key = PrivateKeyDer::from_pem_file(fixture(&format!("{name}.key"))).unwrap();
    let config =
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .unwrap();
    Arc::new(config)
}

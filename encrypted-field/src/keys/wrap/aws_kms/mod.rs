//! [`AwsKmsWrapper`]: key-encryption keys in AWS KMS, called through its JSON API (`Encrypt`,
//! `Decrypt`) signed with the AWS SDK's own `aws-sigv4` signer, over ureq (blocking, rustls).
//!
//! Why not the full SDK (`aws-sdk-kms` + `aws-config`): two JSON calls at ring load do not need
//! an async runtime and 216 crates (the SDK build measured in BENCHMARKS.md, "AWS KMS client
//! build cost"); the signer is the SDK's, so requests are signed exactly as the SDK signs them.
//! The credential sources are those of [`settings`].
//!
//! Every call carries the encryption context `{"purpose":"encrypted-field","version":"N"}`: KMS
//! binds it into the ciphertext, so a wrapped key moved to another version does not decrypt.

mod settings;

use std::time::{Duration, SystemTime};

use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use zeroize::{Zeroize as _, Zeroizing};

use super::{KeyWrapper, WrapError, WrapErrorKind, Wrapped};
use crate::keys::master_key::{KEY_LEN, MasterKey};
use crate::keys::version::KeyVersion;
use settings::Settings;

/// How long one KMS request may take, connecting included.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Key-encryption keys in AWS KMS, named `aws-kms://<key id, key ARN, alias/name or alias ARN>`.
/// Region, credentials and endpoint come from the standard AWS variables and files (see the
/// README, "Keys in a KMS or an HSM"), read at each call.
///
/// ```no_run
/// use std::sync::Arc;
/// use encrypted_field::keys::KeysDir;
/// use encrypted_field::keys::wrap::{AwsKmsWrapper, KeyWrappers};
/// let keys = KeysDir::new("/run/secrets/keys")
///     .with_wrappers(KeyWrappers::empty().with(Arc::new(AwsKmsWrapper::from_env())));
/// keys.add_wrapped("aws-kms://alias/encrypted-field", true)?;
/// # Ok::<(), encrypted_field::Error>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct AwsKmsWrapper {
    endpoint: Option<String>,
}

impl AwsKmsWrapper {
    /// The provider, configured by the environment at each call.
    pub fn from_env() -> Self {
        Self::default()
    }

    /// The same provider, calling `url` (e.g. a VPC endpoint, or a local test server) instead
    /// of the endpoint the environment names.
    #[must_use]
    pub fn endpoint(mut self, url: impl Into<String>) -> Self {
        self.endpoint = Some(url.into());
        self
    }

    fn call(&self, target: &str, key_id: &str, body: &Value) -> Result<Value, WrapError> {
        let get = |name: &str| std::env::var(name).ok();
        let settings = Settings::new(&get);
        let region = settings.region(key_id)?;
        let endpoint = self
            .endpoint
            .clone()
            .unwrap_or_else(|| settings.endpoint(&region));
        let credentials = settings.credentials()?;
        let identity = aws_credential_types::Credentials::new(
            credentials.access_key_id.clone(),
            credentials.secret_access_key.to_string(),
            credentials.session_token.as_ref().map(|t| t.to_string()),
            None,
            "encrypted-field",
        )
        .into();
        let payload = Zeroizing::new(body.to_string());
        let amz_target = format!("TrentService.{target}");
        let headers = [
            ("content-type", "application/x-amz-json-1.1"),
            ("x-amz-target", amz_target.as_str()),
        ];
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(&region)
            .name("kms")
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| WrapError::new(WrapErrorKind::Other, format!("signing: {e}")))?
            .into();
        let url = format!("{}/", endpoint.trim_end_matches('/'));
        let signable = SignableRequest::new(
            "POST",
            url.as_str(),
            headers.iter().copied(),
            SignableBody::Bytes(payload.as_bytes()),
        )
        .map_err(|e| WrapError::new(WrapErrorKind::BadUri, format!("endpoint {url}: {e}")))?;
        let (instructions, _signature) = sign(signable, &params)
            .map_err(|e| WrapError::new(WrapErrorKind::Other, format!("signing: {e}")))?
            .into_parts();

        let config = ureq::Agent::config_builder()
            .timeout_global(Some(REQUEST_TIMEOUT))
            .http_status_as_error(false)
            .max_redirects(0)
            .user_agent(concat!("encrypted-field/", env!("CARGO_PKG_VERSION")))
            .build();
        let agent = ureq::Agent::new_with_config(config);
        let mut request = agent.post(&url);
        for (name, value) in headers.iter().copied().chain(instructions.headers()) {
            request = request.header(name, value);
        }
        let mut response = request
            .send(payload.as_bytes())
            .map_err(|e| unreachable(&url, &e))?;
        let status = response.status().as_u16();
        let text = Zeroizing::new(
            response
                .body_mut()
                .read_to_string()
                .map_err(|e| unreachable(&url, &e))?,
        );
        let answer: Value = serde_json::from_str(&text).unwrap_or_else(|_| xml_error(&text));
        if (200..300).contains(&status) {
            return Ok(answer);
        }
        Err(kms_error(status, &answer))
    }
}

/// The KMS key id of an `aws-kms://` URI.
fn key_id(key_uri: &str) -> Result<&str, WrapError> {
    key_uri
        .strip_prefix("aws-kms://")
        .filter(|id| !id.is_empty() && !id.contains(char::is_whitespace))
        .ok_or_else(|| {
            WrapError::new(
                WrapErrorKind::BadUri,
                "an AWS KMS key URI is aws-kms://<key id, key ARN, alias/name or alias ARN>",
            )
        })
}

/// The encryption context of `version`: the same for every column, so a ring load needs none.
fn context(version: KeyVersion) -> Value {
    json!({"purpose": "encrypted-field", "version": version.get().to_string()})
}

impl KeyWrapper for AwsKmsWrapper {
    fn provider(&self) -> &str {
        "aws-kms"
    }

    fn wrap(
        &self,
        key_uri: &str,
        version: KeyVersion,
        key: &MasterKey,
    ) -> Result<Wrapped, WrapError> {
        let key_id = key_id(key_uri)?;
        let plaintext = key.to_base64();
        let mut body = json!({
            "KeyId": key_id,
            "Plaintext": plaintext.as_str(),
            "EncryptionContext": context(version),
        });
        let answer = self.call("Encrypt", key_id, &body);
        // The request held the key's base64: wiped before anything else happens.
        if let Some(Value::String(text)) = body.get_mut("Plaintext") {
            text.zeroize();
        }
        let answer = answer?;
        let blob = answer
            .get("CiphertextBlob")
            .and_then(Value::as_str)
            .and_then(|b| STANDARD.decode(b).ok())
            .ok_or_else(|| {
                WrapError::new(
                    WrapErrorKind::Other,
                    "Encrypt answered without a CiphertextBlob",
                )
            })?;
        let algorithm = answer
            .get("EncryptionAlgorithm")
            .and_then(Value::as_str)
            .unwrap_or("SYMMETRIC_DEFAULT");
        Ok(Wrapped::new(algorithm, blob))
    }

    fn unwrap(
        &self,
        key_uri: &str,
        version: KeyVersion,
        wrapped: &Wrapped,
    ) -> Result<MasterKey, WrapError> {
        let key_id = key_id(key_uri)?;
        let body = json!({
            "KeyId": key_id,
            "CiphertextBlob": STANDARD.encode(wrapped.bytes()),
            "EncryptionContext": context(version),
            "EncryptionAlgorithm": wrapped.algorithm(),
        });
        let mut answer = self.call("Decrypt", key_id, &body)?;
        let plaintext = match answer.get_mut("Plaintext") {
            Some(Value::String(text)) => Zeroizing::new(std::mem::take(text)),
            _ => {
                return Err(WrapError::new(
                    WrapErrorKind::Other,
                    "Decrypt answered without a Plaintext",
                ));
            }
        };
        let bytes = Zeroizing::new(STANDARD.decode(plaintext.as_bytes()).unwrap_or_default());
        let mut key: [u8; KEY_LEN] = bytes.as_slice().try_into().map_err(|_| {
            WrapError::new(
                WrapErrorKind::WrongKey,
                format!(
                    "the unwrapped key has {} bytes instead of {KEY_LEN}",
                    bytes.len()
                ),
            )
        })?;
        let master = MasterKey::from_bytes(key);
        key.zeroize();
        Ok(master)
    }
}

/// An error answered in the query protocol's XML (`<Code>…</Code><Message>…</Message>`, as some
/// endpoints answer a request they refuse before it reaches KMS) as the JSON shape KMS answers.
fn xml_error(text: &str) -> Value {
    let element = |name: &str| {
        let open = format!("<{name}>");
        let start = text.find(&open)? + open.len();
        let end = text[start..].find(&format!("</{name}>"))? + start;
        Some(text[start..end].to_owned())
    };
    match element("Code") {
        Some(code) => json!({"__type": code, "message": element("Message").unwrap_or_default()}),
        None => Value::Null,
    }
}

/// A request that got no answer: the provider is unreachable (retried).
fn unreachable(url: &str, error: &ureq::Error) -> WrapError {
    WrapError::new(WrapErrorKind::Unreachable, format!("{url}: {error}"))
}

/// A KMS error answer, by its exception name (`__type`), with KMS's own message.
fn kms_error(status: u16, answer: &Value) -> WrapError {
    let name = answer
        .get("__type")
        .and_then(Value::as_str)
        .map(|t| t.rsplit('#').next().unwrap_or(t))
        .unwrap_or("");
    let message = answer
        .get("message")
        .or_else(|| answer.get("Message"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let kind = match name {
        "NotFoundException" => WrapErrorKind::KeyNotFound,
        "DisabledException" | "KMSInvalidStateException" | "KeyUnavailableException" => {
            WrapErrorKind::KeyDisabled
        }
        "InvalidCiphertextException" | "IncorrectKeyException" => WrapErrorKind::WrongKey,
        "AccessDeniedException"
        | "UnrecognizedClientException"
        | "InvalidSignatureException"
        | "IncompleteSignature"
        | "ExpiredTokenException"
        | "MissingAuthenticationToken"
        | "InvalidClientTokenId"
        | "SignatureDoesNotMatch" => WrapErrorKind::AccessDenied,
        "ThrottlingException" | "KMSInternalException" | "DependencyTimeoutException" => {
            WrapErrorKind::Unreachable
        }
        _ if status >= 500 || status == 429 => WrapErrorKind::Unreachable,
        _ if status == 401 || status == 403 => WrapErrorKind::AccessDenied,
        _ => WrapErrorKind::Other,
    };
    let shown = if name.is_empty() {
        format!("HTTP {status}")
    } else {
        name.to_owned()
    };
    if message.is_empty() {
        WrapError::new(kind, shown)
    } else {
        WrapError::new(kind, format!("{shown}: {message}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_uris_name_a_key_id() {
        assert_eq!(key_id("aws-kms://alias/app").unwrap(), "alias/app");
        assert_eq!(
            key_id("aws-kms://arn:aws:kms:us-east-1:111122223333:key/1234").unwrap(),
            "arn:aws:kms:us-east-1:111122223333:key/1234"
        );
        for bad in [
            "aws-kms://",
            "aws-kms:alias/app",
            "pkcs11:token=a",
            "aws-kms://a b",
        ] {
            assert_eq!(
                key_id(bad).unwrap_err().kind(),
                WrapErrorKind::BadUri,
                "{bad}"
            );
        }
    }

    #[test]
    fn kms_exceptions_map_to_kinds() {
        let kind =
            |t: &str, status| kms_error(status, &json!({"__type": t, "message": "m"})).kind();
        assert_eq!(kind("NotFoundException", 400), WrapErrorKind::KeyNotFound);
        assert_eq!(
            kind("com.amazonaws.kms#DisabledException", 400),
            WrapErrorKind::KeyDisabled
        );
        assert_eq!(
            kind("KMSInvalidStateException", 400),
            WrapErrorKind::KeyDisabled
        );
        assert_eq!(kind("IncorrectKeyException", 400), WrapErrorKind::WrongKey);
        assert_eq!(
            kind("InvalidCiphertextException", 400),
            WrapErrorKind::WrongKey
        );
        assert_eq!(
            kind("AccessDeniedException", 400),
            WrapErrorKind::AccessDenied
        );
        assert_eq!(kind("ThrottlingException", 400), WrapErrorKind::Unreachable);
        assert_eq!(
            kms_error(503, &Value::Null).kind(),
            WrapErrorKind::Unreachable
        );
        assert_eq!(
            kms_error(403, &Value::Null).kind(),
            WrapErrorKind::AccessDenied
        );
        let refused = xml_error(
            "<ErrorResponse><Errors><Error><Code>InvalidClientTokenId</Code><Message>The security \
             token included in the request is invalid.</Message></Error></Errors></ErrorResponse>",
        );
        let err = kms_error(403, &refused);
        assert_eq!(err.kind(), WrapErrorKind::AccessDenied);
        assert!(
            err.to_string()
                .contains("InvalidClientTokenId: The security token"),
            "{err}"
        );
        assert_eq!(
            kms_error(
                400,
                &json!({"__type": "DisabledException", "message": "k is disabled"})
            )
            .to_string(),
            "the key-encryption key is disabled (DisabledException: k is disabled)"
        );
    }

    #[test]
    fn the_context_binds_the_version() {
        assert_eq!(
            context(KeyVersion::new(3)),
            json!({"purpose": "encrypted-field", "version": "3"})
        );
    }
}

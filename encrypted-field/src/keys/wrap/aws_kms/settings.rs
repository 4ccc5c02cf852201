//! Where the AWS KMS provider finds its region, credentials and endpoint: the environment
//! variables and shared files every AWS SDK reads, in the same order.
//!
//! - credentials: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` (and `AWS_SESSION_TOKEN`); else the
//!   profile `AWS_PROFILE` (default `default`) of the shared credentials file
//!   (`AWS_SHARED_CREDENTIALS_FILE`, default `~/.aws/credentials`), then of the config file
//!   (`AWS_CONFIG_FILE`, default `~/.aws/config`), as static keys;
//! - region: the key ARN's own region, else `AWS_REGION`, `AWS_DEFAULT_REGION`, else the profile's
//!   `region` in the config file;
//! - endpoint: `AWS_ENDPOINT_URL_KMS`, else `AWS_ENDPOINT_URL`, else `https://kms.<region>.amazonaws.com`.
//!
//! Not supported (the full SDK's credential chain has them): instance and container roles
//! (IMDS, ECS, EKS Pod Identity), web identity (IRSA), SSO and `credential_process`. On those
//! platforms, export the role's credentials into the environment.

use std::collections::HashMap;
use std::path::PathBuf;

use zeroize::Zeroizing;

use super::super::{WrapError, WrapErrorKind};

/// Static credentials (the secret is zeroized on drop, never shown by `Debug`).
#[derive(Clone)]
pub(super) struct Credentials {
    pub(super) access_key_id: String,
    pub(super) secret_access_key: Zeroizing<String>,
    pub(super) session_token: Option<Zeroizing<String>>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

/// What the provider reads, through `get` (the environment, or a map in tests).
pub(super) struct Settings<'a> {
    get: &'a dyn Fn(&str) -> Option<String>,
}

fn unavailable(why: impl Into<String>) -> WrapError {
    WrapError::new(WrapErrorKind::Unavailable, why)
}

impl<'a> Settings<'a> {
    pub(super) fn new(get: &'a dyn Fn(&str) -> Option<String>) -> Self {
        Self { get }
    }

    fn var(&self, name: &str) -> Option<String> {
        (self.get)(name).filter(|v| !v.trim().is_empty())
    }

    fn profile(&self) -> String {
        self.var("AWS_PROFILE")
            .unwrap_or_else(|| "default".to_owned())
    }

    fn home_file(&self, var: &str, default: &str) -> Option<PathBuf> {
        self.var(var).map(PathBuf::from).or_else(|| {
            self.var("HOME")
                .map(|home| PathBuf::from(home).join(default))
        })
    }

    /// The profile's section of a shared file (`[name]` in credentials, `[profile name]` or
    /// `[default]` in config).
    fn section(&self, path: Option<PathBuf>, config: bool) -> HashMap<String, Zeroizing<String>> {
        let Some(text) = path.and_then(|p| std::fs::read_to_string(p).ok()) else {
            return HashMap::new();
        };
        let text = Zeroizing::new(text);
        let profile = self.profile();
        let wanted = if config && profile != "default" {
            format!("profile {profile}")
        } else {
            profile
        };
        let mut inside = false;
        let mut found = HashMap::new();
        for line in text.lines().map(str::trim) {
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                inside = name.trim() == wanted;
            } else if inside
                && let Some((key, value)) = line.split_once('=')
                && !line.starts_with(['#', ';'])
            {
                found.insert(
                    key.trim().to_owned(),
                    Zeroizing::new(value.trim().to_owned()),
                );
            }
        }
        found
    }

    pub(super) fn credentials(&self) -> Result<Credentials, WrapError> {
        if let (Some(id), Some(secret)) = (
            self.var("AWS_ACCESS_KEY_ID"),
            self.var("AWS_SECRET_ACCESS_KEY"),
        ) {
            return Ok(Credentials {
                access_key_id: id,
                secret_access_key: Zeroizing::new(secret),
                session_token: self.var("AWS_SESSION_TOKEN").map(Zeroizing::new),
            });
        }
        for (var, default, config) in [
            ("AWS_SHARED_CREDENTIALS_FILE", ".aws/credentials", false),
            ("AWS_CONFIG_FILE", ".aws/config", true),
        ] {
            let section = self.section(self.home_file(var, default), config);
            if let (Some(id), Some(secret)) = (
                section.get("aws_access_key_id"),
                section.get("aws_secret_access_key"),
            ) {
                return Ok(Credentials {
                    access_key_id: id.to_string(),
                    secret_access_key: secret.clone(),
                    session_token: section.get("aws_session_token").cloned(),
                });
            }
        }
        Err(WrapError::new(
            WrapErrorKind::AccessDenied,
            format!(
                "no AWS credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or static \
                 keys for profile `{}` in ~/.aws/credentials (instance, container and web-identity \
                 roles are not read by this provider: export the role's credentials)",
                self.profile()
            ),
        ))
    }

    /// The region: the ARN's, else the environment's, else the profile's; only lowercase
    /// letters, digits and `-` (it becomes part of the endpoint's host name).
    pub(super) fn region(&self, key_id: &str) -> Result<String, WrapError> {
        let region = self.region_as_given(key_id)?;
        if region.is_empty()
            || !region
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(WrapError::new(
                WrapErrorKind::BadUri,
                format!("`{region}` is not an AWS region (e.g. eu-west-1)"),
            ));
        }
        Ok(region)
    }

    fn region_as_given(&self, key_id: &str) -> Result<String, WrapError> {
        if let Some(region) = key_id
            .strip_prefix("arn:")
            .and_then(|arn| arn.split(':').nth(2))
            .filter(|r| !r.is_empty())
        {
            return Ok(region.to_owned());
        }
        if let Some(region) = self
            .var("AWS_REGION")
            .or_else(|| self.var("AWS_DEFAULT_REGION"))
        {
            return Ok(region);
        }
        self.section(self.home_file("AWS_CONFIG_FILE", ".aws/config"), true)
            .get("region")
            .map(|r| r.to_string())
            .ok_or_else(|| unavailable("no AWS region: set AWS_REGION (or use a key ARN)"))
    }

    /// The endpoint URL for `region`.
    pub(super) fn endpoint(&self, region: &str) -> String {
        self.var("AWS_ENDPOINT_URL_KMS")
            .or_else(|| self.var("AWS_ENDPOINT_URL"))
            .unwrap_or_else(|| format!("https://kms.{region}.amazonaws.com"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings_of(pairs: &[(&str, String)], f: impl FnOnce(&Settings<'_>)) {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect();
        let get = move |name: &str| map.get(name).cloned();
        f(&Settings::new(&get));
    }

    #[test]
    fn environment_credentials_win_and_the_secret_is_not_shown() {
        settings_of(
            &[
                ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE".into()),
                ("AWS_SECRET_ACCESS_KEY", "very-secret".into()),
            ],
            |s| {
                let creds = s.credentials().unwrap();
                assert_eq!(creds.access_key_id, "AKIDEXAMPLE");
                assert!(!format!("{creds:?}").contains("very-secret"));
            },
        );
    }

    #[test]
    fn the_profile_of_the_shared_credentials_file_is_read() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("credentials");
        std::fs::write(
            &file,
            "[default]\naws_access_key_id = A1\naws_secret_access_key = S1\n\n[prod]\n\
             aws_access_key_id=A2\naws_secret_access_key=S2\naws_session_token = T2\n",
        )
        .unwrap();
        let path = file.display().to_string();
        settings_of(
            &[
                ("AWS_SHARED_CREDENTIALS_FILE", path.clone()),
                ("AWS_PROFILE", "prod".into()),
            ],
            |s| {
                let creds = s.credentials().unwrap();
                assert_eq!(creds.access_key_id, "A2");
                assert_eq!(
                    creds.session_token.as_deref().map(String::as_str),
                    Some("T2")
                );
            },
        );
        settings_of(&[("AWS_SHARED_CREDENTIALS_FILE", path)], |s| {
            assert_eq!(s.credentials().unwrap().access_key_id, "A1");
        });
    }

    #[test]
    fn no_credentials_is_access_denied_with_the_fix() {
        settings_of(&[("HOME", "/nonexistent".into())], |s| {
            let err = s.credentials().unwrap_err();
            assert_eq!(err.kind(), WrapErrorKind::AccessDenied);
            assert!(err.to_string().contains("AWS_ACCESS_KEY_ID"), "{err}");
        });
    }

    #[test]
    fn the_region_of_an_arn_wins_then_the_environment_then_the_config_file() {
        let tmp = tempfile::tempdir().unwrap();
        let config = tmp.path().join("config");
        std::fs::write(&config, "[profile prod]\nregion = eu-north-1\n").unwrap();
        let arn = "arn:aws:kms:eu-west-3:111122223333:key/1234abcd";
        settings_of(&[("AWS_REGION", "us-east-1".into())], |s| {
            assert_eq!(s.region(arn).unwrap(), "eu-west-3");
            assert_eq!(s.region("alias/app").unwrap(), "us-east-1");
            assert_eq!(
                s.endpoint("us-east-1"),
                "https://kms.us-east-1.amazonaws.com"
            );
        });
        settings_of(
            &[
                ("AWS_CONFIG_FILE", config.display().to_string()),
                ("AWS_PROFILE", "prod".into()),
                ("AWS_ENDPOINT_URL", "http://127.0.0.1:5000".into()),
            ],
            |s| {
                assert_eq!(s.region("alias/app").unwrap(), "eu-north-1");
                assert_eq!(s.endpoint("eu-north-1"), "http://127.0.0.1:5000");
            },
        );
        settings_of(&[("HOME", "/nonexistent".into())], |s| {
            assert_eq!(
                s.region("alias/app").unwrap_err().kind(),
                WrapErrorKind::Unavailable
            );
        });
    }

    #[test]
    fn a_region_that_would_change_the_endpoint_host_is_refused() {
        // An ARN in a key file must not send the plaintext key to another host.
        let arn = "arn:aws:kms:evil.example#:1:key/x";
        settings_of(&[("AWS_REGION", "us-east-1".into())], |s| {
            let err = s.region(arn).unwrap_err();
            assert_eq!(err.kind(), WrapErrorKind::BadUri);
            assert!(err.detail().contains("evil.example#"), "{err}");
        });
        settings_of(&[("AWS_REGION", "us-east-1/x".into())], |s| {
            assert!(s.region("alias/app").is_err());
        });
    }
}

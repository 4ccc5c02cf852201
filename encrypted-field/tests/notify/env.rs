//! `notifiers_from_lookup`: the notifiers the CLI builds from its environment, read here from a
//! map (the tests never change the process's environment).

use std::collections::HashMap;
use std::ffi::OsString;

use encrypted_field::notify::{ConfigError, Notifier, notifiers_from_lookup};

fn notifiers(vars: &[(&str, &str)]) -> Result<Vec<Box<dyn Notifier>>, ConfigError> {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    notifiers_from_lookup(|name| vars.get(name).map(OsString::from))
}

fn names(notifiers: &[Box<dyn Notifier>]) -> Vec<&str> {
    notifiers.iter().map(|n| n.name()).collect()
}

#[test]
fn with_nothing_set_only_the_log_notifier_runs() {
    assert_eq!(names(&notifiers(&[]).unwrap()), ["log"]);
}

#[test]
fn the_notifiers_can_be_handed_to_a_rotation() {
    let registry = encrypted_field::model::Registry::new();
    let mut rotation = encrypted_field::rotation::Rotation::new(&registry);
    for notifier in notifiers(&[]).unwrap() {
        rotation = rotation.notifier(notifier);
    }
    assert!(
        format!("{rotation:?}").contains(r#"notifiers: ["log"]"#),
        "{rotation:?}"
    );
}

#[test]
fn the_django_settings_alone_do_not_turn_email_on() {
    let list = notifiers(&[
        ("EMAIL_FROM_ALERTS", "alerts@example.com"),
        ("EMAIL_SECURITY", "security@example.com"),
    ])
    .unwrap();
    assert_eq!(names(&list), ["log"]);
}

#[test]
fn empty_variables_count_as_unset() {
    let list = notifiers(&[
        ("ENCRYPTED_FIELD_WEBHOOK_URL", ""),
        ("ENCRYPTED_FIELD_SMTP_URL", "  "),
        ("ENCRYPTED_FIELD_EMAIL_TO", ""),
    ])
    .unwrap();
    assert_eq!(names(&list), ["log"]);
}

#[test]
fn a_bad_timeout_is_an_error_naming_the_variable() {
    for value in ["soon", "0s"] {
        let err = notifiers(&[("ENCRYPTED_FIELD_NOTIFY_TIMEOUT", value)]).unwrap_err();
        assert!(
            matches!(
                err,
                ConfigError::Invalid {
                    variable: "ENCRYPTED_FIELD_NOTIFY_TIMEOUT",
                    ..
                }
            ),
            "{value}: {err:?}"
        );
    }
}

#[cfg(unix)]
#[test]
fn a_value_that_is_not_utf8_is_an_error_naming_the_variable() {
    use std::os::unix::ffi::OsStringExt;

    let err = notifiers_from_lookup(|name| {
        (name == "ENCRYPTED_FIELD_SMTP_URL").then(|| OsString::from_vec(vec![b's', 0xff]))
    })
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "ENCRYPTED_FIELD_SMTP_URL: its value is not valid UTF-8"
    );
}

#[cfg(feature = "webhook")]
mod webhook {
    use super::*;
    use crate::http_sink::{Answer, HttpSink};
    use crate::reports::completed_rotation;

    #[test]
    fn the_webhook_variables_add_a_webhook_notifier_that_posts_with_authorization() {
        let sink = HttpSink::start(Answer::Status("200 OK"));
        let list = notifiers(&[
            (
                "ENCRYPTED_FIELD_WEBHOOK_URL",
                &format!("{}/rotation", sink.base_url),
            ),
            ("ENCRYPTED_FIELD_WEBHOOK_AUTHORIZATION", "Bearer s3cret"),
            ("ENCRYPTED_FIELD_NOTIFY_TIMEOUT", "3s"),
        ])
        .unwrap();
        assert_eq!(names(&list), ["log", "webhook"]);

        list[1].notify(&completed_rotation()).unwrap();

        let request = sink.request().unwrap();
        assert_eq!(request.target, "/rotation");
        assert_eq!(request.header("authorization"), Some("Bearer s3cret"));
    }

    #[test]
    fn an_authorization_without_a_url_is_incomplete() {
        let err =
            notifiers(&[("ENCRYPTED_FIELD_WEBHOOK_AUTHORIZATION", "Bearer s3cret")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "ENCRYPTED_FIELD_WEBHOOK_AUTHORIZATION is set, but ENCRYPTED_FIELD_WEBHOOK_URL is \
             not: set it too, or unset ENCRYPTED_FIELD_WEBHOOK_AUTHORIZATION"
        );
    }

    #[test]
    fn a_bad_webhook_url_is_an_error_naming_the_variable() {
        let err =
            notifiers(&[("ENCRYPTED_FIELD_WEBHOOK_URL", "ftp://hooks.example.com/x")]).unwrap_err();
        assert!(
            err.to_string()
                .starts_with("ENCRYPTED_FIELD_WEBHOOK_URL: not a usable webhook URL: "),
            "{err}"
        );
    }

    #[test]
    fn plain_http_elsewhere_is_refused_and_the_error_names_the_opt_in() {
        let err = notifiers(&[("ENCRYPTED_FIELD_WEBHOOK_URL", "http://hooks.example.com/x")])
            .unwrap_err();
        assert!(
            matches!(
                err,
                ConfigError::Invalid {
                    variable: "ENCRYPTED_FIELD_WEBHOOK_URL",
                    ..
                }
            ),
            "{err:?}"
        );
        let message = err.to_string();
        assert!(
            message.contains("ENCRYPTED_FIELD_WEBHOOK_ALLOW_HTTP=1"),
            "{message}"
        );
        assert!(!message.contains('\n'), "{message}");
    }

    #[test]
    fn plain_http_elsewhere_is_accepted_when_allowed() {
        for yes in ["1", "true", "YES"] {
            let list = notifiers(&[
                ("ENCRYPTED_FIELD_WEBHOOK_URL", "http://hooks.example.com/x"),
                ("ENCRYPTED_FIELD_WEBHOOK_ALLOW_HTTP", yes),
            ])
            .unwrap();
            assert_eq!(names(&list), ["log", "webhook"], "{yes}");
        }
        let err = notifiers(&[
            ("ENCRYPTED_FIELD_WEBHOOK_URL", "http://hooks.example.com/x"),
            ("ENCRYPTED_FIELD_WEBHOOK_ALLOW_HTTP", "0"),
        ])
        .unwrap_err();
        assert!(
            matches!(
                err,
                ConfigError::Invalid {
                    variable: "ENCRYPTED_FIELD_WEBHOOK_URL",
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn an_allow_http_that_is_not_yes_or_no_is_an_error_naming_it() {
        let err = notifiers(&[
            ("ENCRYPTED_FIELD_WEBHOOK_URL", "https://hooks.example.com/x"),
            ("ENCRYPTED_FIELD_WEBHOOK_ALLOW_HTTP", "maybe"),
        ])
        .unwrap_err();
        assert!(
            matches!(
                err,
                ConfigError::Invalid {
                    variable: "ENCRYPTED_FIELD_WEBHOOK_ALLOW_HTTP",
                    ..
                }
            ),
            "{err:?}"
        );
        let err = notifiers(&[("ENCRYPTED_FIELD_WEBHOOK_ALLOW_HTTP", "1")]).unwrap_err();
        assert!(matches!(err, ConfigError::Incomplete { .. }), "{err:?}");
    }

    #[test]
    fn the_ca_file_is_trusted_for_an_https_webhook() {
        let sink = crate::http_sink::HttpSink::start_tls(
            Answer::Status("200 OK"),
            crate::tls::server_config(crate::tls::Signer::TestCa),
        );
        let ca_file = crate::tls::ca_file();
        let list = notifiers(&[
            (
                "ENCRYPTED_FIELD_WEBHOOK_URL",
                &format!("{}/rotation", sink.base_url),
            ),
            ("ENCRYPTED_FIELD_NOTIFY_CA_FILE", ca_file.to_str().unwrap()),
            ("ENCRYPTED_FIELD_NOTIFY_TIMEOUT", "3s"),
        ])
        .unwrap();

        list[1].notify(&completed_rotation()).unwrap();

        assert_eq!(sink.request().unwrap().target, "/rotation");
    }

    #[test]
    fn an_authorization_over_plain_http_elsewhere_is_refused_without_showing_it() {
        let err = notifiers(&[
            ("ENCRYPTED_FIELD_WEBHOOK_URL", "http://hooks.example.com/x"),
            ("ENCRYPTED_FIELD_WEBHOOK_ALLOW_HTTP", "1"),
            ("ENCRYPTED_FIELD_WEBHOOK_AUTHORIZATION", "Bearer s3cret"),
        ])
        .unwrap_err();
        assert!(
            matches!(
                err,
                ConfigError::Invalid {
                    variable: "ENCRYPTED_FIELD_WEBHOOK_AUTHORIZATION",
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(!err.to_string().contains("s3cret"), "{err}");
    }
}

#[cfg(not(feature = "webhook"))]
#[test]
fn a_webhook_url_without_the_feature_is_an_error() {
    let err =
        notifiers(&[("ENCRYPTED_FIELD_WEBHOOK_URL", "https://hooks.example.com/x")]).unwrap_err();
    assert!(
        matches!(
            err,
            ConfigError::FeatureDisabled {
                feature: "webhook",
                ..
            }
        ),
        "{err:?}"
    );
}

#[cfg(feature = "email")]
mod email {
    use super::*;
    use crate::reports::failed_rotation;
    use crate::smtp_sink::{Mail, Recipients, SmtpSink};

    #[test]
    fn the_email_variables_add_an_email_notifier_that_mails_the_report() {
        let sink = SmtpSink::start(Recipients::Accept);
        let list = notifiers(&[
            (
                "ENCRYPTED_FIELD_SMTP_URL",
                &format!("smtp://{}", sink.address),
            ),
            ("ENCRYPTED_FIELD_EMAIL_FROM", "rotation@example.com"),
            (
                "ENCRYPTED_FIELD_EMAIL_TO",
                "security@example.com, ops@example.com",
            ),
            ("EMAIL_FROM_ALERTS", "django-alerts@example.com"),
        ])
        .unwrap();
        assert_eq!(names(&list), ["log", "email"]);

        list[1].notify(&failed_rotation()).unwrap();

        let session = sink.session().unwrap();
        assert_eq!(session.mail_from, "rotation@example.com");
        assert_eq!(session.rcpt_to, ["security@example.com", "ops@example.com"]);
        assert_eq!(
            Mail::parse(&session.data).header("subject"),
            Some("[encrypted-field] key rotation FAILED: 3 values could not be read")
        );
    }

    #[test]
    fn the_ca_file_is_trusted_for_starttls() {
        let sink = SmtpSink::start_with(
            Recipients::Accept,
            crate::smtp_sink::Security::StartTls(crate::tls::server_config(
                crate::tls::Signer::TestCa,
            )),
        );
        let ca_file = crate::tls::ca_file();
        let list = notifiers(&[
            (
                "ENCRYPTED_FIELD_SMTP_URL",
                &format!("smtp://{}?tls=required", sink.address),
            ),
            ("ENCRYPTED_FIELD_NOTIFY_CA_FILE", ca_file.to_str().unwrap()),
            ("EMAIL_FROM_ALERTS", "alerts@example.com"),
            ("EMAIL_SECURITY", "security@example.com"),
            ("ENCRYPTED_FIELD_NOTIFY_TIMEOUT", "3s"),
        ])
        .unwrap();

        list[1].notify(&failed_rotation()).unwrap();

        let session = sink.session().unwrap();
        assert!(session.tls);
        assert_eq!(session.rcpt_to, ["security@example.com"]);
    }

    #[test]
    fn the_django_settings_give_sender_and_recipient_when_an_smtp_url_is_set() {
        let sink = SmtpSink::start(Recipients::Accept);
        let list = notifiers(&[
            (
                "ENCRYPTED_FIELD_SMTP_URL",
                &format!("smtp://{}", sink.address),
            ),
            ("EMAIL_FROM_ALERTS", "alerts@example.com"),
            ("EMAIL_SECURITY", "security@example.com"),
        ])
        .unwrap();

        list[1].notify(&failed_rotation()).unwrap();

        let session = sink.session().unwrap();
        assert_eq!(session.mail_from, "alerts@example.com");
        assert_eq!(session.rcpt_to, ["security@example.com"]);
    }

    #[test]
    fn separate_smtp_credentials_are_used() {
        let sink = SmtpSink::start(Recipients::Accept);
        let list = notifiers(&[
            (
                "ENCRYPTED_FIELD_SMTP_URL",
                &format!("smtp://{}", sink.address),
            ),
            ("ENCRYPTED_FIELD_SMTP_USERNAME", "relay"),
            ("ENCRYPTED_FIELD_SMTP_PASSWORD", "s3cret"),
            ("EMAIL_FROM_ALERTS", "alerts@example.com"),
            ("EMAIL_SECURITY", "security@example.com"),
        ])
        .unwrap();

        list[1].notify(&failed_rotation()).unwrap();

        assert_eq!(
            sink.session().unwrap().auth,
            Some(("relay".to_owned(), "s3cret".to_owned()))
        );
    }

    #[test]
    fn a_sender_without_a_recipient_is_incomplete_and_names_both_variables() {
        let err = notifiers(&[
            ("ENCRYPTED_FIELD_SMTP_URL", "smtp://localhost"),
            ("ENCRYPTED_FIELD_EMAIL_FROM", "alerts@example.com"),
        ])
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "ENCRYPTED_FIELD_SMTP_URL is set, but ENCRYPTED_FIELD_EMAIL_TO (or EMAIL_SECURITY) \
             is not: set it too, or unset ENCRYPTED_FIELD_SMTP_URL"
        );
    }

    #[test]
    fn an_smtp_url_without_a_sender_is_incomplete() {
        let err = notifiers(&[
            ("ENCRYPTED_FIELD_SMTP_URL", "smtp://localhost"),
            ("EMAIL_SECURITY", "security@example.com"),
        ])
        .unwrap_err();
        assert!(
            matches!(&err, ConfigError::Incomplete { missing, .. }
                if missing == "ENCRYPTED_FIELD_EMAIL_FROM (or EMAIL_FROM_ALERTS)"),
            "{err:?}"
        );
    }

    #[test]
    fn a_sender_or_recipient_without_an_smtp_url_is_incomplete() {
        for var in ["ENCRYPTED_FIELD_EMAIL_FROM", "ENCRYPTED_FIELD_EMAIL_TO"] {
            let err = notifiers(&[(var, "security@example.com")]).unwrap_err();
            assert_eq!(
                err,
                ConfigError::Incomplete {
                    set: var,
                    missing: "ENCRYPTED_FIELD_SMTP_URL".to_owned()
                }
            );
        }
    }

    #[test]
    fn a_user_name_without_a_password_is_incomplete() {
        let err = notifiers(&[
            ("ENCRYPTED_FIELD_SMTP_URL", "smtps://mail.example.com"),
            ("ENCRYPTED_FIELD_SMTP_USERNAME", "relay"),
            ("EMAIL_FROM_ALERTS", "alerts@example.com"),
            ("EMAIL_SECURITY", "security@example.com"),
        ])
        .unwrap_err();
        assert_eq!(
            err,
            ConfigError::Incomplete {
                set: "ENCRYPTED_FIELD_SMTP_USERNAME",
                missing: "ENCRYPTED_FIELD_SMTP_PASSWORD".to_owned()
            }
        );
    }

    #[test]
    fn a_bad_smtp_url_is_an_error_naming_the_variable_without_the_password() {
        let err = notifiers(&[
            (
                "ENCRYPTED_FIELD_SMTP_URL",
                "smtp://relay:s3cret@mail.example.com?tls=none",
            ),
            ("EMAIL_FROM_ALERTS", "alerts@example.com"),
            ("EMAIL_SECURITY", "security@example.com"),
        ])
        .unwrap_err();
        assert!(
            matches!(
                err,
                ConfigError::Invalid {
                    variable: "ENCRYPTED_FIELD_SMTP_URL",
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(!err.to_string().contains("s3cret"), "{err}");
    }

    #[test]
    fn a_bad_address_names_the_variable_it_came_from() {
        let err = notifiers(&[
            ("ENCRYPTED_FIELD_SMTP_URL", "smtp://localhost"),
            ("EMAIL_FROM_ALERTS", "alerts@example.com"),
            ("EMAIL_SECURITY", "security team"),
        ])
        .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("EMAIL_SECURITY: to address `security team`: "),
            "{err}"
        );
    }
}

#[cfg(any(feature = "webhook", feature = "email"))]
mod ca_file {
    use super::*;

    #[test]
    fn a_ca_file_that_cannot_be_read_is_an_error_naming_the_variable_and_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("no-such-ca.pem");
        let not_pem = dir.path().join("not-pem.pem");
        std::fs::write(&not_pem, "hello\n").unwrap();
        for (path, says) in [
            (&missing, "no-such-ca.pem"),
            (&not_pem, "holds no certificate"),
        ] {
            let err = notifiers(&[
                ("ENCRYPTED_FIELD_WEBHOOK_URL", "https://hooks.example.com/x"),
                ("ENCRYPTED_FIELD_NOTIFY_CA_FILE", path.to_str().unwrap()),
            ])
            .unwrap_err();
            assert!(
                matches!(
                    err,
                    ConfigError::Invalid {
                        variable: "ENCRYPTED_FIELD_NOTIFY_CA_FILE",
                        ..
                    }
                ),
                "{err:?}"
            );
            assert!(err.to_string().contains(says), "{err}");
        }
    }

    #[test]
    fn a_ca_file_without_a_notifier_is_incomplete() {
        let ca_file = crate::tls::ca_file();
        let err = notifiers(&[("ENCRYPTED_FIELD_NOTIFY_CA_FILE", ca_file.to_str().unwrap())])
            .unwrap_err();
        assert!(
            matches!(
                err,
                ConfigError::Incomplete {
                    set: "ENCRYPTED_FIELD_NOTIFY_CA_FILE",
                    ..
                }
            ),
            "{err:?}"
        );
    }
}

#[cfg(not(feature = "email"))]
#[test]
fn an_smtp_url_without_the_feature_is_an_error() {
    let err = notifiers(&[("ENCRYPTED_FIELD_SMTP_URL", "smtp://localhost")]).unwrap_err();
    assert!(
        matches!(
            err,
            ConfigError::FeatureDisabled {
                feature: "email",
                ..
            }
        ),
        "{err:?}"
    );
}

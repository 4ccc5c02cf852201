//! Expansion snapshots: the code generated for each combination of attributes, pretty-printed
//! into `tests/expand/*.expanded.rs`. After an intended change, regenerate them with
//! `UPDATE_EXPECT=1 cargo test -p encrypted-field-derive` and review the diff.

use expect_test::{ExpectFile, expect_file};
use proc_macro2::TokenStream;
use quote::quote;

use crate::expand::derive_encrypted_model_inner;

fn expands_to(input: TokenStream, expected: ExpectFile) {
    let output = derive_encrypted_model_inner(input);
    let file: syn::File = syn::parse2(output).expect("the expansion is valid Rust");
    expected.assert_eq(&prettyplease::unparse(&file));
}

/// The messages of the errors in an expansion, in order.
fn errors_of(input: TokenStream) -> Vec<String> {
    let file: syn::File =
        syn::parse2(derive_encrypted_model_inner(input)).expect("the expansion is valid Rust");
    file.items
        .iter()
        .filter_map(|item| match item {
            syn::Item::Macro(call)
                if call
                    .mac
                    .path
                    .segments
                    .last()
                    .is_some_and(|s| s.ident == "compile_error") =>
            {
                Some(
                    call.mac
                        .parse_body::<syn::LitStr>()
                        .expect("compile_error! holds a string")
                        .value(),
                )
            }
            _ => None,
        })
        .collect()
}

#[test]
fn binary_field_with_diesel_table_name_and_id_key() {
    expands_to(
        quote! {
            #[derive(Queryable, Selectable, Insertable, EncryptedModel)]
            #[diesel(table_name = crate::schema::customers, check_for_backend(diesel::sqlite::Sqlite))]
            pub struct Customer {
                pub id: i32,
                #[encrypted]
                _ssn: Vec<u8>,
            }
        },
        expect_file!["../tests/expand/binary.expanded.rs"],
    );
}

#[test]
fn nullable_text_field_with_accessor_name_and_column_name() {
    expands_to(
        quote! {
            #[derive(EncryptedModel)]
            #[diesel(table_name = phone_requests)]
            struct PhoneRequest {
                id: i64,
                #[encrypted(name = "phone")]
                #[diesel(column_name = phone_number)]
                _phone: Option<String>,
            }
        },
        expect_file!["../tests/expand/nullable_text_named.expanded.rs"],
    );
}

#[test]
fn plaintext_type_and_sql_column_override() {
    expands_to(
        quote! {
            #[derive(EncryptedModel)]
            #[encrypted_model(table = "accounts")]
            struct Account {
                id: i32,
                #[encrypted(ty = i64, column = "credit_limit_enc")]
                _credit_limit: Vec<u8>,
            }
        },
        expect_file!["../tests/expand/plaintext_type.expanded.rs"],
    );
}

#[test]
fn binary_blind_index_with_builtin_normalizer() {
    expands_to(
        quote! {
            #[derive(EncryptedModel)]
            #[diesel(table_name = customers)]
            struct Customer {
                id: i32,
                #[encrypted(blind_index = "phone_bidx", normalize = digits)]
                _phone: Vec<u8>,
                phone_bidx: Vec<u8>,
            }
        },
        expect_file!["../tests/expand/blind_index_binary.expanded.rs"],
    );
}

#[test]
fn nullable_text_blind_index_with_custom_normalizer() {
    expands_to(
        quote! {
            #[derive(EncryptedModel)]
            #[diesel(table_name = customers)]
            struct Customer {
                id: i32,
                #[encrypted(blind_index = "email_bidx", normalize = crate::normalizers::email)]
                _email: Option<String>,
                email_bidx: Option<String>,
            }
        },
        expect_file!["../tests/expand/blind_index_text_custom.expanded.rs"],
    );
}

#[test]
fn blind_index_without_normalize_is_exact() {
    let output = derive_encrypted_model_inner(quote! {
        #[encrypted_model(table = "t")]
        struct T { id: i32, #[encrypted(blind_index = "b")] _v: Vec<u8>, b: Vec<u8> }
    })
    .to_string();
    assert!(
        output.contains(r#"with_normalizer ("exact" , __ENCRYPTED_FIELD_NORMALIZE_V)"#),
        "{output}"
    );
    assert!(
        output.contains("Normalizer = :: encrypted_field :: __private :: normalize :: exact ;"),
        "{output}"
    );
}

#[test]
fn bind_row_reads_the_key_field_and_marks_the_column() {
    expands_to(
        quote! {
            #[derive(EncryptedModel)]
            #[encrypted_model(table = "people")]
            struct Person {
                id: Option<i64>,
                #[encrypted(bind_row)]
                _ssn: Option<Vec<u8>>,
                #[encrypted(bind_row)]
                _note: String,
            }
        },
        expect_file!["../tests/expand/bind_row.expanded.rs"],
    );
}

#[test]
fn explicit_table_and_text_primary_key_override_diesel() {
    expands_to(
        quote! {
            #[derive(EncryptedModel)]
            #[diesel(table_name = legacy_name, primary_key(uuid))]
            #[encrypted_model(table = "suppliers", primary_key = "code")]
            pub(crate) struct Supplier<'a> {
                code: &'a str,
                uuid: String,
                #[encrypted]
                _tax_id: Vec<u8>,
            }
        },
        expect_file!["../tests/expand/explicit_table_and_key.expanded.rs"],
    );
}

#[test]
fn diesel_primary_key_and_key_type_for_a_key_that_is_not_a_field() {
    let diesel_key = derive_encrypted_model_inner(quote! {
        #[diesel(table_name = t, primary_key(code))]
        struct T { #[diesel(column_name = "Code")] code: String, #[encrypted] _v: Vec<u8> }
    })
    .to_string();
    assert!(
        diesel_key.contains(r#"ModelSpec :: new ("t" , "Code")"#),
        "{diesel_key}"
    );
    assert!(diesel_key.contains("KeyKind :: Text"), "{diesel_key}");

    let key_type = derive_encrypted_model_inner(quote! {
        #[encrypted_model(table = "t", primary_key = "id", primary_key_type = u64)]
        struct NewT { #[encrypted] _v: Vec<u8> }
    })
    .to_string();
    assert!(key_type.contains("KeyKind :: Integer"), "{key_type}");
    assert!(!key_type.contains("compile_error"), "{key_type}");
}

#[test]
fn errors_are_reported_together_with_a_stub_impl() {
    expands_to(
        quote! {
            #[derive(EncryptedModel)]
            struct Customer {
                id: i32,
                #[encrypted(nme = "x")]
                _ssn: i32,
                #[encrypted(blind_index = "missing")]
                phone: Vec<u8>,
            }
        },
        expect_file!["../tests/expand/errors.expanded.rs"],
    );
}

#[test]
fn unknown_diesel_keys_are_left_to_diesel() {
    let errors = errors_of(quote! {
        #[diesel(table_name = t, sql_type = Foo<A, B>, unknown(x, y), treat_none_as_null = true)]
        struct T {
            id: i32,
            #[diesel(deserialize_as = HashMap<K, Box<dyn Fn() -> V>>, column_name = v)]
            #[encrypted]
            _v: Vec<u8>,
        }
    });
    assert_eq!(errors, Vec::<String>::new());
}

#[test]
fn every_field_mistake_is_reported() {
    let errors = errors_of(quote! {
        #[encrypted_model(table = "t", tabel = "u")]
        struct T {
            id: i32,
            #[encrypted(normalize = digits)]
            _a: Vec<u8>,
            #[encrypted]
            #[encrypted]
            _b: Vec<u8>,
            #[encrypted(name = "fn")]
            _c: Vec<u8>,
            #[encrypted(name = "a")]
            _d: Vec<u8>,
            #[encrypted]
            id_copy: Encrypted<String>,
            #[encrypted(blind_index = "_a")]
            _e: Vec<u8>,
            #[encrypted(blind_index = "f_bidx")]
            _f: Option<Vec<u8>>,
            f_bidx: Vec<u8>,
            #[encrypted(blind_index = "f_bidx")]
            _g: Vec<u8>,
            #[encrypted]
            _type: Vec<u8>,
        }
    });
    let expected_starts = [
        "unknown key `tabel` in `#[encrypted_model]`",
        "duplicate `#[encrypted]` attribute",
        "`normalize` applies to a blind index",
        "`fn` is not a valid method name",
        "the methods of `_a` and `_d` would both be named `a`",
        "`Encrypted<T>` encrypts itself",
        "`#[encrypted]` field `id_copy` holds ciphertext",
        "`_a` is itself `#[encrypted]`",
        "`_f` is nullable, so its blind index `f_bidx` must be an `Option` too",
        "`f_bidx` already holds the blind index of `_f`",
        "`type` is not a valid method name",
    ];
    assert_eq!(errors.len(), expected_starts.len(), "{errors:#?}");
    for (error, start) in errors.iter().zip(expected_starts) {
        assert!(
            error.starts_with(start),
            "{error:?} should start with {start:?}"
        );
    }
}

#[test]
fn structural_mistakes_are_reported() {
    let cases = [
        (
            quote!(
                #[encrypted_model(table = "t")]
                enum E {
                    A,
                }
            ),
            "works on structs only, not enums",
        ),
        (
            quote!(
                #[encrypted_model(table = "t")]
                struct T(i32, Vec<u8>);
            ),
            "needs a struct with named fields",
        ),
        (
            quote!(
                #[encrypted_model(table = "t")]
                struct T {
                    id: i32,
                    v: Vec<u8>,
                }
            ),
            "no `#[encrypted]` field",
        ),
        (
            quote!(
                struct T {
                    id: i32,
                    #[encrypted]
                    _v: Vec<u8>,
                }
            ),
            "missing table name",
        ),
        (
            quote!(
                #[encrypted_model(table = "a-b")]
                struct T {
                    id: i32,
                    #[encrypted]
                    _v: Vec<u8>,
                }
            ),
            "table name `a-b` is not a plain SQL identifier",
        ),
        (
            quote!(
                #[encrypted_model(table = "t")]
                struct T {
                    key: i32,
                    #[encrypted]
                    _v: Vec<u8>,
                }
            ),
            "no primary key",
        ),
        (
            quote!(
                #[diesel(table_name = t, primary_key(a, b))]
                struct T {
                    a: i32,
                    b: i32,
                    #[encrypted]
                    _v: Vec<u8>,
                }
            ),
            "composite primary keys are not supported",
        ),
        (
            quote!(
                #[encrypted_model(table = "t")]
                struct T {
                    id: f64,
                    #[encrypted]
                    _v: Vec<u8>,
                }
            ),
            "primary key `id` must be an integer, a `String` or a `Uuid`",
        ),
        (
            quote!(
                #[encrypted_model(table = "t", primary_key = "pk")]
                struct T {
                    #[encrypted]
                    _v: Vec<u8>,
                }
            ),
            "primary key `pk` is not a field of `T`",
        ),
        (
            quote!(
                #[encrypted_model(table = "t")]
                struct T {
                    #[encrypted]
                    id: Vec<u8>,
                }
            ),
            "the primary key cannot be `#[encrypted]`",
        ),
        (
            quote!(
                #[encrypted_model(table = "t")]
                struct T {
                    id: i32,
                    #[encrypted(blind_index = "id")]
                    _v: Vec<u8>,
                }
            ),
            "`id` is the primary key",
        ),
        (
            quote!(
                #[encrypted_model(table = "t")]
                struct T {
                    id: i32,
                    #[encrypted(blind_index = "_v")]
                    _v: Vec<u8>,
                }
            ),
            "the blind index needs a field of its own",
        ),
        (
            quote!(
                #[encrypted_model(table = "t")]
                struct T {
                    id: i32,
                    #[encrypted(blind_index = "b")]
                    _v: Vec<u8>,
                    b: [u8; 32],
                }
            ),
            "blind-index field `b` must be `Vec<u8>`",
        ),
        (
            quote!(
                #[encrypted_model(table = "t")]
                struct T {
                    id: i32,
                    #[encrypted(column = "v")]
                    _v: Vec<u8>,
                    #[encrypted(column = "v")]
                    _w: Vec<u8>,
                }
            ),
            "column `v` is already used by `_v`",
        ),
        (
            quote!(
                #[encrypted_model(table = "t")]
                struct T {
                    id: i32,
                    #[encrypted = "x"]
                    _v: Vec<u8>,
                }
            ),
            "expected `#[encrypted]` or keys in parentheses",
        ),
        (
            quote!(
                #[encrypted_model(table = t)]
                struct T {
                    id: i32,
                    #[encrypted]
                    _v: Vec<u8>,
                }
            ),
            "expected a string literal: `table = \"customers\"`",
        ),
        (
            quote!(
                #[encrypted_model(table = "t", table = "u")]
                struct T {
                    id: i32,
                    #[encrypted]
                    _v: Vec<u8>,
                }
            ),
            "duplicate key `table`",
        ),
    ];
    for (input, expected) in cases {
        let errors = errors_of(input.clone());
        assert!(
            errors.iter().any(|e| e.contains(expected)),
            "{input}\n  gave {errors:#?}\n  expected {expected:?}"
        );
    }
}

//! The moto server (`moto_server`, started by `.ci/run` on 127.0.0.1) as AWS KMS: its endpoint
//! from `AWS_ENDPOINT_URL`, keys and aliases created through the KMS API for each test.

use serde_json::{Value, json};

/// The endpoint, if the server is configured; a missing one fails the test when backends are
/// required (CI), and skips it otherwise.
pub fn endpoint() -> Option<String> {
    let found = std::env::var("AWS_ENDPOINT_URL")
        .ok()
        .filter(|u| !u.is_empty());
    if found.is_none() {
        assert!(
            std::env::var_os("ENCRYPTED_FIELD_REQUIRE_BACKENDS").is_none(),
            "the moto server is required (ENCRYPTED_FIELD_REQUIRE_BACKENDS is set) but \
             AWS_ENDPOINT_URL is not set: pip install 'moto[server]', moto_server -p PORT, \
             AWS_ENDPOINT_URL=http://127.0.0.1:PORT"
        );
        eprintln!("skipped: AWS_ENDPOINT_URL is not set (no moto server)");
    }
    found
}

/// Calls the KMS action `target` on the server (moto does not check signatures).
pub fn kms(endpoint: &str, target: &str, body: &Value) -> Value {
    let region = std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".to_owned());
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut response = agent
        .post(format!("{}/", endpoint.trim_end_matches('/')))
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amz-target", format!("TrentService.{target}"))
        .header(
            "authorization",
            format!(
                "AWS4-HMAC-SHA256 Credential=testing/20260101/{region}/kms/aws4_request, \
                 SignedHeaders=host, Signature=00"
            ),
        )
        .send(body.to_string())
        .unwrap();
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap();
    assert!(status < 300, "{target}: HTTP {status}: {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

/// A new symmetric key with the alias `alias/<name>-<unique>`: (key id, key ARN, alias).
pub fn create_key(endpoint: &str, name: &str) -> (String, String, String) {
    let created = kms(endpoint, "CreateKey", &json!({"Description": name}));
    let id = created["KeyMetadata"]["KeyId"].as_str().unwrap().to_owned();
    let arn = created["KeyMetadata"]["Arn"].as_str().unwrap().to_owned();
    let alias = format!("alias/ef-{name}-{}", &id[..8]);
    kms(
        endpoint,
        "CreateAlias",
        &json!({"AliasName": alias, "TargetKeyId": id}),
    );
    (id, arn, alias)
}

/// A local server that answers one request with `status` and the JSON `body` (as KMS answers an
/// error), after reading the request; its URL.
pub fn answer_once(status: u16, body: &str) -> String {
    use std::io::{BufRead as _, BufReader, Read as _, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let body = body.to_owned();
    std::thread::spawn(move || {
        let (stream, _) = listener.accept().unwrap();
        let mut reader = BufReader::new(stream);
        let mut length = 0;
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                length = value.trim().parse().unwrap();
            }
            if line.trim().is_empty() {
                break;
            }
        }
        let mut request = vec![0u8; length];
        reader.read_exact(&mut request).unwrap();
        let mut stream = reader.into_inner();
        write!(
            stream,
            "HTTP/1.1 {status} Bad Request\r\ncontent-type: application/x-amz-json-1.1\r\n\
             content-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
    });
    url
}

-- phone_number holds the format-v1 envelope ("EF", format 1, key version, IV, AES-256-CBC
-- ciphertext, HMAC-SHA256 tag), never the plaintext. phone_bidx holds HMAC-SHA256 of the phone's
-- digits under the blind-index key: it serves equality lookups and reveals nothing else.
CREATE TABLE phone_requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    requester_name TEXT NOT NULL,
    phone_number BLOB NOT NULL,
    phone_bidx BLOB NOT NULL,
    created_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP
);
CREATE INDEX phone_requests_phone_bidx ON phone_requests (phone_bidx);

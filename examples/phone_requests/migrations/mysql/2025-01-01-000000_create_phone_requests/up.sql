-- phone_number holds the format-v1 envelope ("EF", format 1, key version, IV, AES-256-CBC
-- ciphertext, HMAC-SHA256 tag), never the plaintext. phone_bidx holds HMAC-SHA256 of the phone's
-- digits under the blind-index key: it serves equality lookups and reveals nothing else.
CREATE TABLE phone_requests (
    id INT NOT NULL AUTO_INCREMENT PRIMARY KEY,
    requester_name VARCHAR(200) NOT NULL,
    phone_number BLOB NOT NULL,
    phone_bidx VARBINARY(32) NOT NULL,
    created_at DATETIME NOT NULL DEFAULT CURRENT_TIMESTAMP,
    INDEX phone_requests_phone_bidx (phone_bidx)
) DEFAULT CHARSET = utf8mb4;

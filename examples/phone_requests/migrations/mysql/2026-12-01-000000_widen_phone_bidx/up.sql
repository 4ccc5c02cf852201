-- A blind index of blind-index key version 2 or later carries its version (FORMAT.md,
-- "Blind-index key versions"): 38 bytes instead of 32. Widened before any such key is activated
-- (`rotate --blind-index --new-key` refuses a column too narrow for it); version-1 indexes are
-- unchanged and keep matching.
ALTER TABLE phone_requests MODIFY phone_bidx VARBINARY(38) NOT NULL;

-- Stored user scopes are keyed by the Palette user Palette verified, and found by the digest
-- of the last token it accepted; rows keyed by a claimed email are dropped.
DELETE FROM user_scopes;
ALTER TABLE user_scopes ADD COLUMN token_digest TEXT COLLATE "C";
CREATE INDEX user_scopes_token ON user_scopes (env, token_digest);

-- Audit: the email a request claimed beside the one Palette verified, the verified user uid,
-- and which credential reached Palette. `outcome` may now also be `denied`.
ALTER TABLE audit_log ADD COLUMN claimed_email TEXT COLLATE "C";
ALTER TABLE audit_log ADD COLUMN palette_user_uid TEXT COLLATE "C";
ALTER TABLE audit_log ADD COLUMN credential TEXT COLLATE "C";

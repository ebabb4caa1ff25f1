ALTER TABLE repositories DROP COLUMN peer_capabilities;

DROP TABLE trusted_addresses;

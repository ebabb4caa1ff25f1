DROP TABLE peer_calls;

"""TLS probe: versions, cipher suites, groups and key exchange, enumerated on raw sockets."""

"""Certificate probe: the served chain, path validation, the name, stapled status, SCTs, DANE."""

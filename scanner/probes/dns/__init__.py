"""DNS probe: an endpoint host's answers, a domain's zone and delegation, DNSSEC validation."""

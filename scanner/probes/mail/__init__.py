"""Mail probe: MX, SPF, DMARC, MTA-STS, TLS-RPT, and each MX host's STARTTLS."""

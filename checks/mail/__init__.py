"""Mail pillar: spoofing protection (SPF, DMARC per RFC 9989, DKIM keys, null MX) and transport
security of the MX (STARTTLS, its TLS and certificate, DANE, MTA-STS, TLS-RPT); one module
per concern, their texts in checks/texts/mail.toml.

Every registrable domain of a service is judged, declared mail domain or not: a domain
that sends no mail should say so (null MX, `v=spf1 -all`, DMARC `p=reject`). Records are
read by the standards' own grammars (`scanner/standards/`), as a receiver or sender reads
them: what they would discard is discarded before judging.
"""

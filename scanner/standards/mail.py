"""Limits the mail standards set: what an SPF evaluator may spend, how far a DMARC lookup climbs."""

from __future__ import annotations

SPF_LOOKUP_LIMIT = 10  # RFC 7208 §4.6.4: DNS-querying terms per evaluation, includes and redirects counted
SPF_VOID_LIMIT = 2  # RFC 7208 §4.6.4: lookups that return no answer (NXDOMAIN or no records)
DMARC_MAX_QUERIES = 8  # RFC 9989: the DMARC tree walk asks at most this many names

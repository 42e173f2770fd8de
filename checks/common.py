"""What the pillars share: the documents several of them cite, and how they read fact times.

One spelling per document keeps references comparable across pillars (a report can group
findings by reference) and lets a reviewer update an edition in one place.
"""

from __future__ import annotations

from scanner.times import parse_rfc3339

# documents cited by more than one pillar (the catalogue's pillars cite common.toml [documents])
INTERNET_NL = "internet.nl"


parse_time = parse_rfc3339  # RFC 3339 as the probes write it ("Z" or an offset); ValueError otherwise

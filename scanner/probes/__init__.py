"""Probes: all network I/O. One sub-package per protocol, the shared infrastructure here.

`net` is the one door every socket opens through (scope, SSRF guard, caps, rate limit,
the audit record), `resolver` the one resolver, `context` what every probe receives, and
`registry` the table of probes the runner loops over (built-ins plus the `bolwerk.probes`
entry points).
"""

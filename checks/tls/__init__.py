"""TLS pillar, by concern: what the server accepts (`protocol`: versions, suites, groups, key
exchange), how it behaves (`behaviour`: suite order, compression, renegotiation, Extended
Master Secret, fallback protection, ALPN, resumption, 0-RTT, encrypt-then-MAC, reused
ephemeral keys) and which known attacks apply (`attacks`: the active tests and the verdicts
derived from what was measured).

The part-two verdicts are shared with the mail pillar: each is one function of a `TlsView`
(`view`), judged for an HTTPS endpoint here and for every MX after STARTTLS in checks/mail/mx.py.
"""

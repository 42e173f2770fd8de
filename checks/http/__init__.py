"""HTTP pillar: HTTPS enforcement (as pshtt), HSTS, CSP rule by rule, the other security
headers, cookies and CORS, page hygiene (SRI, mixed content), security.txt, address parity;
one module per concern, their texts in checks/texts/http.toml.

Every check is a pure function of the endpoint's facts (scanner/probes/http.py explains
them). Which response is judged: HSTS on the endpoint's first HTTPS response; headers,
cookies and page facts on the last response still on the endpoint's own host. A chain
that leaves for another host (a central login page) is reported by `http.chain` and that
host is judged as its own endpoint, never blamed on this one.

Checks that find several problems (CSP rules, cookies, security.txt format) give one
finding per failed rule, distinguished by `key=`, with the directive or item quoted;
when nothing fails they give a single pass.
"""

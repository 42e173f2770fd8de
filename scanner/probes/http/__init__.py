"""HTTP probe: redirects hop by hop, headers, cookies, page facts, security.txt, parity."""

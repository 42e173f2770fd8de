"""Framework references (checks/data/controls.toml) stay true to the registry and the frameworks."""

from __future__ import annotations

from fnmatch import fnmatchcase

import pytest

from checks.controls import DATA, control_map
from checks.registry import default_registry

REGISTRY = default_registry()


def test_every_mapping_key_matches_a_registered_check():
    for pattern in control_map().checks:
        assert any(fnmatchcase(c.id, pattern) for c in REGISTRY), f"controls.toml: {pattern!r} matches no check"


def test_every_reference_a_check_carries_is_declared():
    cmap = control_map()
    for chk in REGISTRY:
        for ref in chk.controls:
            assert cmap.title(ref), f"{chk.id}: {ref} is not declared in controls.toml"


def test_core_checks_evidence_nist_csf_controls():
    assert "NIST-CSF-2.0:PR.DS-02" in REGISTRY["tls.protocol.tls10"].controls
    assert "NCSC-NL-TLS-2025:versie" in REGISTRY["tls.protocol.tls10"].controls
    assert "Mozilla-Observatory:strict-transport-security" in REGISTRY["http.hsts"].controls
    assert "NIST-CSF-2.0:ID.RA-08" in REGISTRY["http.security_txt"].controls
    assert "NIST-CSF-2.0:PR.AA-03" in REGISTRY["certificate.hostname"].controls
    mapped = [c for c in REGISTRY if any(r.startswith("NIST-CSF-2.0:") for r in c.controls)]
    assert len(mapped) >= len(REGISTRY) * 0.8


def test_a_check_lists_each_reference_once():
    for chk in REGISTRY:
        assert len(chk.controls) == len(set(chk.controls)), chk.id


@pytest.mark.parametrize("text,message", [
    ('[checks]\n"tls.*" = ["NIST-CSF-2.0:PR.XX-99"]\n', "not a declared FRAMEWORK:CONTROL"),
    ('[framework.X]\ntitle = "x"\n', "needs a title and a controls table"),
    ('[checks]\n"tls.*" = "NIST"\n', "must be an array"),
    ('[extra]\n', "unknown section"),
])
def test_mistakes_in_the_mapping_are_reported(tmp_path, text, message):
    path = tmp_path / "controls.toml"
    frameworks = DATA.read_text(encoding="utf-8").split("\n[checks]\n")[0] + "\n"
    path.write_text(frameworks + text if text.startswith("[checks]") else text, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        control_map.__wrapped__(path)

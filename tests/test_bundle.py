"""The bundle folder reader: what it finds, and clear errors for what is not a bundle."""

from __future__ import annotations

import json

import pytest

from monitorlens.errors import InputError
from monitorlens.read.bundle import is_bundle, open_bundle


def test_finds_the_parts_present(tmp_path) -> None:
    (tmp_path / "monitor.txt").write_bytes(b"OK\n")
    (tmp_path / "connections.csv").write_text("1795000000,3\n")
    (tmp_path / "server.json").write_text(json.dumps(
        {"format": "monitorlens-capture/1", "maxclients": 128, "version": "7.0.15",
         "capture": {"stop": {"reason": "duration"}}}))  # fmt: skip
    b = open_bundle(tmp_path)
    assert is_bundle(tmp_path) and b.monitor == tmp_path / "monitor.txt" and b.clients is None
    assert (b.maxclients, b.version, b.stop_reason) == (128, "7.0.15", "duration")


def test_not_a_bundle(tmp_path) -> None:
    assert not is_bundle(tmp_path)
    with pytest.raises(InputError, match="no bundle files"):
        open_bundle(tmp_path)
    (tmp_path / "server.json").write_text("{not json")
    with pytest.raises(InputError, match="cannot be read as JSON"):
        open_bundle(tmp_path)
    (tmp_path / "server.json").write_text('{"format": "other"}')
    with pytest.raises(InputError, match="not a capture's server.json"):
        open_bundle(tmp_path)

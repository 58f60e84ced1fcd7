"""The lint configuration keeps up with the code: mypy's strict list covers the whole public API."""

from __future__ import annotations

import tomllib
from pathlib import Path

import monitorlens

ROOT = Path(__file__).resolve().parents[1]


def _strict_modules() -> set[str]:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]
    return {m for o in config["overrides"] if o.get("disallow_untyped_defs") for m in o["module"]}


def test_every_public_name_is_checked_strictly():
    """A module that defines or re-exports a name of ``monitorlens._EXPORTS`` is in the strict
    override of pyproject.toml (add it there when exporting a name from a new module)."""
    strict = _strict_modules()
    public = {"monitorlens"}
    for name, where in monitorlens._EXPORTS.items():
        public.add(f"monitorlens.{where.partition(':')[0]}")
        public.add(getattr(monitorlens, name).__module__)
    assert not public - strict, f"public modules not in mypy's strict list: {sorted(public - strict)}"
    assert not strict - public, f"strict modules that export nothing public: {sorted(strict - public)}"

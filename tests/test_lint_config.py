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


def test_ci_runs_the_readme_test_command():
    """.ci/run runs the linters and the tests exactly as README's test command says, in its order."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    line = next(x for x in readme.splitlines() if "python -m pytest -q" in x and "pip install" in x)
    readme_steps = [s.strip() for s in line.split("&&") if s.strip().startswith("python -m ")]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    ci_steps = [s for s in ci if s.startswith("python -m ") and "pip install" not in s]
    assert readme_steps == ci_steps
    assert [s.split()[2] for s in ci_steps] == ["ruff", "mypy", "pytest"]

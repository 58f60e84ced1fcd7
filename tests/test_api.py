"""The public API in monitorlens/__init__.py: every name resolves, old names still work (one
release, each listed in CHANGELOG), type checkers see the same names, and the verbs stay one
per stage."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import monitorlens

ROOT = Path(__file__).resolve().parents[1]
INIT = ROOT / "monitorlens" / "__init__.py"


@pytest.mark.parametrize("name", sorted(set(monitorlens.__all__) - {"__version__"}))
def test_every_exported_name_resolves(name: str) -> None:
    assert getattr(monitorlens, name) is not None


def test_old_names_are_the_new_objects_and_in_the_changelog() -> None:
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    aliases = monitorlens._ALIASES
    assert aliases  # the walk below checks something
    for old, new in aliases.items():
        assert old not in monitorlens.__all__ and new in monitorlens.__all__
        assert getattr(monitorlens, old) is getattr(monitorlens, new), old
        assert f"`{old}`" in changelog, f"CHANGELOG does not say that {old} became {new}"


def test_type_checkers_see_every_public_and_old_name() -> None:
    """The `if TYPE_CHECKING:` imports name exactly the exports and their old names."""
    tree = ast.parse(INIT.read_text(encoding="utf-8"))
    block = next(node for node in tree.body if isinstance(node, ast.If)
                 and isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING")
    seen = {alias.asname or alias.name for node in block.body if isinstance(node, ast.ImportFrom)
            for alias in node.names}
    assert seen == (set(monitorlens.__all__) - {"__version__"}) | set(monitorlens._ALIASES)


def test_one_verb_per_stage() -> None:
    """Findings are found (find_*), charts are plotted or charted (plot_*/chart_*): no exported
    function is named for its result the other way round (client_findings, clientlist_plot)."""
    backwards = [name for name in monitorlens.__all__
                 if re.fullmatch(r"(?!make_|find_|plot_|chart_)\w+_(findings|plot|chart)", name)]
    assert not backwards


def test_thresholds_are_keyword_only() -> None:
    """A public function that takes thresholds takes them by keyword (``thresholds=``), so a
    positional argument can never be read as another threshold object or a count."""
    import inspect

    from monitorlens.render import plots

    public = [getattr(monitorlens, name) for name in monitorlens.__all__ if name != "__version__"]
    public += [getattr(plots.clientlist, name) for name in plots.clientlist.__all__]
    checked = 0
    for value in public:
        if not callable(value) or inspect.isclass(value):
            continue
        for p in inspect.signature(value).parameters.values():
            if "thresholds" in p.name:
                checked += 1
                assert p.kind is p.KEYWORD_ONLY, f"{value.__qualname__}({p.name}) is not keyword-only"
    assert checked >= 8  # find_in_clientlist, find_in_connection_counts, the charts...

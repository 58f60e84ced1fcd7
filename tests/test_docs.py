"""README names every command of the CLI and every flag of every command.

The commands and flags are read from `cli.build_parser()`, so a new command or flag fails this
test until README names it. A command counts as named in `monitorlens CMD` or in a code span
that starts with it (`CMD` or `CMD URL -o ...`). A flag counts as named when README has it as
a whole word anywhere, also in a shared sentence ("`summary`, `report` and `plot` share the
filters `--since/--until`"); a flag with a short and a long spelling is named by either.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator
from pathlib import Path

from monitorlens import cli

README = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")


def commands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """Every (sub)command as (names from the top, its parser), the top-level parser first."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from commands(sub, (*path, name))


def flags(parser: argparse.ArgumentParser) -> Iterator[tuple[str, ...]]:
    """The spellings of each optional argument of one parser (help left out)."""
    for action in parser._actions:
        if action.option_strings and not isinstance(action, argparse._HelpAction):
            yield tuple(action.option_strings)


def named(word: str) -> bool:
    """README has `word` as a whole word: not inside `--since-x` nor `x--since`."""
    return re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", README) is not None


def test_the_parser_is_walked() -> None:
    """The walk finds what is known to be there, so an empty walk cannot pass the tests below."""
    found = {path: [s for spellings in flags(p) for s in spellings] for path, p in commands(cli.build_parser())}
    assert {("ingest",), ("summary",), ("report",), ("plot",), ("sample",)} <= set(found)
    assert "--since" in found[("summary",)] and "--format" in found[("report",)]


def test_readme_names_every_command() -> None:
    missing = [
        " ".join(path)
        for path, _ in commands(cli.build_parser())
        if path and not re.search(rf"monitorlens {re.escape(' '.join(path))}\b|`{re.escape(path[-1])}[` ]", README)
    ]
    assert not missing, f"README does not name these commands (as `monitorlens CMD`, `CMD` or `CMD ...`): {missing}"


def test_readme_names_every_flag_of_every_command() -> None:
    missing = [
        f"{' '.join(path) or 'monitorlens'} {'/'.join(spellings)}"
        for path, parser in commands(cli.build_parser())
        for spellings in flags(parser)
        if not any(named(s) for s in spellings)
    ]
    assert not missing, f"README does not name these flags: {missing}"


def test_readme_names_every_choice_and_chart_kind() -> None:
    """The values a flag takes (`--format html|md|json`) and the charts `plot KIND` draws."""
    from monitorlens.render.plots import CLIENTLIST_CHARTS, MONITOR_CHARTS

    values = {f"{' '.join(path)} {action.option_strings[0]} {choice}"
              for path, parser in commands(cli.build_parser()) for action in parser._actions
              if action.option_strings and action.choices for choice in action.choices}
    values |= {f"plot {kind}" for kind in [*MONITOR_CHARTS, *CLIENTLIST_CHARTS]}
    missing = sorted(v for v in values if not named(v.rsplit(" ", 1)[1]))
    assert not missing, f"README does not name these values: {missing}"


def test_named_needs_the_whole_flag() -> None:
    assert named("--since") and named("--until")  # "--since/--until"
    assert not named("--show") and not named("--base")  # only --show-values, --baseline are there

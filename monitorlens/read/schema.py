"""Column names and types of every table monitorlens produces, in one place.

MONITOR events (one row per command line of a capture):

=============  ==========================  ==============================================
column         pandas dtype                meaning
=============  ==========================  ==============================================
line           int64                       1-based line number in the source
ts             datetime64[us, UTC]         the timestamp printed, exact to the microsecond
db             Int32                       database index (null for 2.4 lines, which have none)
client         category                    the source exactly as printed: ``127.0.0.1:57562``,
                                           ``[::1]:47068``, ``unix:/run/redis.sock``, ``lua``,
                                           or empty for module clients
client_kind    category                    tcp, tcp6, unix, lua, module
host           category                    host part of tcp/tcp6 sources (no brackets)
port           Int32                       port of tcp/tcp6 sources
command        category                    command name, upper-cased (``GET``)
subcommand     category                    subcommand of container commands (``SETNAME``)
args           list<binary> (ArrowDtype)   every argument after the command name, exact bytes
nargs          int32                       number of arguments after the command name
arg_bytes      int64                       total bytes of those arguments
key            str                         first key (UTF-8; undecodable bytes as ``\\xHH``)
keys           list<string> (ArrowDtype)   every key, found with Redis's key specifications
key_rule       category                    spec (Redis key specs), proc (Redis's own key finder,
                                           where its specs are incomplete: SORT, MIGRATE),
                                           none (takes no key), first-arg (unknown command:
                                           first argument assumed)
=============  ==========================  ==============================================

In Parquet, each key's bytes are stored once (no ``key``, null ``args`` where ``keys`` holds
them): see :mod:`monitorlens.read.layout`.

Rejected lines (``monitorlens.rejects(df)``, a DataFrame): ``line`` int64, ``reason`` str, ``text`` str
(the raw line, undecodable bytes as ``\\xHH``, cut at 300 characters).
"""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Mapping

import pyarrow as pa

from .. import __version__

if TYPE_CHECKING:
    import pandas as pd

CLIENT_KINDS = ("tcp", "tcp6", "unix", "lua", "module")
KEY_RULES = ("spec", "proc", "none", "first-arg")

_dict = pa.dictionary(pa.int32(), pa.string())

MONITOR_SCHEMA = pa.schema(
    [
        ("line", pa.int64()),
        ("ts", pa.timestamp("us", tz="UTC")),
        ("db", pa.int32()),
        ("client", _dict),
        ("client_kind", _dict),
        ("host", _dict),
        ("port", pa.int32()),
        ("command", _dict),
        ("subcommand", _dict),
        ("args", pa.list_(pa.binary())),
        ("nargs", pa.int32()),
        ("arg_bytes", pa.int64()),
        ("key", pa.string()),
        ("keys", pa.list_(pa.string())),
        ("key_rule", _dict),
    ]
)
MONITOR_COLUMNS = tuple(MONITOR_SCHEMA.names)

REJECTS_SCHEMA = pa.schema([("line", pa.int64()), ("reason", pa.string()), ("text", pa.string())])
REJECT_TEXT_MAX = 300
META_KEY = b"monitorlens"  # the Parquet metadata key that holds a Provenance, as JSON


def _types_mapper(t: pa.DataType) -> pd.api.extensions.ExtensionDtype | None:
    import pandas as pd

    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return pd.ArrowDtype(t)
    if t == pa.int16():
        return pd.Int16Dtype()
    if t == pa.int32():
        return pd.Int32Dtype()
    return None


def table_to_frame(table: pa.Table) -> pd.DataFrame:
    """An Arrow table of events (or rejects) as a DataFrame with the dtypes above."""
    df = table.to_pandas(types_mapper=_types_mapper)
    for name in ("line", "arg_bytes"):
        if name in df.columns:
            df[name] = df[name].astype("int64")
    if "nargs" in df.columns:
        df["nargs"] = df["nargs"].astype("int32")
    return df


def empty_events() -> pd.DataFrame:
    """A DataFrame with the event columns and no rows."""
    return table_to_frame(MONITOR_SCHEMA.empty_table())


@dataclass(frozen=True)
class Provenance:
    """What was read to make a table: kept in ``df.attrs["provenance"]`` and in Parquet metadata.

    ``rejected`` counts lines that should have been events and were not
    (truncated, garbage...); ``skipped`` counts what redis-cli prints around a
    capture (its ``OK``, blank lines). ``rejects`` keeps the rejected lines
    themselves (at most ``REJECTS_KEPT``; the counts are always complete).
    """

    source: str
    kind: str = "monitor"
    lines: int = 0
    events: int = 0
    rejected: int = 0
    rejects_by_reason: Mapping[str, int] = field(default_factory=dict)
    skipped: Mapping[str, int] = field(default_factory=dict)
    first_ts: str | None = None
    last_ts: str | None = None
    dialects: Mapping[str, int] = field(default_factory=dict)
    input_truncated: bool = False
    monitorlens_version: str = ""
    rejects: tuple[tuple[int, str, str], ...] = ()  # (line, reason, text)

    def __deepcopy__(self, memo: dict[int, Any]) -> "Provenance":
        # pandas deep-copies attrs on every operation; this value never changes.
        return self

    def to_metadata(self) -> dict[bytes, bytes]:
        """The Parquet metadata entry that keeps this provenance (rejects included)."""
        doc = self.to_dict() | {"rejects": [list(r) for r in self.rejects]}
        return {META_KEY: json.dumps(doc, sort_keys=True).encode()}

    @classmethod
    def from_metadata(cls, metadata: Mapping[bytes, bytes] | None) -> "Provenance | None":
        """The provenance kept in Parquet metadata by :meth:`to_metadata`, or None."""
        raw = (metadata or {}).get(META_KEY)
        if not raw:
            return None
        doc = json.loads(raw)
        rows = tuple(tuple(r) for r in doc.pop("rejects", []))
        fields = set(cls.__dataclass_fields__) - {"rejects"}
        return cls(**{k: v for k, v in doc.items() if k in fields}, rejects=rows)

    @classmethod
    def counted(
        cls,
        source: str,
        kind: str,
        *,
        lines: int,
        events: int,
        reasons: Mapping[str, int],
        ignorable: Collection[str],
        first_ts: str | None,
        last_ts: str | None,
        dialects: Mapping[str, int] | None = None,
        input_truncated: bool = False,
        rejects: Iterable[tuple[int, str, str]] = (),
    ) -> "Provenance":
        """What a reader saw, from its counts of bad lines by reason: ``ignorable`` reasons
        (what redis-cli prints around a capture) are skipped, every other one rejected."""
        rejected = {r: c for r, c in sorted(reasons.items()) if r not in ignorable}
        return cls(
            source=source,
            kind=kind,
            lines=lines,
            events=events,
            rejected=sum(rejected.values()),
            rejects_by_reason=rejected,
            skipped={r: c for r, c in sorted(reasons.items()) if r in ignorable},
            first_ts=first_ts,
            last_ts=last_ts,
            dialects={k: v for k, v in sorted((dialects or {}).items()) if v},
            input_truncated=input_truncated,
            monitorlens_version=__version__,
            rejects=tuple(rejects),
        )

    @classmethod
    def combined(cls, provs: Sequence["Provenance"], source: str | None = None) -> "Provenance":
        """One provenance for several reads (files, or pieces of one): counts summed, the time
        range spanning them all. Rejects of several sources start with their source's name,
        since line numbers are per source."""
        if len(provs) == 1:
            return provs[0]
        if not provs:
            return cls(source=source or "<none>")
        tagged = len({p.source for p in provs}) > 1
        firsts = [p.first_ts for p in provs if p.first_ts]
        lasts = [p.last_ts for p in provs if p.last_ts]
        return cls(
            source=source or ", ".join(dict.fromkeys(p.source for p in provs)),
            kind=provs[0].kind,
            lines=sum(p.lines for p in provs),
            events=sum(p.events for p in provs),
            rejected=sum(p.rejected for p in provs),
            rejects_by_reason=_summed(p.rejects_by_reason for p in provs),
            skipped=_summed(p.skipped for p in provs),
            first_ts=min(firsts, key=dt.datetime.fromisoformat) if firsts else None,
            last_ts=max(lasts, key=dt.datetime.fromisoformat) if lasts else None,
            dialects=_summed(p.dialects for p in provs),
            input_truncated=any(p.input_truncated for p in provs),
            monitorlens_version=provs[0].monitorlens_version,
            rejects=tuple(
                (line, reason, f"{p.source}: {text}" if tagged else text) for p in provs for line, reason, text in p.rejects
            )[:REJECTS_KEPT],
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, without the rejects table."""
        return {
            "source": self.source,
            "kind": self.kind,
            "lines": self.lines,
            "events": self.events,
            "rejected": self.rejected,
            "rejects_by_reason": dict(self.rejects_by_reason),
            "skipped": dict(self.skipped),
            "first_ts": self.first_ts,
            "last_ts": self.last_ts,
            "dialects": dict(self.dialects),
            "input_truncated": self.input_truncated,
            "monitorlens_version": self.monitorlens_version,
        }


REJECTS_KEPT = 10_000


def _summed(counts: Iterable[Mapping[str, int]]) -> dict[str, int]:
    total: Counter[str] = Counter()
    for c in counts:
        total.update(c)
    return dict(sorted(total.items()))
ERRORS = ("skip", "raise")  # what a reader does with a bad line: count and keep it, or raise


def provenance(df: pd.DataFrame) -> Provenance:
    """The provenance of a table made by monitorlens (an empty one if it has none)."""
    p = df.attrs.get("provenance")
    return p if isinstance(p, Provenance) else Provenance(source="<unknown>")


def rejects(df: pd.DataFrame) -> pd.DataFrame:
    """The rejected lines of a table made by monitorlens: line, reason, text.

    >>> rejects(read_monitor("capture.txt")).reason.value_counts()  # doctest: +SKIP
    """
    return rejects_frame(provenance(df).rejects)


def rejects_frame(rows: tuple[tuple[int, str, str], ...] | list[tuple[int, str, str]]) -> pd.DataFrame:
    """The rejects table (columns line, reason, text) from (line, reason, text) tuples."""
    cols: list[Sequence[Any]] = list(zip(*rows)) if rows else [[], [], []]
    table = pa.table([pa.array(c, t.type) for c, t in zip(cols, REJECTS_SCHEMA)], schema=REJECTS_SCHEMA)
    return table_to_frame(table)

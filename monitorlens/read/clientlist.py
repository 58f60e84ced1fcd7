"""CLIENT LIST snapshots and connection-count logs: their grammar, and readers.

What people save during an incident (``/work/shared/docs/redis-formats.md`` section 2):

- ``redis-cli CLIENT LIST`` output, one client a line of ``key=value`` pairs, several
  snapshots in one file each preceded by a time line (``# 1795634812.426001`` or an ISO
  time), or one snapshot a file with the time in the file name (``clients_1702293847.txt``);
- ``<epoch>,<clients>`` rows from ``while true; do echo "$(date +%s),$(redis-cli CLIENT LIST
  | wc -l)"; sleep 5; done`` (header optional; ``clients`` counts the redis-cli itself);
- ``uniq -c`` counts per name (``connections_by_app_<epoch>.txt``: ``     12 name=web``).

Grammar functions here take ``str``/``bytes`` and do no I/O; the readers open files only
through :func:`monitorlens.read.files.open_binary`.

Columns of :func:`read_client_list` (one row per client per snapshot):

=================  ====================  =================================================
column             dtype                 meaning
=================  ====================  =================================================
snapshot           int64                 0-based number of the snapshot in the file
snapshot_ts        datetime64[us, UTC]   time of the snapshot (NaT when nothing says it)
line               int64                 1-based line number of the client in the file
id ... capa        Int64 / str           every field of :data:`FIELDS`, ``-`` written ``_``
                                         (``qbuf_free``, ``tot_mem``, ``lib_name``...);
                                         null when the server version does not write it
<unknown fields>   str                   fields not in :data:`FIELDS`, kept as text
addr_kind          str                   tcp, tcp6 or unix
host, port         str, Int64            host (no brackets) and port of tcp/tcp6 clients;
                                         the socket path of unix clients
monitor_source     str                   the client as MONITOR names it: ``127.0.0.1:5``,
                                         ``[::1]:5``, ``unix:/path/redis.sock``
client_type        str                   monitor, master, replica, pubsub or normal
flag_monitor ...   boolean               one column per flag letter (:data:`FLAGS`)
=================  ====================  =================================================

Bad lines are counted and kept in ``df.attrs["provenance"]``
(:class:`monitorlens.read.schema.Provenance`, as for MONITOR captures): read them with
``monitorlens.read.schema.rejects(df)`` (columns line, reason, text). ``errors="raise"`` raises
:class:`~monitorlens.errors.ParseError` at the first one instead.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections import Counter
from dataclasses import replace
from collections.abc import Iterable, Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import InputError, ParseError
from .grammar import (
    BLANK,
    CLI_MESSAGE,
    CLI_MESSAGES,
    NOT_TEXT,
    TRUNCATED,
    UNRECOGNIZED,
    Rejected,
)
from .files import KIND_NAMES, BlockReader, ByteStream, Input, Source, is_parquet, open_binary, read_parquet_table, source_name
from .parse import reject_text
from .schema import ERRORS, REJECTS_KEPT, Provenance, provenance
from .sniff import client_start

# Reasons of this module (the MONITOR ones are imported from grammar so both agree).
BAD_VALUE = "bad-value"  # a numeric field whose value is not a number
BAD_TIMESTAMP = "bad-timestamp"  # a '#' line with digits that is not a time we know
BAD_ROW = "bad-row"  # a count file's row that is not <time>,<count> / <count> <value>
COMMENT = "comment"  # a '#' line without digits: a remark, not data
HEADER = "header"  # the first row of a CSV naming its columns
INPUT_TRUNCATED = "input-truncated"  # a gzip stream cut short
INCOMPLETE = "incomplete"  # a client line whose end is missing (wrapped or cut by a paste)
SNAPSHOT_TIME = "snapshot-time"  # the time line that starts a snapshot: read, not a client
CLIENTLIST_IGNORABLE = frozenset({BLANK, COMMENT, HEADER, SNAPSHOT_TIME})  # counted as skipped, not rejected

INT, STR = "int", "str"
# Every field of every Redis/Valkey version (redis-formats.md section 2), in the order
# Redis writes them. Sizes in bytes, age and idle in seconds; multi/redir are -1 unused.
FIELDS: dict[str, str] = {
    "id": INT, "addr": STR, "laddr": STR, "fd": INT, "name": STR, "age": INT, "idle": INT,
    "flags": STR, "capa": STR, "db": INT, "sub": INT, "psub": INT, "ssub": INT, "multi": INT,
    "watch": INT, "qbuf": INT, "qbuf-free": INT, "argv-mem": INT, "multi-mem": INT, "rbs": INT,
    "rbp": INT, "obl": INT, "oll": INT, "omem": INT, "tot-mem": INT, "events": STR, "cmd": STR,
    "user": STR, "redir": INT, "resp": INT, "lib-name": STR, "lib-ver": STR, "io-thread": INT,
    "tot-net-in": INT, "tot-net-out": INT, "tot-cmds": INT,
}  # fmt: skip

# Flag letters in the order Redis writes them, and the boolean column of each.
FLAGS: dict[str, str] = {
    "O": "flag_monitor",
    "S": "flag_replica",
    "M": "flag_master",
    "P": "flag_pubsub",
    "x": "flag_multi",
    "b": "flag_blocked",
    "t": "flag_tracking",
    "R": "flag_tracking_redirect_broken",
    "B": "flag_tracking_broadcast",
    "d": "flag_watched_key_changed",
    "c": "flag_close_after_reply",
    "u": "flag_unblocked",
    "A": "flag_close_asap",
    "U": "flag_unix_socket",
    "r": "flag_readonly",
    "e": "flag_no_evict",
    "T": "flag_no_touch",
}
CLIENT_TYPES = ("normal", "replica", "master", "pubsub", "monitor")

def column_name(field: str) -> str:
    """The DataFrame column of a CLIENT LIST field: ``-`` becomes ``_``.

    >>> column_name("qbuf-free")
    'qbuf_free'
    """
    return field.replace("-", "_")


# --------------------------------------------------------------------------- grammar


def split_pairs(text: str) -> list[tuple[str, str]] | None:
    """The ``key=value`` pairs of a CLIENT LIST line, or None when it does not start with one.

    Each token is split on its first ``=`` (a name may contain ``=``); a token without
    ``=`` continues the value before it, after the space that split it (a unix socket
    path may contain spaces).

    >>> split_pairs("id=3 addr=/tmp/my dir/r.sock:0 name=a=b")
    [('id', '3'), ('addr', '/tmp/my dir/r.sock:0'), ('name', 'a=b')]
    """
    pairs: list[list[str]] = []
    for token in text.split(" "):
        key, eq, value = token.partition("=")
        if eq and key:
            pairs.append([key, value])
        elif pairs:
            pairs[-1][1] += " " + token
        else:
            return None
    return [(k, v) for k, v in pairs]


def parse_client_line(line: bytes | str) -> dict[str, int | str] | Rejected:
    """One CLIENT LIST line as ``{field: value}``, numbers as ``int``; or why it is not one.

    Unknown fields are kept as text. Invalid UTF-8 is kept as ``\\xHH``.

    >>> parse_client_line(b"id=7 addr=[::1]:5 name= age=12 flags=O omem=0")["age"]
    12
    >>> parse_client_line(b"id=7 age=x").reason
    'bad-value'
    """
    text = _text(line)
    if not text.strip():
        return Rejected(BLANK)
    pairs = split_pairs(text)
    if not pairs or pairs[0][0] not in ("id", "addr"):
        return _not_a_client(text)
    out: dict[str, int | str] = {}
    for key, value in pairs:
        if FIELDS.get(key) == INT:
            try:
                out[key] = int(value)
            except ValueError:
                return Rejected(BAD_VALUE, f"{key}={value!r} is not a number")
        else:
            out[key] = value
    return out


def _text(line: bytes | str) -> str:
    if isinstance(line, str):
        return line.rstrip("\r\n")
    return line.rstrip(b"\r\n").decode("utf-8", "backslashreplace")


def _not_a_client(text: str) -> Rejected:
    if text.encode("utf-8", "surrogateescape").startswith(CLI_MESSAGES):
        return Rejected(CLI_MESSAGE, "a message from redis-cli, not a client")
    if re.search(r"[\x00-\x08\x0b-\x1f\x7f]", text):
        return Rejected(NOT_TEXT, "control bytes: not CLIENT LIST text")
    return Rejected(UNRECOGNIZED, "not a CLIENT LIST line (they start with id= or addr=)")


_EPOCH = re.compile(r"(\d{9,10})(?:\.(\d{1,9}))?|(\d{13})")  # seconds[.frac] or milliseconds
_ISO = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
_DATE_CMD = re.compile(r"[A-Z][a-z]{2},? +[A-Z][a-z]{2} +\d{1,2} +\d{2}:\d{2}:\d{2}")  # `date`


def parse_time(text: str) -> int | None:
    """Microseconds since the epoch for an epoch (s or ms) or an ISO / ``date`` time, else None.

    A time without a zone is taken as UTC.

    >>> parse_time("1795634812.426001")
    1795634812426001
    >>> parse_time("2026-11-25T21:26:52+01:00")
    1795638412000000
    """
    text = text.strip()
    if m := _EPOCH.fullmatch(text):
        if m.group(3):
            return int(m.group(3)) * 1000
        frac = (m.group(2) or "").ljust(6, "0")[:6]
        return int(m.group(1)) * 1_000_000 + int(frac)
    if not (_ISO.match(text) or _DATE_CMD.match(text)):
        return None
    try:
        ts = pd.Timestamp(text.replace(" UTC ", " ").replace(" GMT ", " "))
    except (ValueError, OverflowError):
        return None
    if ts is pd.NaT:
        return None
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return int(ts.value) // 1000  # Timestamp.value is in nanoseconds


def parse_time_line(line: bytes | str) -> int | None | Rejected:
    """The time of a snapshot header line (``# <time>`` or a bare time), None if not one.

    A ``#`` line with digits that is no time is rejected (``bad-timestamp``); one without
    digits is a remark (``comment``).

    >>> parse_time_line("# 1795634812.426001")
    1795634812426001
    >>> parse_time_line("id=3 addr=1.2.3.4:5") is None
    True
    """
    text = _text(line).strip()
    if text.startswith("#"):
        body = text.lstrip("#").strip()
        us = parse_time(body)
        if us is not None:
            return us
        if re.search(r"\d", body):
            return Rejected(BAD_TIMESTAMP, "a '#' line that is not a time monitorlens reads")
        return Rejected(COMMENT)
    if text[:1].isdigit() or _DATE_CMD.match(text):
        return parse_time(text)
    return None


_NAME_EPOCH = re.compile(r"(?<!\d)(\d{10})(?:\.(\d{1,6}))?(?!\d)")
_NAME_ISO = re.compile(r"(?<!\d)(\d{4})-?(\d{2})-?(\d{2})[T_-]?(\d{2}):?(\d{2}):?(\d{2})(?!\d)")


def time_from_name(name: str) -> int | None:
    """Microseconds since the epoch from a file name's epoch or ISO-like time, else None.

    >>> time_from_name("/var/log/clients_1702293847.txt.gz")
    1702293847000000
    >>> time_from_name("clients-20231211T103047Z.txt")
    1702290647000000
    """
    base = os.path.basename(name)
    if m := _NAME_EPOCH.search(base):
        return int(m.group(1)) * 1_000_000 + int((m.group(2) or "").ljust(6, "0"))
    if m := _NAME_ISO.search(base):
        try:
            year, month, day, hour, minute, second = map(int, m.groups())
            t = dt.datetime(year, month, day, hour, minute, second, tzinfo=dt.timezone.utc)
        except ValueError:
            return None
        return int(t.timestamp()) * 1_000_000
    return None


def parse_flags(flags: str) -> dict[str, bool]:
    """The flag columns of a ``flags=`` value (unknown letters are left in ``flags``).

    >>> parse_flags("Ob")["flag_blocked"], parse_flags("N")["flag_monitor"]
    (True, False)
    """
    return {column: letter in flags for letter, column in FLAGS.items()}


def client_type(flags: str, subscriptions: int = 0) -> str:
    """The CLIENT KILL TYPE of a client: monitor, master, replica, pubsub or normal.

    ``subscriptions`` is ``sub + psub + ssub``: before 5.0 no flag said "subscriber"
    (the ``P`` flag came in 5.0), so a client with subscriptions is one.

    >>> client_type("P"), client_type("O"), client_type("N", subscriptions=1)
    ('pubsub', 'monitor', 'pubsub')
    """
    for letter, kind in (("O", "monitor"), ("M", "master"), ("S", "replica"), ("P", "pubsub")):
        if letter in flags:
            return kind
    return "pubsub" if subscriptions > 0 else "normal"


def addr_parts(addr: str, unix: bool = False) -> tuple[str, str, int | None, str]:
    """``(addr_kind, host, port, monitor_source)`` of a CLIENT LIST ``addr``.

    CLIENT LIST writes IPv6 as ``[::1]:port`` (checked on redis 7.0) and a unix client as
    ``<socket path>:0`` (Valkey 8 and later: ``[<socket path>:0]:0``), which MONITOR writes
    ``unix:<socket path>``. ``unix`` says the client has flag ``U``; a path starting with
    ``/`` is taken as unix without it.

    >>> addr_parts("[::1]:47068")
    ('tcp6', '::1', 47068, '[::1]:47068')
    >>> addr_parts("/run/redis.sock:0", unix=True)
    ('unix', '/run/redis.sock', 0, 'unix:/run/redis.sock')
    >>> addr_parts("[/run/redis.sock:0]:0")
    ('unix', '/run/redis.sock', 0, 'unix:/run/redis.sock')
    """
    host, _, port = addr.rpartition(":")
    port_value = int(port) if port.isdigit() else None
    if host.startswith("[/") and host.endswith("]"):  # Valkey 8+: [<socket path>:0]:0
        host, unix = _unbracket_unix(host), True
    if unix or (host.startswith("/") and port == "0"):
        return "unix", host, port_value, "unix:" + host
    if host.startswith("[") and host.endswith("]"):
        return "tcp6", host[1:-1], port_value, addr
    if ":" in host:  # IPv6 written without brackets (very old servers)
        return "tcp6", host, port_value, addr
    return "tcp", host or addr, port_value, addr


def _unbracket_unix(host: str) -> str:
    """``[/run/redis.sock:0]`` (Valkey 8+) -> ``/run/redis.sock``."""
    inner = host[1:-1]
    path, _, port = inner.rpartition(":")
    return path if path and port.isdigit() else inner


# -------------------------------------------------------------------------- reading


class _Lines:
    """Numbered lines of a binary file: ``(number, bytes without \\n, ended_by_newline)``.

    A line longer than ``MAX_LINE`` is not kept: it is counted in ``rejects``.
    """

    MAX_LINE = 1 << 20  # a CLIENT LIST line is a few hundred bytes

    def __init__(self, f: ByteStream, rejects: _Rejects) -> None:
        # Small blocks: a gzip stream cut short loses at most one block of lines.
        self.reader = BlockReader(256 << 10, max_line=self.MAX_LINE)
        self.f = f
        self.rejects = rejects
        self.count = 0

    def __iter__(self) -> Iterator[tuple[int, bytes, bool]]:
        for longs, block in self.reader.pieces(self.f):
            for long in longs:
                self.count += 1
                self.rejects.add(self.count, Rejected(long.reason, long.detail), long.start)
            parts = block.split(b"\n")
            last = parts.pop()
            for part in parts:
                self.count += 1
                yield self.count, part, True
            if last:
                self.count += 1
                yield self.count, last, False


class _Rejects:
    """Counts and keeps bad lines; with ``errors="raise"``, :meth:`finish` raises for the first.

    A reader may find bad lines out of order (a fast pass, then a slow one), so the
    raise waits for the end of the input and names the earliest line.
    """

    def __init__(self, name: str, errors: str) -> None:
        if errors not in ERRORS:
            raise InputError(f"errors={errors!r}: use 'skip' (count and keep bad lines) or 'raise'.")
        self.name = name
        self.errors = errors
        self.reasons: Counter[str] = Counter()
        self.kept: list[tuple[int, str, str]] = []
        self.first: tuple[int, Rejected, str] | None = None

    def add(self, line: int, rejected: Rejected, raw: bytes) -> None:
        self.reasons[rejected.reason] += 1
        if rejected.reason in CLIENTLIST_IGNORABLE:
            return
        text = reject_text(raw)
        if self.first is None or line < self.first[0]:
            self.first = (line, rejected, text)
        if len(self.kept) < REJECTS_KEPT:
            self.kept.append((line, rejected.reason, text))

    def finish(self, df: pd.DataFrame, kind: str, lines: int, ts_column: str, truncated: str | None) -> pd.DataFrame:
        """Put the provenance (with the rejects) in ``df.attrs``; return ``df``."""
        if truncated is not None:
            self.add(lines + 1, Rejected(INPUT_TRUNCATED, truncated), b"")
        if self.errors == "raise" and self.first is not None:
            line, why, text = self.first
            raise ParseError(why.reason, source=self.name, line=line, text=text, detail=why.detail)
        self.kept.sort()
        ts = df[ts_column].dropna() if ts_column in df.columns else pd.Series([], dtype=object)
        df.attrs["provenance"] = Provenance.counted(
            self.name,
            kind,
            lines=lines,
            events=len(df),
            reasons=self.reasons,
            ignorable=CLIENTLIST_IGNORABLE,
            first_ts=ts.min().isoformat() if len(ts) else None,
            last_ts=ts.max().isoformat() if len(ts) else None,
            input_truncated=truncated is not None,
            rejects=self.kept,
        )
        return df


def _stored(f: Input, kind: str) -> pd.DataFrame:
    """A Parquet file that ``monitorlens ingest`` wrote from a file of this kind, read back."""
    table, prov = read_parquet_table(f)
    if prov is None or prov.kind != kind:
        held = KIND_NAMES.get(prov.kind, prov.kind) if prov is not None else "no monitorlens provenance"
        raise InputError(f"{f.name}: this Parquet file holds {held}, not {KIND_NAMES[kind]}.")
    df = table.to_pandas()  # the dtypes written, from the pandas metadata
    df.attrs["provenance"] = prov
    return df


def _utc_us(values: list[int | None]) -> pd.Series:
    """A datetime64[us, UTC] Series from microseconds (None becomes NaT)."""
    nat = np.iinfo(np.int64).min
    arr = np.array([nat if v is None else v for v in values], dtype=np.int64).view("datetime64[us]")
    return pd.Series(arr).dt.tz_localize("UTC")


def read_client_list(source: Source, *, errors: str = "skip") -> pd.DataFrame:
    """Read CLIENT LIST snapshots: one row per client per snapshot (columns: module doc).

    A snapshot starts at each time line (``# <epoch>``, ``# <ISO time>`` or a bare one).
    Before the first time line the file name's time applies (``clients_1702293847.txt``).
    Without time lines, a client ``id`` listed twice starts a new snapshot (outputs of
    ``redis-cli CLIENT LIST >> file`` appended without times), whose time is unknown.
    An unterminated last line missing fields the line before has was cut: ``truncated``.

    >>> df = read_client_list("sample_captures/incident/clients.log.gz")  # doctest: +SKIP
    >>> df.groupby("snapshot_ts").size().tail(1)  # doctest: +SKIP
    """
    with open_binary(source) as f:
        if is_parquet(f):
            return _stored(f, "clients")
        return _read_client_list_text(f, errors)


def _read_client_list_text(source: Input, errors: str) -> pd.DataFrame:
    name = source_name(source)
    rejects = _Rejects(name, errors)
    found = _Found()
    snapshot, ts, started = 0, time_from_name(name), False
    seen: set[bytes] = set()
    with open_binary(source) as f:
        lines = _Lines(f, rejects)
        for number, raw, complete in lines:
            raw = raw.rstrip(b" \t\r")  # a paste's trailing spaces; a CRLF file
            at = client_start(raw)
            if at:
                raw = raw[at:]
            if at is not None and _incomplete(raw) and complete:
                rejects.add(number, Rejected(INCOMPLETE, "no cmd or omem field: the rest of the line is missing"), raw)
                continue
            if raw.startswith(b"id="):
                cid = raw[3 : raw.find(b" ")]
                if cid in seen:  # an id listed twice: the next snapshot
                    snapshot, ts, seen = snapshot + 1, None, set()
                seen.add(cid)
            elif not raw.startswith(b"addr="):
                header = parse_time_line(raw)
                if isinstance(header, int):
                    snapshot, ts, seen = snapshot + (1 if started else 0), header, set()
                    started = False
                    rejects.add(number, Rejected(SNAPSHOT_TIME), raw)  # counted among the skipped
                    continue
                rejected = header if header is not None else parse_client_line(raw)
                if isinstance(rejected, Rejected):
                    if not complete and rejected.reason != BLANK:
                        rejected = Rejected(TRUNCATED, "the last line ends early")
                    rejects.add(number, rejected, raw)
                    continue
            started = True
            found.add(raw, number, snapshot, ts, complete)
        truncated = lines.reader.error
    table = _client_table(found, rejects)
    return rejects.finish(_client_frame(table), "clients", lines.count, "snapshot_ts", truncated)


def _incomplete(fields: bytes) -> bool:
    """Whether a client line lacks what every server writes at its end: ``cmd`` (all
    versions), and ``omem`` where ``age`` says the server is 2.6 or later. A line cut
    there would hide a large output buffer.
    """
    if b" cmd=" not in fields:
        return True
    return b" age=" in fields and b" omem=" not in fields


class _Found:
    """The client lines of a file, with their line number, snapshot and time."""

    def __init__(self) -> None:
        self.raw: list[bytes] = []
        self.line: list[int] = []
        self.snapshot: list[int] = []
        self.ts: list[int | None] = []
        self.cut: int | None = None  # index of an unterminated last line

    def add(self, raw: bytes, line: int, snapshot: int, ts: int | None, complete: bool) -> None:
        if not complete:
            self.cut = len(self.raw)
        self.raw.append(raw)
        self.line.append(line)
        self.snapshot.append(snapshot)
        self.ts.append(ts)


MAX_LAYOUTS = 8  # distinct field layouts tried on the fast path (one per server version seen)


def _client_table(found: _Found, rejects: _Rejects) -> pa.Table:
    """Parse the client lines: a vectorized pass per field layout, then line by line for the rest.

    # Strategy: the lines of one server version list the same fields in the same order,
    # so one regex per layout, run by Arrow over every line, parses nearly all of them.
    # Lines it does not match (a unix path with spaces, a bad number, a cut last line)
    # go through :func:`parse_client_line`, which says what is wrong.
    """
    n = len(found.raw)
    binary = pa.array(found.raw, pa.binary())
    try:
        text = binary.cast(pa.string())
    except pa.ArrowInvalid:
        text = pa.array([_text(r) for r in found.raw], pa.string())
    pending = np.array([i for i in range(n) if i != found.cut], dtype=np.int64)
    parts: list[pa.Table] = []
    slow: list[int] = [] if found.cut is None else [found.cut]
    for _ in range(MAX_LAYOUTS):
        if not len(pending):
            break
        keys = [k for k, _ in split_pairs(_text(found.raw[pending[0]])) or []]
        matched = _match_layout(text.take(pa.array(pending)), keys) if len(set(keys)) == len(keys) else None
        if matched is None or not matched[0].any():
            slow.append(int(pending[0]))
            pending = pending[1:]
            continue
        ok, table = matched
        parts.append(table.append_column("_i", pa.array(pending[ok])))
        pending = pending[~ok]
    slow.extend(int(i) for i in pending)
    parts.append(_slow_table(sorted(slow), found, rejects))
    table = pa.concat_tables(parts, promote_options="default")
    table = table.take(pc.sort_indices(table.column("_i")))
    index = table.column("_i").to_numpy()
    extra = {
        "snapshot": pa.array(np.array(found.snapshot, dtype=np.int64)[index]),
        "snapshot_ts": pa.array([found.ts[i] for i in index], pa.int64()).cast(pa.timestamp("us", tz="UTC")),
        "line": pa.array(np.array(found.line, dtype=np.int64)[index]),
    }
    for position, (column, values) in enumerate(extra.items()):
        table = table.add_column(position, column, values)
    return table.drop_columns(["_i"])


def _match_layout(lines: pa.Array, keys: list[str]) -> tuple[np.ndarray, pa.Table] | None:
    """Which lines list exactly ``keys`` in this order (numbers where numbers go), and their values."""
    if not keys:
        return None
    tokens = pc.split_pattern(lines, " ")
    width = len(keys)
    ok = pc.equal(pc.list_value_length(tokens), width).to_numpy(zero_copy_only=False)
    rows = np.flatnonzero(ok)
    starts = tokens.offsets.to_numpy()[rows]
    flat = tokens.values
    values = {}
    for j, key in enumerate(keys):
        cell = flat.take(pa.array(starts + j))
        good = pc.starts_with(cell, key + "=")
        value = pc.utf8_slice_codeunits(cell, len(key) + 1)
        if FIELDS.get(key) == INT:
            good = pc.and_(good, pc.match_substring_regex(value, r"^-?\d{1,18}$"))
        ok[rows[~good.to_numpy(zero_copy_only=False)]] = False
        values[column_name(key)] = value
    keep = pa.array(ok[rows])
    columns = {
        name: (v.filter(keep).cast(pa.int64()) if FIELDS.get(key) == INT else v.filter(keep))
        for (name, v), key in zip(values.items(), keys)
    }
    return ok, pa.table(columns)


def _slow_table(indices: list[int], found: _Found, rejects: _Rejects) -> pa.Table:
    rows, kept = [], []
    prev_keys: frozenset[str] = frozenset()
    for i in indices:
        parsed = parse_client_line(found.raw[i])
        if i == found.cut and i > 0 and isinstance(parsed, dict):
            prev = parse_client_line(found.raw[i - 1])
            prev_keys = frozenset(prev) if isinstance(prev, dict) else frozenset()
            if not prev_keys <= parsed.keys():
                parsed = Rejected(TRUNCATED, "the last line ends early")
        if isinstance(parsed, Rejected):
            if i == found.cut:
                parsed = Rejected(TRUNCATED, "the last line ends early")
            rejects.add(found.line[i], parsed, found.raw[i])
            continue
        rows.append({column_name(k): v for k, v in parsed.items()})
        kept.append(i)
    names = sorted({k for r in rows for k in r})
    kinds = {column_name(k): v for k, v in FIELDS.items()}
    schema = pa.schema([(k, pa.int64() if kinds.get(k) == INT else pa.string()) for k in names] + [("_i", pa.int64())])
    return pa.Table.from_pylist([r | {"_i": i} for r, i in zip(rows, kept)], schema=schema)


def _client_frame(table: pa.Table) -> pd.DataFrame:
    """The DataFrame of :func:`read_client_list` (see the module doc) from the parsed table."""
    known = [column_name(f) for f in FIELDS]
    kinds = {column_name(k): v for k, v in FIELDS.items()}
    for column in known:
        if column not in table.column_names:
            table = table.append_column(column, pa.nulls(len(table), pa.int64() if kinds[column] == INT else pa.string()))
    unknown = sorted(set(table.column_names) - set(known) - {"snapshot", "snapshot_ts", "line"})
    table = table.select(["snapshot", "snapshot_ts", "line", *known, *unknown])
    df = table.to_pandas(types_mapper={pa.int64(): pd.Int64Dtype(), pa.string(): pd.StringDtype(na_value=np.nan)}.get)
    for column in ("snapshot", "line"):
        df[column] = df[column].astype("int64")
    flags = df["flags"].fillna("")
    addr = table.column("addr").combine_chunks() if len(table) else pa.array([], pa.string())
    split = pc.extract_regex(addr, r"^(?P<host>.*):(?P<port>[^:]*)$")
    host = pd.Series(pc.if_else(split.is_valid(), split.field(0), addr), dtype="str", index=df.index)
    port = pd.Series(split.field(1), dtype="str", index=df.index).where(split.is_valid().to_numpy(zero_copy_only=False))
    bracketed_path = host.str.startswith("[/") & host.str.endswith("]")  # Valkey 8+: [<path>:0]:0
    if bracketed_path.any():
        host = host.where(~bracketed_path, host[bracketed_path].map(_unbracket_unix))
    unix = flags.str.contains("U", regex=False) | (host.str.startswith("/") & (port == "0")) | bracketed_path
    bracketed = host.str.startswith("[") & host.str.endswith("]")
    tcp6 = ~unix & (bracketed | host.str.contains(":", regex=False))
    df["addr_kind"] = pd.Series(np.where(unix, "unix", np.where(tcp6, "tcp6", "tcp")), index=df.index, dtype="str")
    df["host"] = host.where(~(tcp6 & bracketed), host.str.slice(1, -1)).astype("str")
    df["port"] = pd.to_numeric(port, errors="coerce").astype("Int64")
    df["monitor_source"] = df["addr"].where(~unix, "unix:" + host).astype("str")
    missing = df["addr"].isna()
    df.loc[missing, ["addr_kind", "host", "monitor_source"]] = np.nan
    subscribed = (df[["sub", "psub", "ssub"]].fillna(0) > 0).any(axis=1).astype(int)
    pairs = list(zip(flags, subscribed))
    types = {pair: client_type(*pair) for pair in set(pairs)}
    df["client_type"] = pd.Series([types[p] for p in pairs], index=df.index, dtype="str")
    no_flags = df["flags"].isna()
    for letter, column in FLAGS.items():
        df[column] = pd.array(flags.str.contains(letter, regex=False), dtype="boolean")
        df.loc[no_flags, column] = pd.NA
    return df


def read_connection_counts(source: Source, *, errors: str = "skip") -> pd.DataFrame:
    """Read a ``<time>,<clients>`` log: columns line, ts (datetime64[us, UTC]), clients (int64).

    The time is epoch seconds (or ms, or ISO); the separator ``,``, ``;``, a tab or
    spaces; a first row that is not numbers is a header. ``clients`` is what was
    counted, the counting redis-cli's own connection included.

    >>> read_connection_counts("sample_captures/incident/connections.csv").clients.max()  # doctest: +SKIP
    89
    """
    with open_binary(source) as f:
        if is_parquet(f):
            return _stored(f, "connections")
        return _read_connection_counts_text(f, errors)


def _read_connection_counts_text(source: Input, errors: str) -> pd.DataFrame:
    name = source_name(source)
    rejects = _Rejects(name, errors)
    out_line: list[int] = []
    out_ts: list[int | None] = []
    out_n: list[int] = []
    with open_binary(source) as f:
        lines = _Lines(f, rejects)
        for number, raw, complete in lines:
            text = _text(raw).strip()
            parsed = _count_row(text, first=not out_line and number == 1)
            if isinstance(parsed, Rejected):
                if not complete and parsed.reason == BAD_ROW:
                    parsed = Rejected(TRUNCATED, "the last line ends early")
                rejects.add(number, parsed, raw)
                continue
            out_line.append(number)
            out_ts.append(parsed[0])
            out_n.append(parsed[1])
    df = pd.DataFrame(
        {
            "line": np.array(out_line, dtype=np.int64),
            "ts": _utc_us(out_ts),
            "clients": np.array(out_n, dtype=np.int64),
        }
    )
    return rejects.finish(df, "connections", lines.count, "ts", lines.reader.error)


def _count_row(text: str, *, first: bool) -> tuple[int, int] | Rejected:
    if not text:
        return Rejected(BLANK)
    if text.startswith("#"):
        return Rejected(COMMENT)
    m = re.fullmatch(r"(.+?)\s*[,;\t]\s*(\d+)|(\S+(?: \S+)*?)\s+(\d+)", text)
    if m is not None:
        when, count = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
        us = parse_time(when)
        if us is not None:
            return us, int(count)
    if first and not re.search(r"\d{4}", text):
        return Rejected(HEADER)
    return Rejected(BAD_ROW, "expected <epoch seconds>,<clients>")


_APP_LINE = re.compile(r"\s*(\d+)\s+(?:([a-z][a-z-]*)=)?(.*)")


def read_app_counts(source: Source, *, errors: str = "skip") -> pd.DataFrame:
    """Read ``uniq -c`` counts (``     12 name=web``): one row per line.

    Columns: snapshot (0), snapshot_ts (from the file name, else NaT), line, field
    (``name``, or whichever ``key=`` was counted, empty if none), value (``""`` for
    unnamed clients), clients (int64). Combine several files with :func:`combine_snapshots`.

    >>> read_app_counts("connections_by_app_1795642130.txt").set_index("value").clients["leaky-app"]  # doctest: +SKIP
    75
    """
    with open_binary(source) as f:
        if is_parquet(f):
            return _stored(f, "app-counts")
        return _read_app_counts_text(f, errors)


def _read_app_counts_text(source: Input, errors: str) -> pd.DataFrame:
    name = source_name(source)
    rejects = _Rejects(name, errors)
    rows: list[tuple[int, str, str, int]] = []
    with open_binary(source) as f:
        lines = _Lines(f, rejects)
        for number, raw, complete in lines:
            text = _text(raw)
            m = _APP_LINE.fullmatch(text)
            if not text.strip():
                rejects.add(number, Rejected(BLANK), raw)
            elif m is None:
                reason = TRUNCATED if not complete else BAD_ROW
                rejects.add(number, Rejected(reason, "expected '<count> name=<name>'"), raw)
            else:
                rows.append((number, m.group(2) or "", m.group(3).strip(), int(m.group(1))))
    ts = time_from_name(name)
    df = pd.DataFrame(
        {
            "snapshot": np.zeros(len(rows), dtype=np.int64),
            "snapshot_ts": _utc_us([ts] * len(rows)),
            "line": np.array([r[0] for r in rows], dtype=np.int64),
            "field": pd.array([r[1] for r in rows], dtype="str"),
            "value": pd.array([r[2] for r in rows], dtype="str"),
            "clients": np.array([r[3] for r in rows], dtype=np.int64),
        }
    )
    return rejects.finish(df, "app-counts", lines.count, "snapshot_ts", lines.reader.error)


def combine_snapshots(frames: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """Several read results (one snapshot file each, say) as one, snapshots renumbered by time.

    Snapshots are ordered by time (unknown times last, in the given order) and numbered
    from 0. The provenance adds up the counts (:meth:`Provenance.combined`); with several
    files, each reject's text starts with its file's name, since line numbers are per file.

    >>> combine_snapshots(read_client_list(p) for p in sorted(glob("clients_*.txt")))  # doctest: +SKIP
    """
    parts, provs = [], []
    for i, frame in enumerate(frames):
        provs.append(provenance(frame))
        bare = frame.copy()
        bare.attrs = {}
        parts.append(bare.assign(_part=i))
    if not parts:
        raise InputError("combine_snapshots: no frames to combine.")
    df = pd.concat(parts, ignore_index=True)
    keys = df[["_part", "snapshot", "snapshot_ts"]].drop_duplicates(["_part", "snapshot"])
    keys = keys.sort_values(["snapshot_ts", "_part", "snapshot"], na_position="last", kind="stable")
    number = pd.Series(range(len(keys)), index=pd.MultiIndex.from_frame(keys[["_part", "snapshot"]]))
    df["snapshot"] = number.reindex(pd.MultiIndex.from_frame(df[["_part", "snapshot"]])).to_numpy()
    df = df.sort_values(["snapshot", "line"], kind="stable").drop(columns="_part").reset_index(drop=True)
    df.attrs["provenance"] = replace(Provenance.combined(provs), events=len(df))
    return df

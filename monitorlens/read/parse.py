"""Blocks of MONITOR lines to Arrow tables of events. Pure: bytes in, tables out.

Plain lines, nearly all of a real capture, are found and cut for a whole
block at once by :mod:`monitorlens.read.fastpath`; every other line (escapes, old
dialects, garbage) goes through :func:`monitorlens.read.grammar.parse_line`, the
reference parser. Then every event column is derived from the raw ones.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from .. import commands
from . import arrays, fastpath, grammar
from .files import LongLine
from .schema import KEY_RULES, MONITOR_SCHEMA

_KEY_RULES = arrays.texts(KEY_RULES)


@dataclass
class BlockResult:
    """Events of one block, and what did not become an event."""

    table: pa.Table
    lines: int
    rejects: list[tuple[int, str, str]] = field(default_factory=list)
    dialects: Counter[str] = field(default_factory=Counter)
    key_places: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # see key_places()


def reject_text(raw: bytes) -> str:
    """A rejected line as text for people: undecodable bytes as ``\\xHH``, cut short."""
    text = raw.rstrip(b"\r\n").decode("utf-8", "backslashreplace")
    return text if len(text) <= 300 else text[:297] + "..."


def dialect_name(parsed: grammar.MonitorLine) -> str:
    """The dialect of a line as provenance counts it, with how it was written when unusual.

    >>> dialect_name(grammar.parse_line(b'  +1700000000.000001 [0 a:1] "PING"'))
    '2.6+ (RESP +)'
    """
    return f"{parsed.dialect} ({parsed.form})" if parsed.form else parsed.dialect


def parse_block(
    data: bytes,
    first_line: int = 1,
    *,
    final: bool = True,
    before: Sequence[LongLine] = (),
    starts_input: bool = False,
) -> BlockResult:
    """Parse whole lines of a capture; ``first_line`` is the number of the first one.

    ``final`` says the block ends the input: a last line without ``\\n`` that
    does not parse was cut off, and is rejected as truncated. ``before`` are lines
    just before the block that the reader skipped (too long, or hopeless): they
    are numbered first and rejected. ``starts_input`` says the block begins the
    input, whose first line may have been cut at its start (``tail -c``): then it
    is rejected as truncated, not read as an event of 1970.

    >>> parse_block(b'1700000000.000001 [0 127.0.0.1:5] "get" "k"\\n').table.column("command")[0].as_py()
    'GET'
    """
    skipped = [(first_line + i, long.reason, reject_text(long.start) + f" ... ({long.detail})")
               for i, long in enumerate(before)]
    first_line += len(before)
    block = fastpath.Block.of(data)
    plain = fastpath.plain_lines(block)
    result = BlockResult(_empty_raw(), block.lines + len(before), skipped)
    result.dialects[grammar.DIALECT_MODERN] += len(plain.lines)
    parts = [pa.table(fastpath.rows(block, plain, first_line), schema=_RAW_SCHEMA)] if len(plain.lines) else []
    if len(plain.lines) < block.lines:
        other = np.ones(block.lines, dtype=bool)
        other[plain.lines] = False
        slow = _slow_rows(block, np.flatnonzero(other), first_line, final and not data.endswith(b"\n"), result)
        if slow is not None:
            parts.append(slow)
    raw = pa.concat_tables(parts) if parts else _empty_raw()
    if len(parts) > 1:
        raw = arrays.take(raw, arrays.kernel("sort_indices", raw.column("line")))
    client = arrays.kernel("dictionary_encode", arrays.whole(raw.column("client")))
    wrong = _out_of_range(raw, client)
    if starts_input and not before and block.lines:
        _cut_first_line(block, raw, first_line, result, wrong)
    if wrong:
        lines = arrays.to_numpy(arrays.whole(raw.column("line")))
        for i, reason in wrong.items():
            line = int(lines[i])
            result.rejects.append((line, reason, reject_text(block.line(line - first_line))))
        result.rejects.sort()
        keep = arrays.numeric(np.setdiff1d(np.arange(raw.num_rows), list(wrong)))
        raw = arrays.take(raw, keep)
        client = arrays.kernel("dictionary_encode", arrays.whole(raw.column("client")))  # without their sources
    result.table, result.key_places = _finish(raw, client)
    return result


def _out_of_range(raw: pa.Table, client: pa.DictionaryArray) -> dict[int, str]:
    """Rows whose time or port no server writes (see :func:`grammar.out_of_range`): row -> reason.

    The fast path reads ten digits of seconds (up to 2286), so only a source can be
    wrong in its rows; each distinct source is checked once.
    """
    ts = arrays.to_numpy(arrays.whole(raw.column("ts")))
    wrong = {int(i): grammar.OUT_OF_RANGE for i in np.flatnonzero(ts > grammar.MAX_TS_US)}
    bad = {j for j, source in enumerate(client.dictionary.to_pylist()) if grammar.out_of_range(0, source)}
    if bad:  # rare: then row by row
        wrong |= {i: grammar.OUT_OF_RANGE for i, j in enumerate(client.indices.to_pylist()) if j in bad}
    return wrong


_SECONDS = re.compile(rb"[ \t]*\+?(\d+)\.")


def _cut_first_line(
    block: fastpath.Block, raw: pa.Table, first_line: int, result: BlockResult, wrong: dict[int, str]
) -> None:
    """Reject the input's first line as truncated when it was cut at its start (``tail -c``).

    Cut in its seconds it still parses, with fewer digits than the next line's ten
    (``00000.123456`` before ``1700000000.123457``: an event in 1970); cut later it
    does not parse, but ends like a MONITOR line, with a closing quote.
    """
    first = block.line(0).rstrip(b"\r\n")
    if raw.num_rows and raw.column("line")[0].as_py() == first_line:
        written = _SECONDS.match(first)
        if raw.num_rows > 1 and written is not None:
            next_seconds = raw.column("ts")[1].as_py() // 1_000_000
            # (a clock set since 2001 writes ten digits; one that started at 0, on a board
            # without a clock, writes fewer on every line and is left as it is)
            if next_seconds >= 10**9 and len(written.group(1)) < len(str(next_seconds)):
                wrong[0] = grammar.TRUNCATED
        return
    for k, (line, reason, text) in enumerate(result.rejects):
        if line == first_line and reason in (grammar.UNRECOGNIZED, grammar.BAD_ARGS) and first.endswith(b'"'):
            result.rejects[k] = (line, grammar.TRUNCATED, text)


def renumber(result: BlockResult, lines_before: int) -> BlockResult:
    """The result of a block parsed as the input's first, for the block after ``lines_before``
    lines: a stream hands out blocks without counting their lines first (a pass over each).

    >>> renumber(parse_block(b"garbage\\n"), 10).rejects[0][:2]
    (11, 'unrecognized')
    """
    if not lines_before:
        return result
    table = result.table
    if table.num_rows:
        line = arrays.to_numpy(arrays.whole(table.column("line"))) + lines_before
        table = table.set_column(table.schema.get_field_index("line"), "line", arrays.numeric(line))
    rejects = [(n + lines_before, reason, text) for n, reason, text in result.rejects]
    return BlockResult(table, result.lines, rejects, result.dialects, result.key_places)


_RAW_SCHEMA = pa.schema(
    [
        ("line", pa.int64()),
        ("ts", pa.int64()),
        ("db", pa.int32()),
        ("client", pa.string()),
        ("name", pa.binary()),  # argv[0], as sent
        ("args", pa.list_(pa.binary())),  # argv[1:]
    ]
)


def _empty_raw() -> pa.Table:
    return pa.Table.from_batches([], schema=_RAW_SCHEMA)  # schema.empty_table() would import pandas


def _slow_rows(
    block: fastpath.Block, idx: np.ndarray, first_line: int, last_cut: bool, result: BlockResult
) -> pa.Table | None:
    rows, dbs, clients, argvs = [], [], [], []
    last = block.lines - 1
    for i in idx.tolist():
        raw = block.line(i)
        line = raw[:-1] if raw.endswith(b"\n") else raw
        parsed = grammar.parse_line(line)
        if isinstance(parsed, grammar.Rejected):
            reason = parsed.reason
            if i == last and last_cut and reason not in grammar.IGNORABLE:
                reason = grammar.TRUNCATED
            result.rejects.append((first_line + i, reason, reject_text(raw)))
            continue
        result.dialects[dialect_name(parsed)] += 1
        rows.append((first_line + i, parsed.ts_us))
        dbs.append(parsed.db)
        clients.append(parsed.source if parsed.dialect == grammar.DIALECT_MODERN else None)
        argvs.append(parsed.argv)
    if not rows:
        return None
    line_ts = np.array(rows, dtype=np.int64).reshape(-1, 2)
    arg_offsets = np.zeros(len(argvs) + 1, np.int64)
    np.cumsum([len(a) - 1 for a in argvs], out=arg_offsets[1:])
    return pa.table(
        {
            "line": arrays.numeric(line_ts[:, 0]),
            "ts": arrays.numeric(line_ts[:, 1]),
            "db": arrays.optional_ints(dbs),
            "client": arrays.texts(clients),
            "name": arrays.binaries([a[0] for a in argvs]),
            "args": arrays.lists(arg_offsets, arrays.binaries([x for a in argvs for x in a[1:]])),
        },
        schema=_RAW_SCHEMA,
    )


def _finish(raw: pa.Table, client: pa.DictionaryArray) -> tuple[pa.Table, np.ndarray]:
    """Derive every event column from line, ts, db, client (dictionary-encoded), name and args;
    and where each key lies in the args (see :func:`key_places`)."""
    args = arrays.whole(raw.column("args"))
    n = len(args)
    command = _upper_name(arrays.whole(raw.column("name")))
    a_off = arrays.to_numpy(args.offsets)
    nargs = np.diff(a_off)
    value_len = arrays.to_numpy(arrays.kernel("binary_length", args.values))  # arguments are never null
    cum = np.concatenate([[0], np.cumsum(value_len, dtype=np.int64)])
    arg_bytes = cum[a_off[1:]] - cum[a_off[:-1]]

    cmd_codes = arrays.kernel("dictionary_encode", command)
    names = cmd_codes.dictionary.to_pylist()
    codes = arrays.to_numpy(cmd_codes.indices)
    is_container = np.array([commands.is_container(c) for c in names], dtype=bool)
    container_rows = is_container[codes] & (nargs > 0) if n else np.zeros(0, bool)
    sub = pa.nulls(n, pa.string())
    if container_rows.any():
        rows = np.flatnonzero(container_rows)
        sub_values = _upper_name(arrays.take(args.values, arrays.numeric(a_off[rows])))
        position = np.maximum(np.cumsum(container_rows) - 1, 0)  # of row's value in sub_values
        sub = arrays.take(sub_values, arrays.numeric(position, valid=container_rows))

    key_rows, places, rule = _key_places(args, names, codes, sub)
    keys = _keys(args, key_rows, places)

    client, kind, host, port = _client_columns(client)
    return pa.table(
        {
            "line": raw.column("line"),
            "ts": arrays.cast(arrays.whole(raw.column("ts")), pa.timestamp("us", tz="UTC")),
            "db": raw.column("db"),
            "client": client,
            "client_kind": kind,
            "host": host,
            "port": port,
            "command": cmd_codes,
            "subcommand": arrays.kernel("dictionary_encode", sub),
            "args": args,
            "nargs": arrays.numeric(nargs, "int32"),
            "arg_bytes": arrays.numeric(arg_bytes),
            "key": arrays.first_items(keys),
            "keys": keys,
            "key_rule": pa.DictionaryArray.from_arrays(arrays.numeric(rule, "int32"), _KEY_RULES),
        },
        schema=MONITOR_SCHEMA,
    ), places


def _decode(values: pa.Array) -> pa.Array:
    """Bytes to text: valid UTF-8 as is (zero copy), anything else with ``\\xHH`` escapes."""
    try:
        return arrays.cast(values, pa.string())
    except pa.ArrowInvalid:
        return arrays.texts([None if v is None else v.decode("utf-8", "backslashreplace") for v in values.to_pylist()])


def _upper_name(values: pa.Array) -> pa.Array:
    """A command or subcommand name as text, upper-cased the way Redis compares names: ASCII only."""
    try:
        return arrays.kernel("ascii_upper", arrays.cast(values, pa.string()))
    except pa.ArrowInvalid:
        return arrays.texts(
            [None if v is None else v.upper().decode("utf-8", "backslashreplace") for v in values.to_pylist()]
        )


def key_places(table: pa.Table | pa.RecordBatch) -> np.ndarray:
    """Where each key of an event table lies in its row's arguments: for the i-th value of
    ``keys`` (all rows' keys, in order), the index of its argument among the values of
    ``args``. The parser's own finder, run again on the table's command, subcommand and args
    (which must be the parser's: every column as :func:`parse_block` made it).

    >>> t = parse_block(b'1700000000.000001 [0 a:1] "MSET" "k1" "v" "k2" "w"\\n').table
    >>> key_places(t).tolist()
    [0, 2]
    """
    args = arrays.whole(table.column("args"))
    command = arrays.whole(table.column("command"))
    sub = arrays.whole(table.column("subcommand"))
    if isinstance(command, pa.DictionaryArray):
        names, codes = command.dictionary.to_pylist(), arrays.to_numpy(command.indices)
    else:
        encoded = arrays.kernel("dictionary_encode", command)
        names, codes = encoded.dictionary.to_pylist(), arrays.to_numpy(encoded.indices)
    if isinstance(sub, pa.DictionaryArray):
        sub = arrays.take(sub.dictionary, sub.indices)
    return _key_places(args, names, codes, sub)[1]


def _key_places(
    args: pa.ListArray, names: list[str], codes: np.ndarray, sub: pa.Array
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every key of every row: its row and its index in ``args.values`` (row by row, in the
    order Redis finds them), and the rule of each row (an index into schema.KEY_RULES)."""
    n = len(args)
    a_off = arrays.to_numpy(args.offsets)
    nargs = np.diff(a_off)
    rule = np.zeros(n, dtype=np.int32)  # index into KEY_RULES
    row_parts: list[np.ndarray] = []
    pos_parts: list[np.ndarray] = []
    sub_list = sub.to_pylist() if sub.null_count < n else None  # None: no row has a subcommand
    for code, name in enumerate(names):
        rows = np.flatnonzero(codes == code)
        if not len(rows):
            continue
        groups = _by_subcommand(rows, sub_list) if sub_list and commands.is_container(name) else {None: rows}
        for subname, grows in groups.items():
            if commands.keyless(name, subname):
                rule[grows] = KEY_RULES.index("none")
                continue
            # simple_range of a command Redis does not know is the first-arg rule
            spec = commands.simple_range(name, subname)
            group_rule = "spec" if commands.lookup(name, subname) is not None else "first-arg"
            if spec is not None:
                start = np.full(len(grows), spec.start)
                stop = spec.last + 1 if spec.last >= 0 else nargs[grows] + spec.last + 1
                stop = np.minimum(stop, nargs[grows])
                count = np.maximum(0, -(-(stop - start) // spec.step))
                rr = np.repeat(grows, count)
                within = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
                row_parts.append(rr)
                pos_parts.append(a_off[rr] + spec.start + within * spec.step)
                rule[grows] = KEY_RULES.index(group_rule)
                continue
            rr_list: list[int] = []
            pp_list: list[int] = []
            for r in grows.tolist():
                positions, r_rule = commands.key_positions(name, args[r].as_py())
                rule[r] = KEY_RULES.index(r_rule)
                rr_list.extend([r] * len(positions))
                pp_list.extend(a_off[r] + p for p in positions)
            row_parts.append(np.array(rr_list, dtype=np.int64))
            pos_parts.append(np.array(pp_list, dtype=np.int64))
    rows_all = np.concatenate(row_parts) if row_parts else np.zeros(0, np.int64)
    pos_all = np.concatenate(pos_parts) if pos_parts else np.zeros(0, np.int64)
    order = np.argsort(rows_all, kind="stable")  # a row's keys come from one group: their order stays
    return rows_all[order], pos_all[order], rule


def _keys(args: pa.ListArray, key_rows: np.ndarray, places: np.ndarray) -> pa.ListArray:
    """The keys column: the arguments at ``places`` as text, row by row."""
    counts = np.bincount(key_rows, minlength=len(args)) if len(args) else np.zeros(0, np.int64)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
    return arrays.lists(offsets, _decode(arrays.take(args.values, arrays.numeric(places))))


def _by_subcommand(rows: np.ndarray, sub_list: list[str | None]) -> dict[str | None, np.ndarray]:
    groups: dict[str | None, list[int]] = {}
    for r in rows.tolist():
        groups.setdefault(sub_list[r], []).append(r)
    return {k: np.array(v, dtype=np.int64) for k, v in groups.items()}


def _client_columns(enc: pa.DictionaryArray) -> tuple[pa.Array, pa.Array, pa.Array, pa.Array]:
    """client (dictionary-encoded), client_kind, host and port, computed once per distinct source."""
    facts = [grammar.classify_source(s) for s in enc.dictionary.to_pylist()]
    kind = _recode(enc.indices, [f[0] for f in facts])
    host = _recode(enc.indices, [f[1] for f in facts])
    # (a source whose rows were rejected, out of range, may stay in the dictionary: no port for it)
    ports = [f[2] if f[2] is not None and f[2] <= grammar.MAX_PORT else None for f in facts]
    port = arrays.take(arrays.optional_ints(ports), enc.indices)
    return enc, kind, host, port


def _recode(indices: pa.Array, labels: list[str | None]) -> pa.DictionaryArray:
    """A dictionary array whose value at row i is ``labels[indices[i]]`` (labels may repeat)."""
    distinct = sorted({x for x in labels if x is not None})
    code = {x: i for i, x in enumerate(distinct)}
    mapping = arrays.optional_ints([None if x is None else code[x] for x in labels])
    return pa.DictionaryArray.from_arrays(arrays.take(mapping, indices), arrays.texts(distinct))

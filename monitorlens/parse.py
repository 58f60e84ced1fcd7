"""Blocks of MONITOR lines to Arrow tables of events. Pure: bytes in, tables out.

# Strategy: a real capture is mostly plain lines, whose arguments hold no
# backslash. In such a line every '"' is a quote that sdscatrepr wrote (a quote
# inside an argument would be written '\\"'), so after one regex has checked the
# whole line's shape, splitting it on '"' gives the head, then argument,
# separator, argument, ... exactly, and Arrow's vectorized kernels do that for a
# whole block at once. Every other line (escapes, old dialects, garbage) goes
# through grammar.parse_line, the reference parser, one line at a time. Tests
# check that both paths agree on every line the fast path accepts.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import commands, grammar
from .schema import KEY_RULES, MONITOR_SCHEMA

# The whole line of the fast path: a 2.6+ head whose source holds no '"' or
# '\', then quoted arguments of printable ASCII without '"' or '\'.
_PLAIN = r"[ !#-\[\]-~]*"
FAST_LINE = rf'^\d+\.\d{{6}} \[\d+ [^"\\]*\] "{_PLAIN}"(?: "{_PLAIN}")*\r?\n?$'


@dataclass
class BlockResult:
    """Events of one block, and what did not become an event."""

    table: pa.Table
    lines: int
    rejects: list[tuple[int, str, str]] = field(default_factory=list)
    dialects: Counter[str] = field(default_factory=Counter)


def split_lines(data: bytes) -> tuple[pa.LargeBinaryArray, np.ndarray]:
    """The lines of ``data`` as a zero-copy Arrow array (each keeps its ``\\n``), and their offsets."""
    buf = np.frombuffer(data, dtype=np.uint8)
    ends = np.flatnonzero(buf == 10) + 1
    if len(data) and (len(ends) == 0 or ends[-1] != len(data)):
        ends = np.append(ends, len(data))
    offsets = np.zeros(len(ends) + 1, dtype=np.int64)
    offsets[1:] = ends
    lines = pa.Array.from_buffers(pa.large_binary(), len(ends), [None, pa.py_buffer(offsets), pa.py_buffer(data)])
    return lines, offsets


def _pieces(data: bytes, starts: np.ndarray, ends: np.ndarray) -> pa.Array:
    """``data[starts[i]:ends[i]]`` for each i, as one Arrow array (ranges in order, not overlapping).

    Zero copy: the ranges and the gaps between them tile the buffer, and only
    the ranges are taken.
    """
    bounds = np.empty(2 * len(starts), dtype=np.int64)
    bounds[0::2] = starts
    bounds[1::2] = ends
    tiles = pa.Array.from_buffers(
        pa.large_binary(), len(bounds) - 1, [None, pa.py_buffer(bounds), pa.py_buffer(data)]
    )
    return tiles.take(pa.array(np.arange(0, len(bounds) - 1, 2))).cast(pa.binary())


def reject_text(raw: bytes) -> str:
    """A rejected line as text for people: undecodable bytes as ``\\xHH``, cut short."""
    text = raw.rstrip(b"\r\n").decode("utf-8", "backslashreplace")
    return text if len(text) <= 300 else text[:297] + "..."


def parse_block(data: bytes, first_line: int = 1, *, final: bool = True) -> BlockResult:
    """Parse whole lines of a capture; ``first_line`` is the number of the first one.

    ``final`` says the block ends the input: a last line without ``\\n`` that
    does not parse was cut off, and is rejected as truncated.

    >>> parse_block(b'1700000000.000001 [0 127.0.0.1:5] "get" "k"\\n').table.column("command")[0]
    <pyarrow.StringScalar: 'GET'>
    """
    lines, offsets = split_lines(data)
    n = len(lines)
    ok = pc.match_substring_regex(lines, FAST_LINE).to_numpy(zero_copy_only=False)
    fast_idx = np.flatnonzero(ok)
    slow_idx = np.flatnonzero(~ok)
    parts = [_fast_rows(data, offsets, ok, fast_idx, first_line)] if len(fast_idx) else []
    result = BlockResult(pa.table({}), n)
    result.dialects[grammar.DIALECT_MODERN] += len(fast_idx)
    if len(slow_idx):
        slow = _slow_rows(lines, slow_idx, first_line, final and not data.endswith(b"\n"), result)
        if slow is not None:
            parts.append(slow)
    raw = pa.concat_tables(parts) if parts else _empty_raw()
    if len(parts) > 1:
        raw = raw.take(pc.sort_indices(raw.column("line")))
    result.table = _finish(raw)
    return result


_RAW_SCHEMA = pa.schema(
    [
        ("line", pa.int64()),
        ("ts", pa.int64()),
        ("db", pa.int16()),
        ("client", pa.string()),
        ("name", pa.binary()),  # argv[0], as sent
        ("args", pa.list_(pa.binary())),  # argv[1:]
    ]
)


def _empty_raw() -> pa.Table:
    return _RAW_SCHEMA.empty_table()


def _fast_rows(data: bytes, offsets: np.ndarray, ok: np.ndarray, fast_idx: np.ndarray, first_line: int) -> pa.Table:
    """Rows of the lines the fast regex accepted, cut at their quotes with numpy."""
    buf = np.frombuffer(data, dtype=np.uint8)
    quotes = np.flatnonzero(buf == 34)
    per_line = np.diff(np.searchsorted(quotes, offsets))
    if len(fast_idx) < len(ok):
        quotes = quotes[np.repeat(ok, per_line)]
    # In a fast line quotes pair up: argument k lies between quotes 2k and 2k+1.
    opening, closing = quotes[0::2], quotes[1::2]
    args_all = _pieces(data, opening + 1, closing)
    count = per_line[fast_idx] // 2
    first = np.cumsum(count) - count
    rest = np.ones(len(opening), dtype=bool)
    rest[first] = False
    arg_offsets = np.zeros(len(count) + 1, dtype=np.int32)
    np.cumsum(count - 1, out=arg_offsets[1:])
    args = pa.ListArray.from_arrays(pa.array(arg_offsets), args_all.take(pa.array(np.flatnonzero(rest))))
    # The head, "<sec>.<usec> [<db> <source>", ends two bytes before the first quote.
    head = _pieces(data, offsets[fast_idx], opening[first] - 2)
    fields = pc.split_pattern(head, " ", max_splits=2)
    fv, fo = fields.values, fields.offsets.to_numpy()[:-1]
    ts_text = fv.take(pa.array(fo))
    sec = _to_int(pc.binary_slice(ts_text, 0, -7), pa.int64())
    usec = _to_int(pc.binary_slice(ts_text, -6, 1 << 30), pa.int64())
    db = _to_int(pc.binary_slice(fv.take(pa.array(fo + 1)), 1, 1 << 30), pa.int16())
    return pa.table(
        {
            "line": pa.array(fast_idx + first_line, pa.int64()),
            "ts": pc.add(pc.multiply(sec, 1_000_000), usec),
            "db": db,
            "client": pc.cast(fv.take(pa.array(fo + 2)), pa.string()),
            "name": args_all.take(pa.array(first)),
            "args": args,
        },
        schema=_RAW_SCHEMA,
    )


def _to_int(digits: pa.Array, to: pa.DataType) -> pa.Array:
    return pc.cast(pc.cast(digits, pa.string()), to)


def _slow_rows(
    lines: pa.Array, idx: np.ndarray, first_line: int, last_cut: bool, result: BlockResult
) -> pa.Table | None:
    cols: dict[str, list] = {"line": [], "ts": [], "db": [], "client": [], "name": [], "args": []}
    last = len(lines) - 1
    for i in idx.tolist():
        raw = lines[i].as_py()
        line = raw[:-1] if raw.endswith(b"\n") else raw
        parsed = grammar.parse_line(line)
        if isinstance(parsed, grammar.Rejected):
            reason = parsed.reason
            if i == last and last_cut and reason not in grammar.IGNORABLE:
                reason = grammar.TRUNCATED
            result.rejects.append((first_line + i, reason, reject_text(raw)))
            continue
        result.dialects[parsed.dialect] += 1
        cols["line"].append(first_line + i)
        cols["ts"].append(parsed.ts_us)
        cols["db"].append(parsed.db)
        cols["client"].append(parsed.source if parsed.dialect == grammar.DIALECT_MODERN else None)
        cols["name"].append(parsed.argv[0])
        cols["args"].append(list(parsed.argv[1:]))
    if not cols["line"]:
        return None
    return pa.table(cols, schema=_RAW_SCHEMA)


def _finish(raw: pa.Table) -> pa.Table:
    """Derive every event column from line, ts, db, client, name and args."""
    args = raw.column("args").combine_chunks()
    n = len(args)
    command = _upper_name(raw.column("name").combine_chunks())
    nargs = pc.list_value_length(args).fill_null(0)
    value_len = pc.binary_length(args.values).to_numpy(zero_copy_only=False).astype(np.int64)
    cum = np.concatenate([[0], np.cumsum(value_len)])
    a_off = args.offsets.to_numpy()
    arg_bytes = cum[a_off[1:]] - cum[a_off[:-1]]

    cmd_codes = pc.dictionary_encode(command)
    names = cmd_codes.dictionary.to_pylist()
    codes = cmd_codes.indices.to_numpy()
    is_container = np.array([commands.is_container(c) for c in names], dtype=bool)
    container_rows = is_container[codes] & (nargs.to_numpy() > 0) if n else np.zeros(0, bool)
    sub = pa.nulls(n, pa.string())
    if container_rows.any():
        rows = np.flatnonzero(container_rows)
        sub_values = _upper_name(args.values.take(pa.array(a_off[rows])))
        sub_full = np.full(n, None, dtype=object)
        sub_full[rows] = sub_values.to_numpy(zero_copy_only=False)
        sub = pa.array(sub_full, pa.string())

    keys, rule = _keys(args, names, codes, sub)
    key_off = keys.offsets.to_numpy()
    first_key = keys.values.take(pa.array(key_off[:-1], mask=key_off[1:] == key_off[:-1]))

    client, kind, host, port = _client_columns(raw.column("client").combine_chunks())
    return pa.table(
        {
            "line": raw.column("line"),
            "ts": pc.cast(raw.column("ts"), pa.timestamp("us", tz="UTC")),
            "db": raw.column("db"),
            "client": client,
            "client_kind": kind,
            "host": host,
            "port": port,
            "command": cmd_codes,
            "subcommand": pc.dictionary_encode(sub),
            "args": args,
            "nargs": nargs.cast(pa.int32()),
            "arg_bytes": pa.array(arg_bytes, pa.int64()),
            "key": first_key,
            "keys": keys,
            "key_rule": rule,
        },
        schema=MONITOR_SCHEMA,
    )


def _decode(values: pa.Array) -> pa.Array:
    """Bytes to text: valid UTF-8 as is (zero copy), anything else with ``\\xHH`` escapes."""
    try:
        return pc.cast(values, pa.string())
    except pa.ArrowInvalid:
        return pa.array(
            [None if v is None else v.decode("utf-8", "backslashreplace") for v in values.to_pylist()],
            pa.string(),
        )


def _upper_name(values: pa.Array) -> pa.Array:
    """A command or subcommand name as text, upper-cased the way Redis compares names: ASCII only."""
    try:
        return pc.ascii_upper(pc.cast(values, pa.string()))
    except pa.ArrowInvalid:
        return pa.array(
            [None if v is None else v.upper().decode("utf-8", "backslashreplace") for v in values.to_pylist()],
            pa.string(),
        )


def _keys(
    args: pa.ListArray, names: list[str], codes: np.ndarray, sub: pa.Array
) -> tuple[pa.ListArray, pa.DictionaryArray]:
    """Every key of every row, and the rule that found it (see schema.KEY_RULES)."""
    n = len(args)
    a_off = args.offsets.to_numpy()
    nargs = a_off[1:] - a_off[:-1]
    rule = np.zeros(n, dtype=np.int32)  # index into KEY_RULES
    row_parts: list[np.ndarray] = []
    pos_parts: list[np.ndarray] = []
    sub_list = sub.to_pylist() if n else []
    for code, name in enumerate(names):
        rows = np.flatnonzero(codes == code)
        if not len(rows):
            continue
        groups = _by_subcommand(rows, sub_list) if commands.is_container(name) else {None: rows}
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
    order = np.argsort(rows_all, kind="stable")
    counts = np.bincount(rows_all, minlength=n) if n else np.zeros(0, np.int64)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int32)
    values = _decode(args.values.take(pa.array(pos_all[order])))
    rules = pa.DictionaryArray.from_arrays(pa.array(rule, pa.int32()), pa.array(KEY_RULES, pa.string()))
    return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), values), rules


def _by_subcommand(rows: np.ndarray, sub_list: list[str | None]) -> dict[str | None, np.ndarray]:
    groups: dict[str | None, list[int]] = {}
    for r in rows.tolist():
        groups.setdefault(sub_list[r], []).append(r)
    return {k: np.array(v, dtype=np.int64) for k, v in groups.items()}


def _client_columns(client: pa.Array) -> tuple[pa.Array, pa.Array, pa.Array, pa.Array]:
    """client (dictionary-encoded), client_kind, host and port, computed once per distinct source."""
    enc = pc.dictionary_encode(client)
    facts = [grammar.classify_source(s) for s in enc.dictionary.to_pylist()]
    kind = _recode(enc.indices, [f[0] for f in facts])
    host = _recode(enc.indices, [f[1] for f in facts])
    port = pa.array([f[2] for f in facts], pa.int32()).take(enc.indices)
    return enc, kind, host, port


def _recode(indices: pa.Array, labels: list[str | None]) -> pa.DictionaryArray:
    """A dictionary array whose value at row i is ``labels[indices[i]]`` (labels may repeat)."""
    distinct = sorted({x for x in labels if x is not None})
    code = {x: i for i, x in enumerate(distinct)}
    mapping = pa.array([code.get(x) for x in labels], pa.int32())
    return pa.DictionaryArray.from_arrays(mapping.take(indices), pa.array(distinct, pa.string()))

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
from .schema import MONITOR_SCHEMA

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


def split_lines(data: bytes) -> pa.BinaryArray:
    """The lines of ``data`` as a zero-copy Arrow array; each keeps its ``\\n``."""
    buf = np.frombuffer(data, dtype=np.uint8)
    ends = np.flatnonzero(buf == 10) + 1
    if len(data) and (len(ends) == 0 or ends[-1] != len(data)):
        ends = np.append(ends, len(data))
    offsets = np.zeros(len(ends) + 1, dtype=np.int64)
    offsets[1:] = ends
    return pa.Array.from_buffers(
        pa.large_binary(), len(ends), [None, pa.py_buffer(offsets), pa.py_buffer(data)]
    )


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
    lines = split_lines(data)
    n = len(lines)
    ok = pc.match_substring_regex(lines, FAST_LINE).to_numpy(zero_copy_only=False)
    fast_idx = np.flatnonzero(ok)
    slow_idx = np.flatnonzero(~ok)
    parts = [_fast_rows(lines.take(pa.array(fast_idx)), fast_idx + first_line)] if len(fast_idx) else []
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
        ("argv", pa.list_(pa.binary())),
    ]
)


def _empty_raw() -> pa.Table:
    return _RAW_SCHEMA.empty_table()


def _fast_rows(lines: pa.Array, line_numbers: np.ndarray) -> pa.Table:
    parts = pc.split_pattern(lines, '"')
    values, offsets = parts.values, parts.offsets.to_numpy()
    head = values.take(pa.array(offsets[:-1]))
    fields = pc.split_pattern(head, " ", max_splits=2)
    fv, fo = fields.values, fields.offsets.to_numpy()[:-1]
    ts_text = fv.take(pa.array(fo))
    sec = _to_int(pc.binary_slice(ts_text, 0, -7), pa.int64())
    usec = _to_int(pc.binary_slice(ts_text, -6, 1 << 30), pa.int64())
    db = _to_int(pc.binary_slice(fv.take(pa.array(fo + 1)), 1, 1 << 30), pa.int16())
    client = pc.cast(pc.binary_slice(fv.take(pa.array(fo + 2)), 0, -2), pa.large_string())
    argv = pc.list_slice(parts, 1, None, 2)
    return pa.table(
        {
            "line": pa.array(line_numbers, pa.int64()),
            "ts": pc.add(pc.multiply(sec, 1_000_000), usec),
            "db": db,
            "client": pc.cast(client, pa.string()),
            "argv": pc.cast(argv, pa.list_(pa.binary())),
        }
    )


def _to_int(digits: pa.Array, to: pa.DataType) -> pa.Array:
    return pc.cast(pc.cast(digits, pa.string()), to)


def _slow_rows(
    lines: pa.Array, idx: np.ndarray, first_line: int, last_cut: bool, result: BlockResult
) -> pa.Table | None:
    cols: dict[str, list] = {"line": [], "ts": [], "db": [], "client": [], "argv": []}
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
        cols["argv"].append(list(parsed.argv))
    if not cols["line"]:
        return None
    return pa.table(cols, schema=_RAW_SCHEMA)


def _finish(raw: pa.Table) -> pa.Table:
    """Derive every event column from line, ts, db, client and argv."""
    argv = raw.column("argv").combine_chunks()
    n = len(argv)
    argv_off = argv.offsets.to_numpy()
    first = argv.values.take(pa.array(argv_off[:-1])) if n else pa.array([], pa.binary())
    command = pc.utf8_upper(_decode(first))
    args = pc.list_slice(argv, 1, None, 1) if n else pa.array([], pa.list_(pa.binary()))
    args = args.cast(pa.list_(pa.binary()))
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
        sub_values = pc.utf8_upper(_decode(args.values.take(pa.array(a_off[rows]))))
        sub_full = np.full(n, None, dtype=object)
        sub_full[rows] = sub_values.to_numpy(zero_copy_only=False)
        sub = pa.array(sub_full, pa.string())

    keys, rule = _keys(args, names, codes, sub)
    key_off = keys.offsets.to_numpy()
    has_key = key_off[1:] > key_off[:-1]
    first_key = np.full(n, None, dtype=object)
    if has_key.any():
        first_key[has_key] = keys.values.take(pa.array(key_off[:-1][has_key])).to_numpy(zero_copy_only=False)

    kinds = _client_columns(raw.column("client").combine_chunks())
    return pa.table(
        {
            "line": raw.column("line"),
            "ts": pc.cast(raw.column("ts"), pa.timestamp("us", tz="UTC")),
            "db": raw.column("db"),
            "client": pc.dictionary_encode(raw.column("client")),
            "client_kind": kinds[0],
            "host": kinds[1],
            "port": kinds[2],
            "command": cmd_codes,
            "subcommand": pc.dictionary_encode(sub),
            "args": args,
            "nargs": nargs.cast(pa.int32()),
            "arg_bytes": pa.array(arg_bytes, pa.int64()),
            "key": pa.array(first_key, pa.string()),
            "keys": keys,
            "key_rule": pc.dictionary_encode(pa.array(rule, pa.string())),
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


def _keys(
    args: pa.ListArray, names: list[str], codes: np.ndarray, sub: pa.Array
) -> tuple[pa.ListArray, list[str]]:
    """Every key of every row, and the rule that found it (see schema.KEY_RULES)."""
    n = len(args)
    a_off = args.offsets.to_numpy()
    nargs = a_off[1:] - a_off[:-1]
    rule = np.empty(n, dtype=object)
    row_parts: list[np.ndarray] = []
    pos_parts: list[np.ndarray] = []
    sub_list = sub.to_pylist() if n else []
    for code, name in enumerate(names):
        rows = np.flatnonzero(codes == code)
        if not len(rows):
            continue
        groups = _by_subcommand(rows, sub_list) if commands.is_container(name) else {None: rows}
        for subname, grows in groups.items():
            info = commands.lookup(name, subname)
            if info is None:
                spec, group_rule = commands.SimpleRange(0, 0, 1), "first-arg"
            elif not info.key_specs:
                spec, group_rule = commands.SimpleRange(0, -1, 1), "none"
            else:
                spec, group_rule = commands.simple_range(name, subname), "spec"
            if spec is not None:
                start = np.full(len(grows), spec.start)
                stop = spec.last + 1 if spec.last >= 0 else nargs[grows] + spec.last + 1
                stop = np.minimum(stop, nargs[grows]) if group_rule != "none" else start
                count = np.maximum(0, -(-(stop - start) // spec.step))
                rr = np.repeat(grows, count)
                within = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
                row_parts.append(rr)
                pos_parts.append(a_off[rr] + spec.start + within * spec.step)
                rule[grows] = group_rule
                continue
            rr_list: list[int] = []
            pp_list: list[int] = []
            for r in grows.tolist():
                positions, r_rule = commands.key_positions(name, args[r].as_py())
                rule[r] = r_rule
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
    return pa.ListArray.from_arrays(pa.array(offsets, pa.int32()), values), rule.tolist()


def _by_subcommand(rows: np.ndarray, sub_list: list[str | None]) -> dict[str | None, np.ndarray]:
    groups: dict[str | None, list[int]] = {}
    for r in rows.tolist():
        groups.setdefault(sub_list[r], []).append(r)
    return {k: np.array(v, dtype=np.int64) for k, v in groups.items()}


def _client_columns(client: pa.Array) -> tuple[pa.Array, pa.Array, pa.Array]:
    """client_kind, host and port, computed once per distinct source."""
    enc = pc.dictionary_encode(client)
    uniq = enc.dictionary.to_pylist()
    facts = [grammar.classify_source(s) for s in uniq]
    kind = pc.dictionary_encode(pa.array([f[0] for f in facts], pa.string()).take(enc.indices))
    host = pc.dictionary_encode(pa.array([f[1] for f in facts], pa.string()).take(enc.indices))
    port = pa.array([f[2] for f in facts], pa.int32()).take(enc.indices)
    return kind, host, port

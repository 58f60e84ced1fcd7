"""Key-pattern fingerprints: ``user:42:profile`` -> ``user:{int}:profile``. No I/O.

A key is split on the delimiters (``:`` by default); every segment that is
entirely an id is replaced by a named placeholder, checked in this order:

==========  ===============================================================
``{uuid}``  ``8-4-4-4-12`` hex digits
``{date}``  ``2026-11-25``, ``2026.11.25``, ``2026_11_25``, ``20261125`` (a real day, 1970-2199)
``{epoch}`` 10 digits (seconds) or 13 digits (ms) from 2001-09-09 to 2100-01-01;
            it beats ``{int}``
``{int}``   ``-?[0-9]+``
``{ip}``    IPv4 (``10.0.0.1``), IPv6 as one segment (``[::1]``, or bare when
            ``:`` is not a delimiter); see below for IPv6 in ``:`` keys
``{ulid}``  26 Crockford base-32 characters, first one 0-7
``{hex}``   ``0x``-prefixed hex, or one-case hex of at least
            ``PatternRules.hex_min_len`` (16) characters, or of 8+ characters
            mixing digits and letters -- so ``cafe``, ``beef``, ``facade`` stay words
==========  ===============================================================

A segment ``word_<id>`` or ``word-<id>`` (a head holding a letter, then ``_``
or ``-``, then a placeholder) keeps the head: ``item_123`` -> ``item_{int}``,
``log-2026-11-25`` -> ``log-{date}``. Digits glued to a word stay (``v2``,
``user42``): they are usually names, not ids.

Redis Cluster hash tags (the text between the first ``{`` and the first ``}``
after it, when non-empty) keep their braces, and their inside is fingerprinted
too, with two differences: placeholders are written ``<int>`` (``{user42}`` ->
``{user<int>}``; ``{42}`` -> ``{<int>}``) so braces never nest and the text is
not changed by invented delimiters, and digits glued to a word are an id (a
hash tag exists to co-locate one entity's keys). A would-be hash tag whose
inside holds another ``{`` is taken as plain text, so our own ``{int}`` output
never turns into a hash tag when fingerprinted again.

IPv6 with ``:`` delimiters: ``[::1]`` (bracketed) is ``{ip}``; a bare address
is recognised only at the end of the key, holding a digit and either ``::`` or
all eight groups (``rate:2001:db8::1`` -> ``rate:{ip}``; ``a::b`` stays).

Fingerprinting is idempotent for the built-in rules and never raises on text.

Example::

    >>> fingerprint("{tenant7}:session:0b1e6f1c-2a57-4c8e-9a53-0d3c5f1e8b2a")
    '{tenant<int>}:session:{uuid}'
"""

from __future__ import annotations

import datetime
import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError

UUID, DATE, EPOCH, INT, IP, ULID, HEX = "uuid", "date", "epoch", "int", "ip", "ulid", "hex"
BUILTIN_PLACEHOLDERS: tuple[str, ...] = (UUID, DATE, EPOCH, INT, IP, ULID, HEX)

HEX_MIN_LEN = 16  # one-case hex this long is an id even without digits ("deadbeefcafebabe")
HEX_MIXED_MIN_LEN = 8  # hex mixing digits and letters is an id from this length ("5f2b9c01")
EPOCH_S_RANGE = (1_000_000_000, 4_102_444_800)  # 2001-09-09 .. 2100-01-01, in seconds

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
_DATE = re.compile(r"(\d{4})([-._]?)(\d{2})\2(\d{2})", re.A)
_INT = re.compile(r"-?[0-9]+")
_DIGIT = re.compile(r"[0-9]")
_EPOCH = re.compile(r"[0-9]{10}|[0-9]{13}")
_IPV4 = re.compile(r"[0-9]{1,3}(?:\.[0-9]{1,3}){3}")
_IPV6_CHARS = re.compile(r"\[?[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*(?:%\w+)?\]?", re.A)
_ULID = re.compile(r"[0-7][0-9A-HJKMNP-TV-Z]{25}|[0-7][0-9a-hjkmnp-tv-z]{25}")
_HEX = re.compile(r"0x[0-9a-fA-F]+|[0-9a-f]+|[0-9A-F]+")
_HEX_GROUP = re.compile(r"[0-9A-Fa-f]{0,4}|[0-9]{1,3}(?:\.[0-9]{1,3}){3}")  # one IPv6 group
_WORD_HEAD = re.compile(r"[^{}]*[^\W\d_][^{}]*", re.S)  # holds a letter; braces belong to tags
_GLUED = re.compile(r"(.*[^\W\d_])([0-9]+)", re.S)  # word then digits, inside hash tags


def _is_date(seg: str) -> bool:
    m = _DATE.fullmatch(seg)
    if not m or not 1970 <= int(m[1]) < 2200:
        return False
    try:
        datetime.date(int(m[1]), int(m[3]), int(m[4]))
    except ValueError:
        return False
    return True


def _is_epoch(seg: str) -> bool:
    if not _EPOCH.fullmatch(seg):
        return False
    low, high = EPOCH_S_RANGE
    scale = 1 if len(seg) == 10 else 1000
    return low * scale <= int(seg) < high * scale


def _is_ipv6(text: str) -> bool:
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


def _is_ip(seg: str) -> bool:
    if _IPV4.fullmatch(seg):
        return all(int(part) <= 255 for part in seg.split("."))
    if not _IPV6_CHARS.fullmatch(seg):
        return False
    if seg.startswith("[") != seg.endswith("]"):
        return False
    return _is_ipv6(seg.strip("[]"))


def _is_hex(seg: str, rules: PatternRules) -> bool:
    if not _HEX.fullmatch(seg):
        return False
    if seg.startswith("0x") and len(seg) > 2:
        return True
    mixed = not seg.isdigit() and any(c.isdigit() for c in seg)
    return len(seg) >= rules.hex_min_len or (mixed and len(seg) >= HEX_MIXED_MIN_LEN)


_BUILTIN: dict[str, Callable[[str, PatternRules], bool]] = {
    UUID: lambda s, r: bool(_UUID.fullmatch(s)),
    DATE: lambda s, r: _is_date(s),
    EPOCH: lambda s, r: _is_epoch(s),
    INT: lambda s, r: bool(_INT.fullmatch(s)),
    IP: lambda s, r: _is_ip(s),
    ULID: lambda s, r: bool(_ULID.fullmatch(s)),
    HEX: _is_hex,
}

PatternRule = tuple["str | re.Pattern[str]", str]


def _compile(pairs: tuple[PatternRule, ...], what: str) -> tuple[tuple[re.Pattern[str], str], ...]:
    compiled = []
    for pair in pairs:
        try:
            regex, name = pair
            compiled.append((re.compile(regex), str(name)))
        except (TypeError, ValueError, re.error) as exc:
            raise InputError(
                f"PatternRules.{what}: bad rule {pair!r} ({exc}); "
                "give (regex, name) pairs, e.g. ((r'[a-z]{2}-[A-Z]{2}', 'locale'),)"
            ) from None
    return tuple(compiled)


@dataclass(frozen=True)
class PatternRules:
    """How keys are fingerprinted.

    ``delimiters``: each character splits segments. ``placeholders``: the
    built-in kinds to use (a subset of ``BUILTIN_PLACEHOLDERS``; order is
    ignored, the documented order applies). ``extra``: ``(regex, name)`` pairs
    tried on each segment (full match) before the built-ins; a match becomes
    ``{name}``. ``rules``: ``(regex, pattern)`` pairs tried on the whole key
    (``re.search``, so anchor them) before anything else; the first match
    returns ``pattern`` as is.

    Example::

        >>> rules = PatternRules(delimiters=":/", extra=((r"[a-z]{2}-[A-Z]{2}", "locale"),),
        ...                      rules=((r"^cache:page:", "cache:page:*"),))
        >>> fingerprint("i18n/en-GB:42", rules), fingerprint("cache:page:/a/b", rules)
        ('i18n/{locale}:{int}', 'cache:page:*')
    """

    delimiters: str = ":"
    placeholders: tuple[str, ...] = BUILTIN_PLACEHOLDERS
    extra: tuple[PatternRule, ...] = ()
    rules: tuple[PatternRule, ...] = ()
    hex_min_len: int = HEX_MIN_LEN
    _extra: tuple[tuple[re.Pattern[str], str], ...] = field(init=False, repr=False, compare=False)
    _rules: tuple[tuple[re.Pattern[str], str], ...] = field(init=False, repr=False, compare=False)
    _split: re.Pattern[str] | None = field(init=False, repr=False, compare=False)
    _kinds: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.delimiters, str) or set(self.delimiters) & set("{}[]"):
            raise InputError(
                f"PatternRules.delimiters must be a string of characters other than braces "
                f"and brackets (they mark hash tags and IPv6), got {self.delimiters!r}; e.g. ':/'"
            )
        unknown = set(self.placeholders) - set(BUILTIN_PLACEHOLDERS)
        if unknown:
            raise InputError(
                f"PatternRules.placeholders: unknown {sorted(unknown)}; "
                f"choose from {list(BUILTIN_PLACEHOLDERS)} (add your own with extra=)"
            )
        split = re.compile(f"([{re.escape(self.delimiters)}])") if self.delimiters else None
        kinds = tuple(k for k in BUILTIN_PLACEHOLDERS if k in self.placeholders)
        object.__setattr__(self, "_extra", _compile(tuple(self.extra), "extra"))
        object.__setattr__(self, "_rules", _compile(tuple(self.rules), "rules"))
        object.__setattr__(self, "_split", split)
        object.__setattr__(self, "_kinds", kinds)


DEFAULT_RULES = PatternRules()

Wrap = Callable[[str], str]


def _braces(name: str) -> str:
    return "{" + name + "}"


def _angles(name: str) -> str:
    return "<" + name + ">"


def _kind(seg: str, rules: PatternRules) -> str | None:
    """The placeholder name for a segment that is entirely an id, else None."""
    for regex, name in rules._extra:
        if regex.fullmatch(seg):
            return name
    # Strategy: every built-in id holds an ASCII digit except long hex / UUIDs
    # and IPv6 such as "[::]"; most segments are short words, so skip them here.
    if not seg or (len(seg) < rules.hex_min_len and ":" not in seg and not _DIGIT.search(seg)):
        return None
    for kind in rules._kinds:
        if _BUILTIN[kind](seg, rules):
            return kind
    return None


def _segment(seg: str, rules: PatternRules, wrap: Wrap, glued: bool) -> str:
    kind = _kind(seg, rules)
    if kind is not None:
        return wrap(kind)
    # word_<id> / word-<id>: the first joiner whose tail is an id, so that
    # "log-2026-11-25" is a date, not "log-2026-11-{int}".
    for pos, char in enumerate(seg):
        if char in "_-" and _WORD_HEAD.fullmatch(seg, 0, pos):
            kind = _kind(seg[pos + 1 :], rules)
            if kind is not None:
                return seg[: pos + 1] + wrap(kind)
    if glued and (m := _GLUED.fullmatch(seg)):
        kind = _kind(m[2], rules)
        if kind is not None:
            return m[1] + wrap(kind)
    return seg


def _ipv6_end(segs: list[str], seps: list[str], start: int, tail_from: int) -> int | None:
    """End (exclusive) of an IPv6 address split over segs[start:], or None."""
    seg = segs[start]
    if seg.startswith("[") and not seg.endswith("]"):
        for end in range(start + 1, len(segs)):
            if seps[end - 1] != ":":
                return None
            if segs[end].endswith("]"):
                text = ":".join(segs[start : end + 1])[1:-1]
                return end + 1 if _is_ipv6(text) else None
        return None
    if start < tail_from or len(segs) - start < 3:
        return None
    text = ":".join(segs[start:])
    groups = len(segs) - start
    if ("::" in text or groups == 8) and any(c.isdigit() for c in text) and _is_ipv6(text):
        return len(segs)
    return None


def _hex_tail_start(segs: list[str], seps: list[str]) -> int:
    """Index of the first segment of the longest run of IPv6 groups ending the key."""
    start = len(segs)
    while start > 0 and _HEX_GROUP.fullmatch(segs[start - 1]):
        if start < len(segs) and seps[start - 1] != ":":
            break
        start -= 1
    return start


def _render(text: str, rules: PatternRules, wrap: Wrap, glued: bool) -> str:
    """Fingerprint text holding no hash tag: split, classify, join."""
    parts = rules._split.split(text) if rules._split else [text]
    segs, seps = parts[0::2], parts[1::2]
    maybe_v6 = "::" in text or "[" in text or text.count(":") >= 7
    v6 = maybe_v6 and ":" in rules.delimiters and IP in rules._kinds
    tail_from = _hex_tail_start(segs, seps) if v6 else len(segs)
    out: list[str] = []
    i = 0
    while i < len(segs):
        end = _ipv6_end(segs, seps, i, tail_from) if v6 else None
        if end is None:
            out.append(_segment(segs[i], rules, wrap, glued))
            end = i + 1
        else:
            out.append(wrap(IP))
        if end <= len(seps):
            out.append(seps[end - 1])
        i = end
    return "".join(out)


def _hash_tag(key: str) -> tuple[int, int] | None:
    """(start, end) of the braces of the key's Redis Cluster hash tag, if it has one."""
    start = key.find("{")
    if start < 0:
        return None
    end = key.find("}", start + 1)
    if end <= start + 1 or "{" in key[start + 1 : end]:
        return None
    return start, end


def fingerprint(key: str, rules: PatternRules = DEFAULT_RULES) -> str:
    """The key with each id segment replaced by a named placeholder.

    Example::

        >>> fingerprint("user:42:profile"), fingerprint("rate:10.0.0.1"), fingerprint("item_123")
        ('user:{int}:profile', 'rate:{ip}', 'item_{int}')
    """
    if not isinstance(key, str):
        key = _as_text(key)
    for regex, pattern in rules._rules:
        if regex.search(key):
            return pattern
    tag = _hash_tag(key)
    if tag is None:
        return _render(key, rules, _braces, glued=False)
    start, end = tag
    inside = _render(key[start + 1 : end], rules, _angles, glued=True)
    # The text touching the braces up to the nearest delimiter belongs to the
    # tag's segment and stays as written: "pre{x}post:42" -> "pre{x}post:{int}".
    before, after = key[:start], key[end + 1 :]
    cut = max((before.rfind(d) for d in rules.delimiters), default=-1)
    left = _render(before[:cut], rules, _braces, glued=False) + before[cut] if cut >= 0 else ""
    cuts = [i for i in (after.find(d) for d in rules.delimiters) if i >= 0]
    stop = min(cuts, default=len(after))
    right = after[stop] + _render(after[stop + 1 :], rules, _braces, glued=False) if cuts else ""
    return left + before[cut + 1 :] + "{" + inside + "}" + after[:stop] + right


def _as_text(value: Any) -> str:
    """A key cell as text: bytes are decoded with \\xHH for undecodable bytes."""
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", "backslashreplace")
    return str(value)


def key_patterns(keys: pd.Series, rules: PatternRules = DEFAULT_RULES) -> pd.Series:
    """The fingerprint of every key, as a new ``str`` Series named ``pattern``.

    Each distinct key is fingerprinted once, so cost follows the number of
    distinct keys, not rows. Index is kept; nulls stay null. Non-text cells are
    converted with ``str`` (bytes decoded, bad bytes as ``\\xHH``).

    Example::

        >>> key_patterns(pd.Series(["user:1", None, "user:2"])).tolist()
        ['user:{int}', nan, 'user:{int}']
    """
    codes, uniques = pd.factorize(keys, use_na_sentinel=True)
    found = np.array([fingerprint(_as_text(k), rules) for k in uniques] + [None], dtype=object)
    # code -1 (a null) picks the trailing None.
    return pd.Series(found[codes], index=keys.index, name="pattern", dtype="str")

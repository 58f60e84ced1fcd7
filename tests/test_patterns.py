"""Key-pattern fingerprints: a table of keys, user rules, properties, and the Series API."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from monitorlens.errors import InputError
from monitorlens.analysis.patterns import BUILTIN_PLACEHOLDERS, PatternRules, fingerprint, key_patterns

UUID = "0b1e6f1c-2a57-4c8e-9a53-0d3c5f1e8b2a"
SHA1 = "5f2b0c9e3a1d4b6f8e7c2a1b0d9e8f7a6b5c4d3e"  # 40 hex digits
MD5 = "d41d8cd98f00b204e9800998ecf8427e"  # md5 of ""
SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"  # sha256 of ""
ULID = "01ARZ3NDEKTSV4RRFFQ69G5FAV"  # the example in the ULID spec


@pytest.mark.parametrize(
    "key, expected",
    [
        # integers, and where they are not ids
        ("user:42:profile", "user:{int}:profile"),
        ("42", "{int}"),
        ("counter:-5", "counter:{int}"),
        ("v2:config", "v2:config"),
        ("user42:cart", "user42:cart"),  # glued digits are part of a name outside hash tags
        ("item_123", "item_{int}"),
        ("item-123:views", "item-{int}:views"),
        ("a_b_42", "a_b_{int}"),
        ("_42", "_42"),  # no word before the joiner
        # ids with a shape
        (f"session:{UUID}", "session:{uuid}"),
        (f"session:{UUID.upper()}", "session:{uuid}"),
        (f"sess_{UUID}", "sess_{uuid}"),
        (f"obj:{SHA1}", "obj:{hex}"),
        (f"etag:{MD5}", "etag:{hex}"),
        (f"blob:{SHA256}", "blob:{hex}"),
        ("obj:5f2b9c01", "obj:{hex}"),  # 8 hex chars mixing digits and letters
        ("obj:0xdeadbeef", "obj:{hex}"),
        ("menu:cafe:beef", "menu:cafe:beef"),  # short hex-only words stay words
        ("word:facade:decade", "word:facade:decade"),
        ("obj:DeadBeefCafeBabe", "obj:DeadBeefCafeBabe"),  # mixed case: CamelCase, not hex
        (f"job:{ULID}", "job:{ulid}"),
        # times
        ("ts:1700000000", "ts:{epoch}"),
        ("ts:1700000000123", "ts:{epoch}"),
        ("n:9999999999", "n:{int}"),  # 10 digits but after 2100
        ("n:0000000001", "n:{int}"),  # 10 digits but before 2001
        ("log:2026-11-25", "log:{date}"),
        ("log:20261125", "log:{date}"),
        ("log:2026_11_25:errors", "log:{date}:errors"),
        ("log:20261325", "log:{int}"),  # month 13: a number, not a date
        ("log-2026-11-25", "log-{date}"),
        # addresses
        ("rate:10.0.0.1", "rate:{ip}"),
        ("rate:10.0.0.1:6379", "rate:{ip}:{int}"),
        ("rate:300.0.0.1", "rate:300.0.0.1"),
        ("rate:[::1]", "rate:{ip}"),
        ("rate:[2001:db8::7]:hits", "rate:{ip}:hits"),
        ("rate:::1", "rate:{ip}"),
        ("rate:2001:db8::1", "rate:{ip}"),
        ("a::b", "a::b"),  # a valid IPv6 address, but no digit: two words and an empty segment
        ("cafe::beef", "cafe::beef"),
        # hash tags
        ("{user42}:cart", "{user<int>}:cart"),
        ("{tenant7}:user:9", "{tenant<int>}:user:{int}"),
        ("{42}:cart", "{<int>}:cart"),
        ("{user:42}:cart", "{user:<int>}:cart"),  # a tag may hold the delimiter
        (f"{{{UUID}}}:cart", "{<uuid>}:cart"),
        ("{cart}:42", "{cart}:{int}"),
        ("pre{x42}post:42", "pre{x<int>}post:{int}"),
        ("7:{a}:{8}", "{int}:{a}:{8}"),  # only the first tag is one (Redis Cluster rule)
        ("{}:42", "{}:{int}"),  # empty braces are no tag
        ("{a{b}:42", "{a{b}:{int}"),  # a tag holding '{' is taken as text
        ("{:42", "{:{int}"),
        # delimiters and odd text
        ("", ""),
        (":", ":"),
        ("user:42:", "user:{int}:"),
        (":42", ":{int}"),
        ("café:1", "café:{int}"),
        ("café_1", "café_{int}"),
        ("user:\\xff\\xfe:42", "user:\\xff\\xfe:{int}"),
        ("a b:42 ", "a b:42 "),
        ("user:٤٢", "user:٤٢"),  # only ASCII digits are integers
        ("path/42:7", "path/42:{int}"),  # '/' is not a delimiter by default
    ],
)
def test_fingerprint_table(key: str, expected: str) -> None:
    assert fingerprint(key) == expected


@pytest.mark.parametrize(
    "key, expected",
    [
        ("img/42/thumb:7", "img/{int}/thumb:{int}"),
        ("a/b:c", "a/b:c"),
        ("{t1}/x/5", "{t<int>}/x/{int}"),
    ],
)
def test_several_delimiters(key: str, expected: str) -> None:
    assert fingerprint(key, PatternRules(delimiters=":/")) == expected


def test_no_delimiter_classifies_whole_key() -> None:
    rules = PatternRules(delimiters="")
    assert fingerprint("user:42", rules) == "user:42"
    assert fingerprint("2001:db8::1", rules) == "{ip}"
    assert fingerprint("1700000000", rules) == "{epoch}"


def test_ipv6_without_colon_delimiter_is_one_segment() -> None:
    assert fingerprint("rate/2001:db8::1", PatternRules(delimiters="/")) == "rate/{ip}"


def test_extra_rules_run_before_builtins() -> None:
    rules = PatternRules(extra=((r"[a-z]{2}-[A-Z]{2}", "locale"), (r"[0-9]{5}", "zip")))
    assert fingerprint("page:en-GB:42", rules) == "page:{locale}:{int}"
    assert fingerprint("addr:75001", rules) == "addr:{zip}"  # would be {int} without the rule
    assert fingerprint("addr:750011", rules) == "addr:{int}"  # full match only
    assert fingerprint("{fr-FR}:x", rules) == "{<locale>}:x"
    assert fingerprint("page_fr-FR", rules) == "page_{locale}"


def test_whole_key_rules_short_circuit() -> None:
    rules = PatternRules(rules=((r"^cache:page:.*$", "cache:page:*"), (re.compile(r"^tmp:"), "tmp:*")))
    assert fingerprint("cache:page:/a/42?x=1", rules) == "cache:page:*"
    assert fingerprint("tmp:42", rules) == "tmp:*"
    assert fingerprint("cache:user:42", rules) == "cache:user:{int}"


def test_placeholders_subset() -> None:
    rules = PatternRules(placeholders=("int",))
    assert fingerprint("ts:1700000000", rules) == "ts:{int}"
    assert fingerprint(f"s:{UUID}", rules) == f"s:{UUID}"
    assert fingerprint("rate:[::1]", rules) == "rate:[::1]"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"placeholders": ("int", "timestamp")},
        {"extra": ((r"(", "x"),)},
        {"extra": (("x",),)},
        {"rules": ((r"[", "x"),)},
        {"delimiters": "{"},
    ],
)
def test_bad_rules_are_input_errors(kwargs: dict) -> None:
    with pytest.raises(InputError, match="PatternRules"):
        PatternRules(**kwargs)


def test_rules_are_frozen_and_comparable() -> None:
    assert PatternRules() == PatternRules()
    assert set(PatternRules().placeholders) == set(BUILTIN_PLACEHOLDERS)
    with pytest.raises(AttributeError):
        PatternRules().delimiters = "/"  # type: ignore[misc]


# --- properties -------------------------------------------------------------

# Keys built from the characters the rules care about, plus any text at all.
KEY_CHARS = st.sampled_from(list("ab0123456789:{}[]<>_-.xfF/ é\\"))
KEY_TEXT = st.text(alphabet=KEY_CHARS, max_size=30) | st.text(max_size=30)


@settings(max_examples=600, deadline=None)
@given(KEY_TEXT)
def test_never_raises_and_is_idempotent(key: str) -> None:
    once = fingerprint(key)
    assert isinstance(once, str)
    assert fingerprint(once) == once


@settings(max_examples=300, deadline=None)
@given(KEY_TEXT)
def test_idempotent_with_several_delimiters(key: str) -> None:
    rules = PatternRules(delimiters=":/.")
    once = fingerprint(key, rules)
    assert fingerprint(once, rules) == once


WORD = st.from_regex(r"[a-z][a-z_]{0,7}", fullmatch=True)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(WORD, max_size=3),
    st.lists(WORD, max_size=3),
    st.integers(0, 9_999_999),  # below 8 digits: never a date or an epoch
    st.integers(0, 9_999_999),
)
def test_keys_differing_in_an_int_segment_share_a_pattern(
    before: list[str], after: list[str], a: int, b: int
) -> None:
    def key(n: int) -> str:
        return ":".join([*before, str(n), *after])

    assert fingerprint(key(a)) == fingerprint(key(b))
    assert "{int}" in fingerprint(key(a))


# --- Series API ---------------------------------------------------------------


def test_key_patterns_keeps_index_and_nulls() -> None:
    keys = pd.Series(["user:1", None, "user:2", "{t9}:x", b"raw:\xff:3"], index=[10, 20, 30, 40, 50])
    out = key_patterns(keys)
    assert out.index.tolist() == [10, 20, 30, 40, 50]
    assert out.name == "pattern"
    assert out.isna().tolist() == [False, True, False, False, False]
    assert out.drop(20).tolist() == ["user:{int}", "user:{int}", "{t<int>}:x", "raw:\\xff:{int}"]
    assert keys.tolist()[0] == "user:1"  # input untouched


def test_key_patterns_empty_and_all_null() -> None:
    assert key_patterns(pd.Series([], dtype="str")).empty
    assert key_patterns(pd.Series([None, None], dtype="str")).isna().all()


def test_key_patterns_computes_each_distinct_key_once(monkeypatch: pytest.MonkeyPatch) -> None:
    import monitorlens.analysis.patterns as patterns

    seen: list[str] = []
    real = patterns.fingerprint

    def counting(key: str, rules: PatternRules = patterns.DEFAULT_RULES) -> str:
        seen.append(key)
        return real(key, rules)

    monkeypatch.setattr(patterns, "fingerprint", counting)
    keys = pd.Series(["a:1", "a:2", "a:1", "a:1", None] * 50)
    out = patterns.key_patterns(keys)
    assert sorted(seen) == ["a:1", "a:2"]
    assert (out.dropna() == "a:{int}").all()

"""Shared machinery of the reader fuzz tests: bounded settings, input mutators, the property.

The property checked everywhere: a reader given hostile input either returns or raises one of
the project's own errors (:class:`~wsal.errors.WsalError`); any other exception (``KeyError``,
``TypeError``, ``UnicodeDecodeError``, pickle errors, ...) escapes and fails the test.

Runs are reproducible (``derandomize=True``, no example database) and bounded: every test sets
its own ``max_examples`` and the suite tries a few thousand inputs in total.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from wsal.errors import WsalError

#: Interesting byte strings spliced into text formats (numbers at the edges, JSON literals,
#: separators, path tricks, invalid UTF-8).
TOKENS: tuple[bytes, ...] = (
    b"NaN",
    b"nan",
    b"Infinity",
    b"-Infinity",
    b"inf",
    b"1e309",
    b"-1",
    b"0",
    b"-0.0",
    b"1e-320",
    b"99999999999999999999999999",
    b"9" * 400,
    b"null",
    b"true",
    b'""',
    b"[]",
    b"{}",
    b"[[]]",
    b"\x00",
    b"\xff\xfe",
    b"\xc3",
    b",",
    b",,",
    b"\n",
    b"\r\n",
    b"\t",
    b" ",
    b"../",
    b"/",
    b"\\",
    b"'",
    b'"',
    b"#",
    b":",
    b"{",
    b"}",
)


def fuzz_settings(max_examples: int) -> settings:
    """Hypothesis settings of one fuzz test: reproducible, no deadline, ``max_examples`` inputs."""
    return settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.function_scoped_fixture,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
        ],
    )


def only_wsal_errors(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call ``fn``; a :class:`WsalError` is an accepted outcome (returns None), any other
    exception propagates and fails the calling test."""
    try:
        return fn(*args, **kwargs)
    except WsalError as e:
        assert str(e), "errors must carry a message"
        return None


# --------------------------------------------------------------------------------------------
# Byte-level mutations
# --------------------------------------------------------------------------------------------


@st.composite
def mutated_bytes(draw: st.DrawFn, data: bytes, max_ops: int = 4) -> bytes:
    """``data`` after 1..``max_ops`` random edits: truncation, byte flips, insertions of random
    bytes or of :data:`TOKENS`, deletions and duplications of ranges."""
    buf = bytearray(data)
    ops = draw(
        st.lists(
            st.sampled_from(["truncate", "flip", "insert", "token", "delete", "dup"]),
            min_size=1,
            max_size=max_ops,
        )
    )
    for op in ops:
        n = len(buf)
        pos = draw(st.integers(0, n))
        if op == "truncate":
            del buf[pos:]
        elif op == "flip" and n:
            buf[min(pos, n - 1)] = draw(st.integers(0, 255))
        elif op == "insert":
            buf[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        elif op == "token":
            width = draw(st.integers(0, 6))
            buf[pos : pos + width] = draw(st.sampled_from(TOKENS))
        elif op == "delete":
            del buf[pos : pos + draw(st.integers(1, 16))]
        elif op == "dup":
            buf[pos:pos] = buf[pos : pos + draw(st.integers(1, 32))]
    return bytes(buf)


def hostile_bytes(valid: bytes, max_ops: int = 4) -> st.SearchStrategy[bytes]:
    """Random bytes, the empty file, or a mutation of a valid file (mostly the latter)."""
    return st.one_of(
        st.just(b""),
        st.binary(max_size=64),
        mutated_bytes(valid, max_ops),
        mutated_bytes(valid, max_ops),
        mutated_bytes(valid, max_ops),
    )


# --------------------------------------------------------------------------------------------
# JSON-tree mutations
# --------------------------------------------------------------------------------------------

JSON_LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([math.nan, math.inf, -math.inf, 1e308, -0.0, 2**63, 10**30]),
    st.text(max_size=6),
    st.sampled_from(["NaN", "inf", "1e999", "-5", "12.5", "", "../x", "/abs", "a\x00b"]),
)
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)


def _paths(node: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path (tuple of keys/indices) of a JSON tree, the root ``()`` included."""
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += _paths(v, (*prefix, i))
    return out


def _get(node: Any, path: tuple) -> Any:
    for k in path:
        node = node[k]
    return node


@st.composite
def mutated_json(
    draw: st.DrawFn, doc: Any, max_ops: int = 3, values: st.SearchStrategy = JSON_VALUES
) -> Any:
    """A copy of JSON tree ``doc`` with 1..``max_ops`` edits: a subtree replaced by a random
    JSON value (NaN/Inf, huge numbers, wrong types), a key/item deleted, a key renamed or a
    random entry added. ``values`` draws the replacements (default: any JSON value)."""
    doc = copy.deepcopy(doc)
    for _ in range(draw(st.integers(1, max_ops))):
        path = draw(st.sampled_from(_paths(doc)))
        op = draw(st.sampled_from(["replace", "replace", "delete", "rename", "add"]))
        if not path:
            if op == "replace":
                doc = draw(values)
            continue
        parent, key = _get(doc, path[:-1]), path[-1]
        if op == "replace":
            parent[key] = draw(values)
        elif op == "delete":
            del parent[key]
        elif op == "rename" and isinstance(parent, dict):
            parent[draw(st.text(max_size=6))] = parent.pop(key)
        elif op == "add":
            target = parent[key]
            if isinstance(target, dict):
                target[draw(st.text(max_size=6))] = draw(values)
            elif isinstance(target, list):
                target.append(draw(values))
    return doc


def hostile_json(doc: Any) -> st.SearchStrategy[bytes]:
    """File contents: a JSON-tree mutation of ``doc`` (NaN/Infinity literals allowed) or a
    byte mutation of its valid serialization."""
    valid = json.dumps(doc).encode()
    return st.one_of(
        mutated_json(doc).map(lambda d: json.dumps(d, allow_nan=True).encode()),
        mutated_json(doc).map(lambda d: json.dumps(d, allow_nan=True).encode()),
        hostile_bytes(valid),
    )


# --------------------------------------------------------------------------------------------
# Arrays
# --------------------------------------------------------------------------------------------

DTYPES = st.sampled_from(
    ["<f4", "<f8", "<f2", ">f8", "<i8", "<u2", "|u1", "|b1", "<c8", "<U4", "|S5", "<m8[s]", "|V3"]
)


def _fill(arr: np.ndarray, kind: str) -> np.ndarray:
    if arr.dtype.kind == "f" and arr.size:
        flat = arr.reshape(-1)
        with np.errstate(over="ignore"):  # 1e30 is inf in float16: fine, also hostile
            flat[: len(flat) // 2] = {"nan": np.nan, "inf": np.inf, "big": 1e30}.get(kind, 0.0)
    return arr


@st.composite
def random_arrays(draw: st.DrawFn) -> np.ndarray:
    """Arrays of random dtype (numeric, string, complex, void, datetime) and shape (0-d to 3-d,
    empty dimensions included), some holding NaN/Inf, and object arrays of mixed content."""
    if draw(st.integers(0, 4)) == 0:
        items = draw(
            st.lists(
                st.one_of(
                    st.none(),
                    st.integers(-5, 5),
                    st.text(max_size=4),
                    st.binary(max_size=4),
                    st.lists(st.floats(allow_nan=True), max_size=3),
                    st.just(np.zeros((2, 3), np.float32)),
                    st.just(np.full((2, 2), np.nan)),
                    st.just(np.zeros(3, np.int8)),
                ),
                max_size=4,
            )
        )
        arr = np.empty(len(items), dtype=object)
        for i, x in enumerate(items):
            arr[i] = x
        return arr
    shape = tuple(draw(st.lists(st.integers(0, 4), max_size=3)))
    arr = np.zeros(shape, dtype=np.dtype(draw(DTYPES)))
    return _fill(arr, draw(st.sampled_from(["zero", "nan", "inf", "big"])))


def npy_bytes(arr: np.ndarray) -> bytes:
    """The ``.npy`` serialization of ``arr`` (object arrays pickled, as the W-TALC files are)."""
    import io

    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=True)
    return buf.getvalue()


def write(path: Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` (parents created) and return ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path

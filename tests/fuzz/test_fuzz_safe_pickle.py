"""Fuzz tests of the restricted unpickler and of ``load_npy`` (wsal.io.safe_pickle): random and
mutated pickles and ``.npy`` files (headers included) raise only :class:`FormatError`."""

from __future__ import annotations

import pickle

import numpy as np
from fuzzing import fuzz_settings, hostile_bytes, npy_bytes, only_wsal_errors, random_arrays, write
from hypothesis import given
from hypothesis import strategies as st

from wsal.io.safe_pickle import load_npy, safe_pickle_load

PICKLE_SEEDS = [
    {"a": [1, 2.5, "x", b"y", None, True], "b": (1, {2, 3}, frozenset([4]))},
    np.arange(6, dtype=np.uint16).reshape(2, 3),
    [np.float32(1.5), np.int64(7), np.array(["a", "bc"]), complex(1, 2)],
]


@fuzz_settings(125)
@given(data=st.data())
def test_safe_pickle_load(tmp_path, data):
    seed = data.draw(st.sampled_from(PICKLE_SEEDS))
    protocol = data.draw(st.sampled_from([0, 2, 4, 5]))
    path = write(tmp_path / "x.pkl", data.draw(hostile_bytes(pickle.dumps(seed, protocol))))
    only_wsal_errors(safe_pickle_load, path)


NPY_SEEDS = [
    np.zeros((3, 4), np.float32),
    np.array([b"video_validation_0000051", b"v2"]),
    np.array([[1.5], [2.0]]),
    np.array([[[0, 1]], [[2, 3]]], dtype=">i4"),
]


@st.composite
def npy_contents(draw: st.DrawFn) -> bytes:
    """Random arrays, object arrays, and byte mutations (headers included) of valid files."""
    if draw(st.booleans()):
        return npy_bytes(draw(random_arrays()))
    seed = draw(st.sampled_from(NPY_SEEDS))
    if draw(st.integers(0, 3)) == 0:
        obj = np.empty(2, dtype=object)
        obj[0], obj[1] = [[1.0, 2.0]], seed
        seed = obj
    return draw(hostile_bytes(npy_bytes(seed), max_ops=3))


@fuzz_settings(150)
@given(content=npy_contents(), mmap=st.sampled_from([None, "r"]))
def test_load_npy(tmp_path, content, mmap):
    path = write(tmp_path / "x.npy", content)
    arr = only_wsal_errors(load_npy, path, mmap_mode=mmap)
    if arr is not None:
        assert isinstance(arr, np.ndarray)
        del arr  # release a memory map before the next example rewrites the file


HEADER_VALUES = st.one_of(
    st.sampled_from(["<f8", "|O", "<U0", "|V0", "zz", "<f8;", "(2,)<f4", "", "O"]),
    st.lists(
        st.tuples(st.sampled_from(["a", "", "b"]), st.sampled_from(["<f4", "|O", "<i2"])),
        max_size=2,
    ),
    st.tuples(*[st.integers(-(2**70), 2**70)] * 2),
    st.tuples(st.integers(0, 10**13)),
    st.integers(-5, 10**12),
    st.booleans(),
    st.none(),
    st.floats(allow_nan=True),
)


@st.composite
def npy_headers(draw: st.DrawFn) -> bytes:
    """``.npy`` files whose header dictionary holds random descr/shape/fortran_order values
    (huge and negative dimensions, unknown dtypes, object fields) over a short body."""
    import struct

    header = {"descr": "<f8", "fortran_order": False, "shape": (2,)}
    for key in draw(
        st.lists(st.sampled_from(["descr", "fortran_order", "shape", "extra"]), max_size=3)
    ):
        header[key] = draw(HEADER_VALUES)
    text = repr(header).encode("latin1")
    version = draw(st.sampled_from([1, 2, 3]))
    size = struct.pack("<H" if version == 1 else "<I", len(text) + 1)
    return b"\x93NUMPY" + bytes([version, 0]) + size + text + b"\n" + draw(st.binary(max_size=24))


@fuzz_settings(75)
@given(content=npy_headers(), mmap=st.sampled_from([None, "r"]))
def test_load_npy_headers(tmp_path, content, mmap):
    path = write(tmp_path / "h.npy", content)
    arr = only_wsal_errors(load_npy, path, mmap_mode=mmap)
    del arr

"""The restricted unpickler rejects code execution and reads real object arrays."""

import os
import pickle

import numpy as np
import pytest

from wsal.errors import FormatError
from wsal.io.atomic import save_npy_atomic, write_json_atomic
from wsal.io.safe_pickle import load_npy, safe_pickle_load


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _evil_npy(path, marker):
    header = {"descr": "|O", "fortran_order": False, "shape": (1,)}
    with open(path, "wb") as fh:
        np.lib.format.write_array_header_1_0(fh, header)
        pickle.dump(np.array([_Evil(marker)], dtype=object), fh, protocol=2)


def test_crafted_pickle_is_rejected_without_running(tmp_path):
    marker = tmp_path / "pwned"
    p = tmp_path / "evil.pkl"
    p.write_bytes(pickle.dumps(_Evil(marker)))
    with pytest.raises(FormatError, match="evil.pkl.*not allowed"):
        safe_pickle_load(p)
    assert not marker.exists()


def test_crafted_npy_is_rejected_without_running(tmp_path):
    marker = tmp_path / "pwned"
    p = tmp_path / "evil.npy"
    _evil_npy(p, marker)
    with pytest.raises(FormatError, match="evil.npy"):
        load_npy(p)
    assert not marker.exists()


def test_object_npy_of_arrays_round_trip(tmp_path):
    arr = np.empty(2, dtype=object)
    arr[0], arr[1] = np.arange(6.0).reshape(3, 2), np.array([b"abc", b"d"])
    p = tmp_path / "obj.npy"
    np.save(p, arr, allow_pickle=True)
    out = load_npy(p)
    np.testing.assert_array_equal(out[0], arr[0])
    assert out[1].tolist() == [b"abc", b"d"]


def test_plain_npy_and_mmap(tmp_path):
    p = tmp_path / "x.npy"
    save_npy_atomic(p, np.ones((4, 3), np.float16))
    m = load_npy(p, mmap_mode="r")
    assert isinstance(m, np.memmap) and m.shape == (4, 3)


@pytest.mark.parametrize("content", [b"", b"not a pickle", pickle.dumps({"a": 1})[:-3]])
def test_malformed_pickles_name_the_file(tmp_path, content):
    p = tmp_path / "bad.pkl"
    p.write_bytes(content)
    with pytest.raises(FormatError, match="bad.pkl"):
        safe_pickle_load(p)


def test_truncated_npy_names_the_file(tmp_path):
    p = tmp_path / "t.npy"
    np.save(p, np.arange(100.0))
    p.write_bytes(p.read_bytes()[:-40])
    with pytest.raises(FormatError, match="t.npy"):
        load_npy(p)
    (tmp_path / "m.npy").write_bytes(b"\x93NUMPY\x01\x00\x05\x00{'de")
    with pytest.raises(FormatError, match="m.npy"):
        load_npy(tmp_path / "m.npy")


def test_missing_file(tmp_path):
    with pytest.raises(FormatError, match="nothere.npy"):
        load_npy(tmp_path / "nothere.npy")


def test_atomic_write_keeps_old_file_on_error(tmp_path):
    p = tmp_path / "out.json"
    write_json_atomic(p, {"a": 1})
    with pytest.raises(ValueError):
        write_json_atomic(p, {"a": float("nan")})
    assert p.read_text().strip() == '{"a": 1}'
    assert [f.name for f in tmp_path.iterdir()] == ["out.json"]

"""Reading pickled annotation files without executing arbitrary code.

Real benchmark annotations ship as pickles (UCF101-24 ``pyannot.pkl``) and object-array
``.npy`` files (the W-TALC layout). ``pickle.load`` and ``np.load(allow_pickle=True)`` run
whatever callable the file names; :class:`RestrictedUnpickler` instead resolves only the
globals numpy needs to rebuild arrays and scalars, and refuses everything else with a
:class:`~wsal.errors.FormatError` before any call happens.
"""

from __future__ import annotations

import ast
import io
import math
import os
import pickle
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from wsal.errors import FormatError

__all__ = [
    "RestrictedUnpickler",
    "restricted_load",
    "safe_pickle_load",
    "load_npy",
    "parse_npy_header",
]


def _no_size_argument(kind: type) -> Any:
    """``bytes``/``bytearray`` as pickles use them (from bytes, text or nothing), refusing the
    integer-size form: ``bytearray(2**40)`` in a hostile file would allocate that much memory."""

    def build(*args: Any) -> Any:
        if args and not isinstance(args[0], (bytes, bytearray, str, list)):
            raise pickle.UnpicklingError(f"{kind.__name__}() called with a size argument")
        return kind(*args)

    return build


_BYTES, _BYTEARRAY = _no_size_argument(bytes), _no_size_argument(bytearray)

_ALLOWED: dict[tuple[str, str], Any] = {
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("builtins", "complex"): complex,
    ("builtins", "bytearray"): _BYTEARRAY,
    ("builtins", "slice"): slice,
    ("builtins", "bytes"): _BYTES,
    ("__builtin__", "set"): set,
    ("__builtin__", "frozenset"): frozenset,
    ("__builtin__", "complex"): complex,
    ("__builtin__", "bytearray"): _BYTEARRAY,
    ("__builtin__", "bytes"): _BYTES,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
}


def _numpy_private(name: str) -> Any:
    from numpy._core import multiarray, numeric

    return {
        "_reconstruct": multiarray._reconstruct,
        "scalar": multiarray.scalar,
        "_frombuffer": numeric._frombuffer,
    }[name]


def _latin1_encode(obj: str, encoding: str = "latin1") -> bytes:
    """The ``_codecs.encode`` that Python-2 era pickles use to store bytes; text only."""
    if not isinstance(obj, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError("_codecs.encode called with unexpected arguments")
    return obj.encode("latin1")


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that can rebuild only builtin containers, numbers, strings, numpy arrays,
    numpy dtypes and numpy scalars. Any other global raises ``pickle.UnpicklingError``."""

    def find_class(self, module: str, name: str) -> Any:  # noqa: D102 - documented on the class
        key = (module, name)
        if key in _ALLOWED:
            return _ALLOWED[key]
        if module in ("numpy.core.multiarray", "numpy._core.multiarray") and name in (
            "_reconstruct",
            "scalar",
        ):
            return _numpy_private(name)
        if module in ("numpy.core.numeric", "numpy._core.numeric") and name == "_frombuffer":
            return _numpy_private(name)
        if key == ("_codecs", "encode"):
            return _latin1_encode
        raise pickle.UnpicklingError(
            f"global '{module}.{name}' is not allowed (only numpy arrays and builtin data)"
        )


def restricted_load(fh: BinaryIO, path: str | Path, encoding: str = "latin1") -> Any:
    """The pickle at the position of binary file ``fh``, read through
    :class:`RestrictedUnpickler`; anything it refuses or cannot parse raises one
    :class:`FormatError` naming ``path``. Reading from the open file (not from its bytes)
    keeps the peak memory of a gigabyte object-array store at one copy."""
    try:
        return RestrictedUnpickler(fh, encoding=encoding).load()
    except pickle.UnpicklingError as e:
        raise FormatError(path, f"refused to unpickle: {e}") from None
    except OSError as e:
        raise FormatError(path, f"cannot read file ({e.strerror or e})") from None
    except (
        EOFError,
        ValueError,
        TypeError,
        AttributeError,
        IndexError,
        KeyError,
        OverflowError,
        MemoryError,
    ) as e:
        raise FormatError(path, f"not a readable pickle ({type(e).__name__}: {e})") from None


def _restricted_loads(data: bytes, path: str | Path, encoding: str) -> Any:
    return restricted_load(io.BytesIO(data), path, encoding)


def safe_pickle_load(path: str | Path, *, encoding: str = "latin1") -> Any:
    """Load a pickle file through :class:`RestrictedUnpickler`.

    ``encoding="latin1"`` reads Python-2 pickles containing numpy arrays correctly.
    Raises :class:`FormatError` naming ``path`` for missing, malformed or disallowed content.
    """
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as e:
        raise FormatError(p, f"cannot read file ({e.strerror or e})") from None
    if not data:
        raise FormatError(p, "empty file, expected a pickle")
    return _restricted_loads(data, p, encoding)


def parse_npy_header(fh: io.BufferedReader, path: Path) -> tuple[np.dtype, tuple[int, ...], bool]:
    magic = fh.read(8)
    if len(magic) < 8 or magic[:6] != b"\x93NUMPY":
        raise FormatError(path, "not a .npy file (bad magic string)")
    major = magic[6]
    hlen_bytes = fh.read(2 if major == 1 else 4)
    if len(hlen_bytes) not in (2, 4) or major not in (1, 2, 3):
        raise FormatError(path, f"unsupported .npy version {major}")
    header_len = int.from_bytes(hlen_bytes, "little")
    raw = fh.read(header_len)
    if len(raw) != header_len:
        raise FormatError(path, "truncated .npy header")
    try:
        header = ast.literal_eval(raw.decode("utf8" if major == 3 else "latin1"))
        dtype = np.lib.format.descr_to_dtype(header["descr"])
        shape = tuple(int(s) for s in header["shape"])
        fortran = bool(header["fortran_order"])
    except (ValueError, SyntaxError, KeyError, TypeError, UnicodeDecodeError) as e:
        raise FormatError(path, f"malformed .npy header ({e})") from None
    if any(s < 0 for s in shape):
        raise FormatError(path, f"negative dimension in .npy shape {shape}")
    if dtype.itemsize == 0 and not dtype.hasobject and math.prod(shape):
        raise FormatError(path, f"zero-size .npy elements of dtype {dtype}")
    return dtype, shape, fortran


def _check_data_size(fh: io.BufferedReader, path: Path, dtype: np.dtype, shape: tuple) -> None:
    """The data after the header must hold the array the header announces (checked before
    anything is allocated: a hostile header may claim terabytes)."""
    need = math.prod(shape) * dtype.itemsize
    have = os.fstat(fh.fileno()).st_size - fh.tell()
    if have < need:
        raise FormatError(
            path,
            f"truncated .npy data: shape {shape} of {dtype} needs {need} bytes, file has {have}",
        )


def load_npy(path: str | Path, *, mmap_mode: str | None = None) -> np.ndarray:
    """Load a ``.npy`` file safely, including object arrays (e.g. the W-TALC annotations).

    Plain numeric arrays go through ``np.load(allow_pickle=False)`` (optionally memory-mapped);
    object arrays are unpickled with :class:`RestrictedUnpickler`. Errors name the file.
    """
    p = Path(path)
    try:
        fh = open(p, "rb")
    except OSError as e:
        raise FormatError(p, f"cannot read file ({e.strerror or e})") from None
    with fh:
        dtype, shape, fortran = parse_npy_header(fh, p)
        if not dtype.hasobject:
            _check_data_size(fh, p, dtype, shape)
            fh.close()
            try:
                return np.load(p, mmap_mode=mmap_mode, allow_pickle=False)
            except (ValueError, OSError, EOFError) as e:
                raise FormatError(p, f"unreadable .npy data ({e})") from None
        arr = _restricted_loads(fh.read(), p, "latin1")
    if not isinstance(arr, np.ndarray):
        raise FormatError(p, f"object .npy did not contain an array but {type(arr).__name__}")
    if arr.shape != shape:
        try:
            arr = arr.reshape(shape, order="F" if fortran else "C")
        except ValueError:
            raise FormatError(
                p, f"object array has shape {arr.shape}, header says {shape}"
            ) from None
    return arr

"""AVA on-disk formats: label maps (``.pbtxt``), box CSVs and the auxiliary keyframe lists.

Files handled (all comma separated, no header, one row per line):

* ground truth ``video_id,timestamp,x1,y1,x2,y2,action_id[,person_id]``;
* detections ``video_id,timestamp,x1,y1,x2,y2,action_id,score``;
* person proposals ``video_id,timestamp,x1,y1,x2,y2,score`` (row ``i`` aligned with row ``i``
  of a box-feature matrix, so rows are never reordered or filtered);
* excluded keyframes ``video_id,timestamp``; video lists and included timestamps (one per line);
* label maps in the two published ``pbtxt`` dialects (``item { name id }`` and
  ``label { name label_id label_type }``).

Boxes are ``x1, y1, x2, y2`` normalized to ``[0, 1]`` (x horizontal); timestamps are integer
keyframe seconds (``"0902"`` reads as 902 and is written back zero-padded to four digits).

The CSV readers are built for million-row files: the file is read once as bytes, field
boundaries are found with vectorized searches over the byte array, and numbers are parsed
column-wise in cache-sized blocks (an exact vectorized decimal fast path; numpy's string
cast, which rounds like ``float()``, only for fields it declines, such as exponents or
17-digit mantissas). Parsed values equal ``float(text)`` exactly. Empty lines are skipped;
every other problem raises :class:`~wsal.errors.FormatError` naming the file and the line.
Quoted CSV fields are not supported (AVA files never quote); fields are not stripped, except
that numbers may carry surrounding spaces. Writers are atomic (temporary file + rename).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from wsal.errors import FormatError
from wsal.io.atomic import atomic_open, write_text_atomic
from wsal.structures import Boxes, KeyframeDetections, KeyframeGroundTruth

__all__ = [
    "LabelMap",
    "ProposalRows",
    "read_labelmap",
    "write_labelmap",
    "read_ava_gt",
    "read_ava_detections",
    "read_ava_proposals",
    "read_excluded_timestamps",
    "read_video_list",
    "read_included_timestamps",
    "write_ava_gt",
    "write_ava_detections",
    "write_ava_proposals",
    "write_excluded_timestamps",
]

_CHUNK = 1 << 15  # rows parsed (or formatted) per vectorized block; bounds temporary memory
_MAX_FAST_WIDTH = 24  # widest field (bytes) given to the vectorized number parser
_MAX_ID_WIDTH = 256  # widest video id gathered into a fixed-width array
_POW10_FLOAT = 10.0 ** np.arange(23)
_TWO_53 = 2**53


# --------------------------------------------------------------------------------------------
# Containers
# --------------------------------------------------------------------------------------------


@dataclass
class LabelMap:
    """An AVA label map: which action ids exist and what they are called.

    Attributes:
        ids: action ids in file order (AVA ids, 1-based, not indices).
        names: ``{id: name}``.
        types: ``{id: label_type}`` (e.g. ``"PERSON_MOVEMENT"``) where the file gives one;
            empty for the ``item { name id }`` dialect.
    """

    ids: list[int]
    names: dict[int, str]
    types: dict[int, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.ids)


@dataclass
class ProposalRows:
    """Person proposals of a keyframe dataset, one row per box, in file order.

    Row ``i`` belongs to row ``i`` of the box-feature matrix stored next to the file, which is
    why readers and writers never reorder or filter rows.

    Attributes:
        video_ids: ``(N,)`` str.
        timestamps: ``(N,)`` int64 keyframe seconds.
        boxes: ``N`` boxes, ``(N, 4)`` x1y1x2y2 normalized.
        scores: ``(N,)`` float64 person-detector confidences.
    """

    video_ids: np.ndarray
    timestamps: np.ndarray
    boxes: Boxes
    scores: np.ndarray

    def __post_init__(self) -> None:
        self.video_ids = np.asarray(self.video_ids, dtype=str).reshape(-1)
        n = self.video_ids.shape[0]
        self.timestamps = np.asarray(self.timestamps, dtype=np.int64).reshape(-1)
        if not isinstance(self.boxes, Boxes):
            self.boxes = Boxes(self.boxes)
        self.scores = np.asarray(self.scores, dtype=np.float64).reshape(-1)
        if not (self.timestamps.shape[0] == len(self.boxes) == self.scores.shape[0] == n):
            raise ValueError(
                "ProposalRows: video_ids, timestamps, boxes and scores differ in length"
            )

    def __len__(self) -> int:
        return int(self.video_ids.shape[0])


# --------------------------------------------------------------------------------------------
# Label maps
# --------------------------------------------------------------------------------------------

_PBTXT_TOKEN = re.compile(
    r"""(?P<ws>[ \t\r\f\v]+)|(?P<nl>\n)|(?P<comment>\#[^\n]*)"""
    r"""|(?P<str>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')"""
    r"""|(?P<punct>[{}:])|(?P<word>[^\s{}:"'\#]+)"""
)
_ID_KEYS = ("id", "label_id")


def _pbtxt_tokens(text: str, path: Path) -> list[tuple[str, str, int]]:
    """Tokenize a pbtxt file into ``(kind, text, line)`` (kinds: str, punct, word)."""
    tokens: list[tuple[str, str, int]] = []
    line, pos = 1, 0
    while pos < len(text):
        m = _PBTXT_TOKEN.match(text, pos)
        if m is None:
            raise FormatError(
                path, f"unexpected text {text[pos : pos + 20]!r}", where=f"line {line}"
            )
        kind = m.lastgroup
        if kind == "nl":
            line += 1
        elif kind in ("str", "punct", "word"):
            tokens.append((kind, m.group(), line))
        pos = m.end()
    return tokens


def _unquote(token: str) -> str:
    """Strip the quotes of a pbtxt string literal and resolve backslash escapes."""
    return re.sub(r"\\(.)", r"\1", token[1:-1])


def _parse_block(
    tokens: list[tuple[str, str, int]], i: int, path: Path
) -> tuple[dict[str, tuple[str, int]], int]:
    """Parse the ``key: value`` fields of a block from just after its ``{``: ``(fields, next)``."""
    fields: dict[str, tuple[str, int]] = {}
    while i < len(tokens):
        kind, text, line = tokens[i]
        if text == "}" and kind == "punct":
            return fields, i + 1
        if kind != "word":
            raise FormatError(
                path, f"expected a field name or '}}', found {text!r}", where=f"line {line}"
            )
        if i + 2 >= len(tokens) or tokens[i + 1][1] != ":" or tokens[i + 2][0] == "punct":
            raise FormatError(path, f"expected '{text}: <value>'", where=f"line {line}")
        vkind, value, _ = tokens[i + 2]
        fields[text] = (_unquote(value) if vkind == "str" else value, line)
        i += 3
    raise FormatError(path, "unterminated block (missing '}')", where=f"line {tokens[-1][2]}")


def read_labelmap(path: str | Path) -> LabelMap:
    """Read an AVA label map (``item { name: "..." id: N }`` or ``label { ... label_id: N }``).

    Why: the label map decides which classes are evaluated and how ids are named. Unlike the
    official reader (which only looks at lines starting with two spaces + ``name:`` / ``id:``),
    this one parses the blocks, so a malformed file fails instead of being misread.

    Raises:
        FormatError: missing/unreadable file, a block that is not ``item``/``label``, a block
            without ``name`` or id, a non-integer id, or a duplicated id (with the line).
    """
    path = Path(path)
    text = _read_bytes(path).decode("utf-8", errors="replace")
    tokens = _pbtxt_tokens(text, path)
    ids: list[int] = []
    names: dict[int, str] = {}
    types: dict[int, str] = {}
    i = 0
    while i < len(tokens):
        kind, word, line = tokens[i]
        if kind != "word" or word not in ("item", "label"):
            raise FormatError(
                path, f"expected 'item {{' or 'label {{', found {word!r}", where=f"line {line}"
            )
        j = i + 1
        if j < len(tokens) and tokens[j][1] == ":":
            j += 1
        if j >= len(tokens) or tokens[j][1] != "{":
            raise FormatError(path, f"expected '{{' after {word!r}", where=f"line {line}")
        fields, i = _parse_block(tokens, j + 1, path)
        class_id, name = _labelmap_entry(fields, path, line)
        if class_id in names:
            raise FormatError(path, f"duplicate class id {class_id}", where=f"line {line}")
        ids.append(class_id)
        names[class_id] = name
        if "label_type" in fields:
            types[class_id] = fields["label_type"][0]
    return LabelMap(ids=ids, names=names, types=types)


def _labelmap_entry(fields: dict[str, tuple[str, int]], path: Path, line: int) -> tuple[int, str]:
    """Validate one label-map block's fields and return ``(id, name)``."""
    key = next((k for k in _ID_KEYS if k in fields), None)
    if key is None:
        raise FormatError(path, "block has no 'id' / 'label_id' field", where=f"line {line}")
    if "name" not in fields:
        raise FormatError(path, "block has no 'name' field", where=f"line {line}")
    raw, id_line = fields[key]
    try:
        class_id = int(raw)
    except ValueError:
        raise FormatError(
            path, f"{key} must be an integer, got {raw!r}", where=f"line {id_line}"
        ) from None
    return class_id, fields["name"][0]


def write_labelmap(path: str | Path, names: dict[int, str]) -> None:
    """Write ``{id: name}`` as an ``item { name: "..." id: N }`` label map, atomically.

    The output is byte-identical to the official ActivityNet-2019 label map when given its
    content, so the official reader (two-space indentation) can read it too.
    """
    parts = []
    for class_id, name in names.items():
        if "\n" in name or "\r" in name:
            raise ValueError(f"label-map name of id {class_id} contains a line break")
        quoted = name.replace("\\", "\\\\").replace('"', '\\"')
        parts.append(f'item {{\n  name: "{quoted}"\n  id: {int(class_id)}\n}}\n')
    write_text_atomic(path, "".join(parts))


# --------------------------------------------------------------------------------------------
# Vectorized CSV splitting and number parsing
# --------------------------------------------------------------------------------------------


def _read_bytes(path: Path) -> bytes:
    """Whole file as bytes (UTF-8 BOM removed); a missing or unreadable file is a FormatError."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise FormatError(path, "file not found") from None
    except OSError as exc:
        raise FormatError(path, f"cannot read file: {exc.strerror or exc}") from None
    return data[3:] if data.startswith(b"\xef\xbb\xbf") else data


@dataclass
class _CsvTable:
    """Field boundaries of a comma-separated file held as a byte array.

    Attributes:
        path: the file (for error messages).
        buf: ``(B,)`` uint8 file bytes (a final newline appended if missing).
        line_no: ``(N,)`` int64 1-based line numbers of the non-empty lines (the data rows).
        starts, ends: ``(N,)`` int64 byte offsets of each row, ``ends`` exclusive and before
            any ``\\r\\n``.
        ncols: ``(N,)`` int64 number of fields of each row.
        commas: ``(M,)`` int64 byte offsets of every comma; row ``i`` owns
            ``commas[first_comma[i] : first_comma[i] + ncols[i] - 1]``.
        first_comma: ``(N,)`` int64.
        grid: ``(N, K-1)`` view of ``commas`` when every row has ``K`` fields, else ``None``.
    """

    path: Path
    buf: np.ndarray
    line_no: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    ncols: np.ndarray
    commas: np.ndarray
    first_comma: np.ndarray
    grid: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.line_no.shape[0])

    def field_bounds(self, j: int, rows: slice | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Byte range ``[s, e)`` of field ``j`` of ``rows`` (rows with more than ``j`` fields)."""
        if self.grid is not None:
            s = self.starts[rows] if j == 0 else self.grid[rows, j - 1] + 1
            e = self.grid[rows, j] if j < self.grid.shape[1] else self.ends[rows]
            return s, e
        first = self.first_comma[rows]
        more = (self.ncols[rows] - 1) > j
        s = self.starts[rows] if j == 0 else self.commas[first + j - 1] + 1
        after = np.minimum(first + j, max(self.commas.shape[0] - 1, 0))
        e = (
            np.where(more, self.commas[after], self.ends[rows])
            if self.commas.shape[0]
            else self.ends[rows]
        )
        return s, e


def _split_csv(path: Path, allowed: tuple[int, ...], layout: str) -> _CsvTable:
    """Read ``path``; locate rows and fields; every row must have a column count in ``allowed``."""
    data = _read_bytes(path)
    if data and not data.endswith(b"\n"):
        data += b"\n"
    buf = np.frombuffer(data, dtype=np.uint8)
    nl = np.flatnonzero(buf == 10)
    starts = np.empty_like(nl)
    starts[:1] = 0
    starts[1:] = nl[:-1] + 1
    ends = nl - ((nl > starts) & (buf[np.maximum(nl - 1, 0)] == 13))
    line_no = np.arange(1, nl.shape[0] + 1, dtype=np.int64)
    keep = ends > starts
    if not keep.all():
        starts, ends, line_no, nl = starts[keep], ends[keep], line_no[keep], nl[keep]
    commas = np.flatnonzero(buf == 44)
    n = starts.shape[0]
    for k in allowed:  # common case: every row has the same column count
        if commas.shape[0] == n * (k - 1) and _rows_own_commas(commas, starts, ends, k - 1):
            first = np.arange(n, dtype=np.int64) * (k - 1)
            ncols = np.full(n, k, dtype=np.int64)
            grid = commas.reshape(n, k - 1)
            return _CsvTable(path, buf, line_no, starts, ends, ncols, commas, first, grid)
    row_of_comma = np.searchsorted(nl, commas)  # empty lines hold no commas
    counts = np.bincount(row_of_comma, minlength=n).astype(np.int64)[:n]
    ncols = counts + 1
    bad = ~np.isin(ncols, allowed)
    if bad.any():
        i = int(np.argmax(bad))
        want = " or ".join(str(k) for k in allowed)
        raise FormatError(
            path,
            f"expected {want} comma-separated columns ({layout}), found {ncols[i]}",
            where=f"line {line_no[i]}",
        )
    first = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64) if n else counts
    return _CsvTable(path, buf, line_no, starts, ends, ncols, commas, first)


def _rows_own_commas(
    commas: np.ndarray, starts: np.ndarray, ends: np.ndarray, per_row: int
) -> bool:
    """True if assigning ``per_row`` consecutive commas to each row puts them all inside it."""
    if per_row == 0:
        return commas.shape[0] == 0
    c = commas.reshape(-1, per_row)
    return bool((c[:, 0] >= starts).all() and (c[:, -1] < ends).all())


def _gather_fixed(buf: np.ndarray, s: np.ndarray, e: np.ndarray) -> np.ndarray:
    """Byte slices ``buf[s:e]`` as one fixed-width ``S`` array (``(n,)``), vectorized."""
    width = e - s
    w = max(int(width.max(initial=1)), 1)
    out = np.empty(s.shape[0], dtype=f"S{w}")
    cols = np.arange(w)
    for a in range(0, s.shape[0], _CHUNK):
        sb, wb = s[a : a + _CHUNK], width[a : a + _CHUNK]
        idx = np.minimum(sb[:, None] + cols, buf.shape[0] - 1)
        ch = np.where(cols < wb[:, None], buf[idx], 0).astype(np.uint8)
        out[a : a + _CHUNK] = np.ascontiguousarray(ch).view(f"S{w}").ravel()
    return out


def _fast_decimals(buf: np.ndarray, s: np.ndarray, e: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Parse plain decimals ``[+-]digits[.digits]`` in ``buf[s:e]`` exactly, vectorized.

    One pass per character position (not per row) accumulates the integer mantissa ``M`` and
    the number of fraction digits ``k``. Exactness: ``M <= 2**53`` and ``10**k`` (``k <= 22``)
    are exact doubles and one IEEE division rounds correctly, so ``M / 10**k`` is the correctly
    rounded value ``float()`` returns. Other fields come back with ``ok = False``.

    Returns:
        ``(values (n,) float64, ok (n,) bool)``.
    """
    n = s.shape[0]
    width = e - s
    w = int(min(width.max(initial=0), _MAX_FAST_WIDTH))
    ok = (width >= 1) & (width <= w)
    mant = np.zeros(n, dtype=np.int64)
    frac = np.zeros(n, dtype=np.int64)
    n_digits = np.zeros(n, dtype=np.int64)
    seen_dot = np.zeros(n, dtype=bool)
    negative = np.zeros(n, dtype=bool)
    last = buf.shape[0] - 1
    for c in range(w):
        inside = c < width
        ch = buf[np.minimum(s + c, last)]
        value = ch - np.uint8(48)  # wraps for bytes below '0'
        digit = inside & (value < 10)
        dot = inside & (ch == 46)
        other = inside & ~digit & ~dot
        if c == 0:
            negative = inside & (ch == 45)
            other &= ~negative & (ch != 43)
        ok &= ~other & ~(dot & seen_dot)
        np.copyto(mant, mant * 10 + value, where=digit & (n_digits < 18))
        n_digits += digit
        frac += digit & seen_dot
        seen_dot |= dot
    ok &= (n_digits >= 1) & (n_digits <= 18) & (mant <= _TWO_53)
    values = mant.astype(np.float64) / _POW10_FLOAT[np.minimum(frac, 22)]
    return np.where(negative, -values, values), ok


def _parse_numbers(tab: _CsvTable, j: int, name: str, rows: np.ndarray | None = None) -> np.ndarray:
    """Field ``j`` of ``rows`` (all rows by default) as ``(n,)`` float64.

    Cache-sized blocks go through the exact fast path; the few fields it declines
    (exponents, 17-digit mantissas, spaces, errors) go through numpy's string cast.
    """
    n = len(tab) if rows is None else rows.shape[0]
    values = np.empty(n, dtype=np.float64)
    for a in range(0, n, _CHUNK):
        sel = slice(a, min(n, a + _CHUNK)) if rows is None else rows[a : a + _CHUNK]
        s, e = tab.field_bounds(j, sel)
        block, ok = _fast_decimals(tab.buf, s, e)
        slow = np.flatnonzero(~ok)
        if slow.shape[0]:
            texts = _gather_fixed(tab.buf, s[slow], e[slow])
            try:
                block[slow] = texts.astype(np.float64)
            except ValueError:
                where = np.arange(n)[a : a + _CHUNK] if rows is None else rows[a : a + _CHUNK]
                _raise_not_a_number(tab, j, name, where[slow], texts)
        values[a : a + _CHUNK] = block
    return values


def _raise_not_a_number(
    tab: _CsvTable, j: int, name: str, rows: np.ndarray, texts: np.ndarray
) -> None:
    """Find the first field of ``texts`` that ``float()`` rejects and raise a FormatError for it."""
    for row, text in zip(rows.tolist(), texts.tolist(), strict=True):  # error path only
        try:
            float(text)
        except ValueError:
            raise FormatError(
                tab.path,
                f"column {j + 1} ({name}): {text.decode('utf-8', 'replace')!r} is not a number",
                where=f"line {tab.line_no[row]}",
            ) from None
    raise FormatError(tab.path, f"column {j + 1} ({name}): unparsable number")


def _parse_ints(tab: _CsvTable, j: int, name: str, rows: np.ndarray | None = None) -> np.ndarray:
    """Field ``j`` as int64; values must be integral (``"0902"`` -> 902)."""
    values = _parse_numbers(tab, j, name, rows)
    bad = ~np.isfinite(values) | (values != np.round(values)) | (np.abs(values) > 2**62)
    if bad.any():
        i = int(np.argmax(bad))
        row = i if rows is None else int(rows[i])
        raise FormatError(
            tab.path,
            f"column {j + 1} ({name}): expected an integer, got {values[i]!r}",
            where=f"line {tab.line_no[row]}",
        )
    return values.astype(np.int64)


def _require_finite(tab: _CsvTable, values: np.ndarray, what: str) -> None:
    """FormatError at the first row whose ``values`` (``(N,)`` or ``(N, K)``) are not all finite."""
    finite = np.isfinite(values)
    bad = ~(finite.all(axis=1) if finite.ndim == 2 else finite)
    if bad.any():
        i = int(np.argmax(bad))
        raise FormatError(
            tab.path,
            f"{what} must be finite numbers (found NaN or inf)",
            where=f"line {tab.line_no[i]}",
        )


def _parse_video_ids(tab: _CsvTable) -> np.ndarray:
    """Field 0 of every row as a ``(N,)`` str array (fixed-width gather; ASCII fast path)."""
    s, e = tab.field_bounds(0, slice(None))
    width = e - s
    if width.shape[0] and int(width.min()) == 0:
        i = int(np.argmax(width == 0))
        raise FormatError(tab.path, "empty video id", where=f"line {tab.line_no[i]}")
    if int(width.max(initial=1)) > _MAX_ID_WIDTH:
        return np.array(
            [tab.buf[a:b].tobytes().decode("utf-8", "replace") for a, b in zip(s, e, strict=True)],
            dtype=str,
        )
    out = _gather_fixed(tab.buf, s, e)
    try:
        return out.astype(str)
    except UnicodeDecodeError:  # non-ASCII ids: decode as UTF-8 one by one
        return np.array([v.decode("utf-8", "replace") for v in out.tolist()], dtype=str)


def _parse_boxes(tab: _CsvTable, first_col: int) -> Boxes:
    """Fields ``first_col .. first_col+3`` as finite ``(N, 4)`` x1y1x2y2 boxes."""
    names = ("x1", "y1", "x2", "y2")
    xyxy = np.stack([_parse_numbers(tab, first_col + k, names[k]) for k in range(4)], axis=1)
    _require_finite(tab, xyxy, "box coordinates")
    return Boxes(xyxy.reshape(-1, 4))


# --------------------------------------------------------------------------------------------
# CSV readers
# --------------------------------------------------------------------------------------------

_GT_LAYOUT = "video_id,timestamp,x1,y1,x2,y2,action_id[,person_id]"
_DET_LAYOUT = "video_id,timestamp,x1,y1,x2,y2,action_id,score"
_PROP_LAYOUT = "video_id,timestamp,x1,y1,x2,y2,score"


def read_ava_gt(path: str | Path) -> KeyframeGroundTruth:
    """Read an AVA ground-truth CSV ``video_id,timestamp,x1,y1,x2,y2,action_id[,person_id]``.

    Why: the ground truth of Frame-mAP and the weak labels of box datasets. Rows keep file
    order; a missing ``person_id`` column (7-column rows) reads as -1. Boxes are not
    validated beyond being finite (the evaluator rejects reversed boxes).

    Raises:
        FormatError: missing file, wrong column count, non-numeric or non-integer field,
            NaN/inf coordinate (file and line in the message).
    """
    tab = _split_csv(Path(path), (7, 8), _GT_LAYOUT)
    person = np.full(len(tab), -1, dtype=np.int64)
    with_pid = np.flatnonzero(tab.ncols == 8)
    if with_pid.shape[0]:
        person[with_pid] = _parse_ints(tab, 7, "person_id", with_pid)
    return KeyframeGroundTruth(
        video_ids=_parse_video_ids(tab),
        timestamps=_parse_ints(tab, 1, "timestamp"),
        boxes=_parse_boxes(tab, 2),
        labels=_parse_ints(tab, 6, "action_id"),
        person_ids=person,
    )


def read_ava_detections(path: str | Path) -> KeyframeDetections:
    """Read an AVA detection CSV ``video_id,timestamp,x1,y1,x2,y2,action_id,score``.

    Why: the submission format of AVA and the input of :mod:`wsal.evaluation.frame`. Rows
    keep file order. Scores must be finite (the official reader would accept NaN and rank it
    unpredictably).

    Raises:
        FormatError: missing file, wrong column count, non-numeric field, non-integer
            timestamp/action id, NaN/inf coordinate or score (file and line in the message).
    """
    tab = _split_csv(Path(path), (8,), _DET_LAYOUT)
    scores = _parse_numbers(tab, 7, "score")
    _require_finite(tab, scores, "scores")
    return KeyframeDetections(
        video_ids=_parse_video_ids(tab),
        timestamps=_parse_ints(tab, 1, "timestamp"),
        boxes=_parse_boxes(tab, 2),
        labels=_parse_ints(tab, 6, "action_id"),
        scores=scores,
    )


def read_ava_proposals(path: str | Path) -> ProposalRows:
    """Read a person-proposal CSV ``video_id,timestamp,x1,y1,x2,y2,score`` (7 columns).

    Why: the person boxes of a keyframe dataset folder; row ``i`` is aligned with row ``i``
    of the box-feature matrix, so rows are returned exactly in file order.

    Raises:
        FormatError: as :func:`read_ava_detections`.
    """
    tab = _split_csv(Path(path), (7,), _PROP_LAYOUT)
    scores = _parse_numbers(tab, 6, "score")
    _require_finite(tab, scores, "scores")
    return ProposalRows(
        video_ids=_parse_video_ids(tab),
        timestamps=_parse_ints(tab, 1, "timestamp"),
        boxes=_parse_boxes(tab, 2),
        scores=scores,
    )


def read_excluded_timestamps(
    path: str | Path, *, as_arrays: bool = False
) -> set[tuple[str, int]] | tuple[np.ndarray, np.ndarray]:
    """Read an excluded-keyframes CSV ``video_id,timestamp`` (AVA val exclusions).

    Why: keyframes whose ground truth and detections Frame-mAP must ignore.

    Returns:
        ``{(video_id, timestamp)}``; with ``as_arrays=True`` the rows in file order as
        ``(video_ids (N,) str, timestamps (N,) int64)``.
    """
    tab = _split_csv(Path(path), (2,), "video_id,timestamp")
    videos = _parse_video_ids(tab)
    stamps = _parse_ints(tab, 1, "timestamp")
    if as_arrays:
        return videos, stamps
    return set(zip(videos.tolist(), stamps.tolist(), strict=True))


def read_video_list(path: str | Path) -> list[str]:
    """Read a list of video ids, one per line (e.g. ``ava_test_v2.2.txt``), in file order.

    Surrounding whitespace and empty lines are ignored; ids may start with ``-``.

    Raises:
        FormatError: missing file, or a line with whitespace or a comma inside (not an id).
    """
    path = Path(path)
    out: list[str] = []
    for line_no, raw in enumerate(_read_bytes(path).decode("utf-8", "replace").splitlines(), 1):
        vid = raw.strip()
        if not vid:
            continue
        if any(c.isspace() or c == "," for c in vid):
            raise FormatError(
                path, f"expected one video id per line, got {vid!r}", where=f"line {line_no}"
            )
        out.append(vid)
    return out


def read_included_timestamps(path: str | Path) -> np.ndarray:
    """Read the keyframe seconds to use, one integer per line (``ava_included_timestamps``).

    Returns:
        ``(N,)`` int64 in file order (``"0902"`` -> 902).

    Raises:
        FormatError: missing file or a line that is not an integer.
    """
    path = Path(path)
    values: list[int] = []
    for line_no, raw in enumerate(_read_bytes(path).decode("utf-8", "replace").splitlines(), 1):
        text = raw.strip()
        if not text:
            continue
        try:
            values.append(int(text))
        except ValueError:
            raise FormatError(
                path, f"expected an integer timestamp, got {text!r}", where=f"line {line_no}"
            ) from None
    return np.asarray(values, dtype=np.int64)


# --------------------------------------------------------------------------------------------
# Writers
# --------------------------------------------------------------------------------------------


def _check_video_ids(video_ids: np.ndarray) -> None:
    """Refuse ids that would break the CSV layout (empty, comma, line break)."""
    for vid in np.unique(video_ids).tolist():
        if not vid or any(c in vid for c in ",\n\r"):
            raise ValueError(f"video id {vid!r} cannot be written to an AVA CSV")


def _check_finite(values: np.ndarray, what: str) -> None:
    """Refuse NaN/inf values (the readers would reject the file)."""
    if not np.isfinite(values).all():
        raise ValueError(f"{what} contain NaN or inf; refusing to write an unreadable file")


def _float_format(decimals: int | None) -> str:
    """``%r`` (shortest exact round trip) for ``None``, else fixed ``%.{decimals}f``."""
    return "%r" if decimals is None else f"%.{int(decimals)}f"


def _write_rows(path: str | Path, row_format: str, columns: Sequence[np.ndarray]) -> None:
    """Format column arrays row by row with one ``%`` per block of rows and write atomically."""
    n = int(columns[0].shape[0]) if columns else 0
    k = len(columns)
    with atomic_open(path, "w") as fh:
        for a in range(0, n, _CHUNK):
            b = min(n, a + _CHUNK)
            flat: list[object] = [None] * ((b - a) * k)
            for j, col in enumerate(columns):
                flat[j::k] = col[a:b].tolist()
            fh.write((row_format * (b - a)) % tuple(flat))


def write_ava_gt(path: str | Path, gt: KeyframeGroundTruth, *, decimals: int | None = None) -> None:
    """Write ground truth as ``video_id,timestamp,x1,y1,x2,y2,action_id,person_id``, atomically.

    Timestamps are zero-padded to four digits like the official files. Box coordinates are
    written with the shortest text that reads back to the same double (``decimals=None``, so
    ``0.031`` stays ``0.031`` and a round trip is exact), or with ``decimals`` fixed digits.
    """
    _check_video_ids(gt.video_ids)
    _check_finite(gt.boxes.xyxy, "boxes")
    f = _float_format(decimals)
    xyxy = gt.boxes.xyxy
    cols = [gt.video_ids, gt.timestamps, *(xyxy[:, k] for k in range(4)), gt.labels, gt.person_ids]
    _write_rows(path, f"%s,%04d,{f},{f},{f},{f},%d,%d\n", cols)


def write_ava_detections(
    path: str | Path, dets: KeyframeDetections, *, decimals: int | None = 3
) -> None:
    """Write detections as ``video_id,timestamp,x1,y1,x2,y2,action_id,score``, atomically.

    Box coordinates get ``decimals`` fixed digits (3, like AVA submissions; ``None`` = exact
    shortest form); scores are always written exactly (shortest round-trip form) so the
    ranking, and therefore the evaluation, is unchanged by a write/read cycle.
    """
    _check_video_ids(dets.video_ids)
    _check_finite(dets.boxes.xyxy, "boxes")
    _check_finite(dets.scores, "scores")
    f = _float_format(decimals)
    xyxy = dets.boxes.xyxy
    cols = [
        dets.video_ids,
        dets.timestamps,
        *(xyxy[:, k] for k in range(4)),
        dets.labels,
        dets.scores,
    ]
    _write_rows(path, f"%s,%04d,{f},{f},{f},{f},%d,%r\n", cols)


def write_ava_proposals(
    path: str | Path,
    video_ids: np.ndarray | Sequence[str],
    timestamps: np.ndarray | Sequence[int],
    boxes: Boxes,
    scores: np.ndarray | Sequence[float],
    *,
    decimals: int | None = None,
) -> None:
    """Write person proposals ``video_id,timestamp,x1,y1,x2,y2,score`` in the given row order.

    Row order is preserved because it aligns with the box-feature matrix. Coordinates are
    written exactly by default (``decimals=None``), scores always exactly.
    """
    rows = ProposalRows(video_ids, timestamps, boxes, scores)
    _check_video_ids(rows.video_ids)
    _check_finite(rows.boxes.xyxy, "boxes")
    _check_finite(rows.scores, "scores")
    f = _float_format(decimals)
    xyxy = rows.boxes.xyxy
    cols = [rows.video_ids, rows.timestamps, *(xyxy[:, k] for k in range(4)), rows.scores]
    _write_rows(path, f"%s,%04d,{f},{f},{f},{f},%r\n", cols)


def write_excluded_timestamps(path: str | Path, pairs: Iterable[tuple[str, int]]) -> None:
    """Write ``(video_id, timestamp)`` pairs as ``video_id,timestamp`` lines, sorted, atomically."""
    items = sorted({(str(v), int(t)) for v, t in pairs})
    videos = np.array([v for v, _ in items], dtype=str)
    if items:
        _check_video_ids(videos)
    stamps = np.array([t for _, t in items], dtype=np.int64)
    _write_rows(path, "%s,%04d\n", [videos, stamps])

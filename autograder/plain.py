"""Plain data <-> JSON + .npz, the only form in which values cross a process boundary (never pickle).

Plain data (see autograder/checks/spec.py): tensors, numpy arrays, bool/int/float/str/None, and
lists/tuples/dicts (str keys) of those. `encode` turns it into a JSON tree plus named arrays;
`decode` does the reverse and, because the other side may be hostile, checks every node, every
dtype and every size it sees and raises `PlainError` on anything else.

Tree nodes: JSON scalars as themselves; {"l": [...]}, {"t": [...]}, {"d": {...}} for containers;
{"T": name} / {"A": name} for a tensor / numpy array stored in the .npz; {"x": "nan"|"inf"|"-inf"}
for non-finite floats (strict JSON has none).
"""

from __future__ import annotations

import io
import json
import math
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

#: numpy dtype kinds a decoded array may have: bool, signed/unsigned int, float, complex (no objects).
ALLOWED_KINDS = "biufc"


class PlainError(ValueError):
    """The value is not plain data, or a stored file does not decode to plain data within the limits."""


@dataclass(frozen=True)
class DecodeCaps:
    """Caps on what `decode`/`load` accept from an untrusted producer."""

    max_json_bytes: int = 8 << 20
    max_array_bytes: int = 256 << 20
    max_nodes: int = 200_000
    max_depth: int = 32


def _tensor_to_numpy(value: torch.Tensor) -> np.ndarray:
    """A CPU numpy copy of a tensor (bfloat16 widened to float32, numpy has no bfloat16)."""
    value = value.detach().cpu()
    if value.dtype == torch.bfloat16:
        value = value.to(torch.float32)
    return np.array(value.resolve_conj().resolve_neg().numpy(), copy=True)


def encode(value: Any) -> tuple[Any, dict[str, np.ndarray]]:
    """(JSON tree, arrays) for a plain value; PlainError naming the path of the first non-plain node."""
    arrays: dict[str, np.ndarray] = {}

    def walk(node: Any, path: str, depth: int) -> Any:
        if depth > DecodeCaps.max_depth:
            raise PlainError(f"{path}: nested deeper than {DecodeCaps.max_depth}")
        if node is None or type(node) in (bool, str):
            return node
        if type(node) is int:
            return node
        if type(node) is float or isinstance(node, np.floating):
            number = float(node)
            return number if math.isfinite(number) else {"x": repr(number)}
        if isinstance(node, (np.integer, np.bool_)):
            return node.item()
        if isinstance(node, torch.Tensor):
            arrays[f"a{len(arrays)}"] = _tensor_to_numpy(node)
            return {"T": f"a{len(arrays) - 1}"}
        if type(node) is np.ndarray:
            if node.dtype.kind not in ALLOWED_KINDS:
                raise PlainError(f"{path}: array of dtype {node.dtype} is not plain data")
            arrays[f"a{len(arrays)}"] = np.array(node, copy=True)
            return {"A": f"a{len(arrays) - 1}"}
        if type(node) in (list, tuple):
            items = [walk(item, f"{path}[{i}]", depth + 1) for i, item in enumerate(node)]
            return {"l" if type(node) is list else "t": items}
        if type(node) is dict:
            if not all(type(k) is str for k in node):
                raise PlainError(f"{path}: dict keys must be str")
            return {"d": {k: walk(v, f"{path}[{k!r}]", depth + 1) for k, v in node.items()}}
        raise PlainError(f"{path}: {type(node).__name__} is not plain data (tensor, number, str, list, dict)")

    return walk(value, "value", 0), arrays


def decode(tree: Any, arrays: dict[str, np.ndarray], limits: DecodeCaps = DecodeCaps()) -> Any:
    """The plain value of a tree from `encode`; PlainError on any node that `encode` would not write."""
    count = 0
    #: Each array is referenced once, as `encode` writes it: a tree naming one array many times would make a small
    #: frame decode into `max_nodes` copies of it (the size caps count each stored array once).
    used: set[str] = set()

    def walk(node: Any, depth: int) -> Any:
        nonlocal count
        count += 1
        if count > limits.max_nodes or depth > limits.max_depth:
            raise PlainError(f"more than {limits.max_nodes} nodes or deeper than {limits.max_depth}")
        if node is None or type(node) in (bool, int, float, str):
            return node
        if type(node) is not dict or len(node) != 1:
            raise PlainError(f"unexpected node of type {type(node).__name__}")
        (tag, body), = node.items()
        if tag in ("l", "t") and type(body) is list:
            items = [walk(item, depth + 1) for item in body]
            return items if tag == "l" else tuple(items)
        if tag == "d" and type(body) is dict:
            return {str(k): walk(v, depth + 1) for k, v in body.items()}
        if tag == "x" and body in ("nan", "inf", "-inf"):
            return float(body)
        if tag in ("T", "A") and type(body) is str and body in arrays:
            if body in used:
                raise PlainError(f"array {body!r} referenced more than once")
            used.add(body)
            array = arrays[body]
            return torch.from_numpy(np.array(array, copy=True)) if tag == "T" else array
        raise PlainError(f"unexpected node {tag!r}")

    return walk(tree, 0)


def _npy(array: np.ndarray) -> bytes:
    """The .npy file numpy's format.write_array makes of a numeric array (format 1.0, byte for byte), without its
    general writer (which spends most of the time of writing a small array on building the header)."""
    fortran = bool(array.flags.f_contiguous and not array.flags.c_contiguous)
    header = f"{{'descr': '{array.dtype.str}', 'fortran_order': {fortran}, 'shape': {array.shape!r}, }}"
    if array.shape:  # numpy's room for the array to grow along its first (or, in Fortran order, last) axis
        header += " " * (21 - len(repr(array.shape[-1 if fortran else 0])))
    size = len(header) + 1
    padded = size + 64 - (10 + size) % 64
    return (b"\x93NUMPY\x01\x00" + padded.to_bytes(2, "little") + header.encode("latin1")
            + b" " * (padded - size) + b"\n" + array.tobytes("F" if fortran else "C"))


def dumps(value: Any) -> tuple[bytes, bytes]:
    """(JSON bytes, .npz bytes) for a plain value: the arrays a0, a1, ... as np.savez stores them."""
    tree, arrays = encode(value)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name, array in arrays.items():
            if array.dtype.fields is not None or array.dtype.kind not in ALLOWED_KINDS:
                raise PlainError(f"array of dtype {array.dtype} is not plain data")
            archive.writestr(zipfile.ZipInfo(f"{name}.npy", (1980, 1, 1, 0, 0, 0)), _npy(array))
    return json.dumps(tree, allow_nan=False).encode(), buffer.getvalue()


#: The .npy header numpy writes for an array (format 1.0): its dtype, memory order and shape, nothing else.
_NPY_HEADER = re.compile(rb"\{'descr': '([<>|=][a-z][0-9]{1,2})', 'fortran_order': (False|True), "
                         rb"'shape': \(((?:[0-9]{1,18}, )*(?:[0-9]{1,18},?)?)\), \} *\n")


def _stored_arrays(archive: zipfile.ZipFile) -> dict[str, np.ndarray] | None:
    """The arrays of an .npz exactly as `dumps` writes it (uncompressed .npy members with format 1.0 headers),
    read without numpy's general header parser (which evaluates each header as a Python literal: most of the
    time of reading small arrays); None for anything else, which numpy's own reader then decides on."""
    infos = archive.infolist()
    names = [info.filename for info in infos]
    if len(set(names)) != len(names):
        return None
    arrays: dict[str, np.ndarray] = {}
    for info in infos:
        if not info.filename.endswith(".npy") or info.compress_type != zipfile.ZIP_STORED:
            return None
        data = archive.read(info)  # its CRC checked
        size = int.from_bytes(data[8:10], "little")
        header = _NPY_HEADER.fullmatch(data, 10, 10 + size) if data[:8] == b"\x93NUMPY\x01\x00" else None
        if header is None:
            return None
        dtype = np.dtype(header[1].decode())
        shape = tuple(int(n) for n in header[3].split(b",") if n.strip())
        count = math.prod(shape)
        if dtype.hasobject or len(data) - 10 - size != count * dtype.itemsize:
            return None
        array = np.frombuffer(data, dtype, count, 10 + size).copy()  # writable, as numpy's reader gives it
        arrays[info.filename[:-4]] = array.reshape(shape, order="F" if header[2] == b"True" else "C")
    return arrays


def loads(json_bytes: bytes, npz_bytes: bytes, limits: DecodeCaps = DecodeCaps()) -> Any:
    """The plain value stored by `dumps`, checking sizes before anything is decompressed or parsed."""
    if len(json_bytes) > limits.max_json_bytes:
        raise PlainError(f"JSON part is {len(json_bytes)} bytes, more than {limits.max_json_bytes}")
    try:
        tree = json.loads(json_bytes.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise PlainError(f"JSON part does not parse: {exc}") from None
    try:
        with zipfile.ZipFile(io.BytesIO(npz_bytes)) as archive:
            total = sum(info.file_size for info in archive.infolist())
            if total > limits.max_array_bytes:
                raise PlainError(f"arrays total {total} bytes, more than {limits.max_array_bytes}")
            stored = _stored_arrays(archive)
        if stored is None:
            with np.load(io.BytesIO(npz_bytes), allow_pickle=False) as npz:
                stored = {name: npz[name] for name in npz.files}
        arrays: dict[str, np.ndarray] = {}
        for name, array in stored.items():
            if array.dtype.kind not in ALLOWED_KINDS:
                raise PlainError(f"array {name!r} has dtype {array.dtype}, not numeric")
            if not array.dtype.isnative:  # torch.from_numpy refuses other byte orders
                raise PlainError(f"array {name!r} has byte order {array.dtype.byteorder!r}, not native")
            arrays[name] = array
    except PlainError:
        raise
    except Exception as exc:  # zipfile/numpy raise many types on corrupt input; all mean "not plain"
        raise PlainError(f".npz part does not load: {type(exc).__name__}: {exc}") from exc
    return decode(tree, arrays, limits)


def dump(value: Any, base: Path) -> None:
    """Write `base`.npz then `base`.json (the JSON last, so its presence means 'complete')."""
    json_bytes, npz_bytes = dumps(value)
    Path(f"{base}.npz").write_bytes(npz_bytes)
    Path(f"{base}.json").write_bytes(json_bytes)


def load(base: Path, limits: DecodeCaps = DecodeCaps()) -> Any:
    """Read what `dump` wrote at `base`, refusing files larger than the limits before reading them."""
    parts = []
    for suffix, cap in ((".json", limits.max_json_bytes), (".npz", limits.max_array_bytes + (1 << 20))):
        path = Path(f"{base}{suffix}")
        if path.is_symlink() or not path.is_file():
            raise PlainError(f"{path}: not a regular file")
        if path.stat().st_size > cap:
            raise PlainError(f"{path}: {path.stat().st_size} bytes, more than {cap}")
        parts.append(path.read_bytes())
    return loads(parts[0], parts[1], limits)

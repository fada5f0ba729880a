"""autograder.plain at its edges: the survivors of mutation testing (make mutation), each pinned by a test.

Type confusion between node tags, the exact caps (nodes, depth, bytes), and a pickle that must never run.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from autograder import plain

EXECUTED: list[str] = []


def _record(flag: str) -> None:
    """What a hostile pickle calls when it is unpickled: must never happen."""
    EXECUTED.append(flag)


class _Payload:
    """An object whose unpickling calls _record (what an attacker's pickle does, harmlessly)."""

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return _record, ("unpickled",)


DEFAULT_CAPS = plain.DecodeCaps()


def _loads(tree: object, npz: bytes = b"", caps: plain.DecodeCaps = DEFAULT_CAPS) -> Any:
    if not npz:
        buffer = io.BytesIO()
        np.savez(buffer)
        npz = buffer.getvalue()
    return plain.loads(json.dumps(tree).encode(), npz, caps)


def test_a_pickle_in_the_npz_is_never_unpickled() -> None:
    buffer = io.BytesIO()
    np.savez(buffer, a0=np.array([_Payload()], dtype=object))
    EXECUTED.clear()
    with pytest.raises(plain.PlainError, match="Object arrays cannot be loaded when allow_pickle=False"):
        _loads({"A": "a0"}, buffer.getvalue())
    assert EXECUTED == []  # refused before unpickling, not after


@pytest.mark.parametrize("tree", [
    {"d": [1, 2]},  # a dict tag with a list body
    {"l": {"a": 1}},  # a list tag with a dict body
    {"t": "ab"},  # a tuple tag with a string body
    {"A": "nan"},  # an array tag whose name reads like a non-finite float
    {"x": "zz"},  # a non-finite float that is not one
    {"x": 1.5},
])
def test_a_tag_only_accepts_its_own_body(tree: object) -> None:
    with pytest.raises(plain.PlainError, match=f"unexpected node '{next(iter(tree))}'"):  # type: ignore[call-overload]
        _loads(tree)


def test_node_and_depth_caps_are_exact_and_each_enough() -> None:
    assert _loads({"l": [1, 2]}, caps=plain.DecodeCaps(max_nodes=3)) == [1, 2]  # 3 nodes: the cap itself is fine
    with pytest.raises(plain.PlainError, match="more than 3 nodes or deeper than 32"):
        _loads({"l": [1, 2, 3]}, caps=plain.DecodeCaps(max_nodes=3))  # 4 nodes, shallow
    assert _loads({"l": [{"l": [1]}]}, caps=plain.DecodeCaps(max_depth=2)) == [[1]]  # depth 2: fine
    with pytest.raises(plain.PlainError, match="more than 200000 nodes or deeper than 2"):
        _loads({"l": [{"l": [{"l": [1]}]}]}, caps=plain.DecodeCaps(max_depth=2))  # depth 3, few nodes
    with pytest.raises(plain.PlainError, match="unexpected node of type list"):
        _loads({"l": [[1]]})


def test_encode_depth_cap_is_exact() -> None:
    deep: object = 1
    for _ in range(plain.DecodeCaps.max_depth):
        deep = [deep]
    tree, _ = plain.encode(deep)  # the innermost value sits at depth 32: allowed
    assert plain.decode(tree, {}) == deep
    with pytest.raises(plain.PlainError, match=r"value(\[0\]){33}: nested deeper than 32"):
        plain.encode([deep])
    with pytest.raises(plain.PlainError, match=r"value\['k'\]\[0\]: set is not plain data"):
        plain.encode({"k": [{1}]})


def test_several_arrays_keep_their_own_names() -> None:
    value: list[Any] = [np.arange(3), torch.ones(2), np.zeros((2, 2))]
    tree, arrays = plain.encode(value)
    assert tree == {"l": [{"A": "a0"}, {"T": "a1"}, {"A": "a2"}]} and sorted(arrays) == ["a0", "a1", "a2"]
    back = plain.loads(*plain.dumps(value))
    assert isinstance(back, list) and np.array_equal(back[0], value[0]) and torch.equal(back[1], value[1])
    assert np.array_equal(back[2], value[2])


def test_json_and_array_byte_caps_are_exact() -> None:
    caps = plain.DecodeCaps(max_json_bytes=len(b'"abcdefgh"'))
    assert _loads("abcdefgh", caps=caps) == "abcdefgh"  # exactly the cap
    with pytest.raises(plain.PlainError, match="JSON part is 11 bytes, more than 10"):
        _loads("abcdefghi", caps=caps)
    with pytest.raises(plain.PlainError, match="JSON part does not parse"):
        plain.loads(b"{", b"")
    npz = io.BytesIO()
    np.savez(npz, a0=np.zeros(4, dtype=np.uint8))  # a .npy of 4 bytes of data plus its header
    size = sum(info.file_size for info in zipfile.ZipFile(io.BytesIO(npz.getvalue())).infolist())
    assert _loads({"A": "a0"}, npz.getvalue(), plain.DecodeCaps(max_array_bytes=size)).shape == (4,)
    with pytest.raises(plain.PlainError, match=f"arrays total {size} bytes, more than {size - 1}"):
        _loads({"A": "a0"}, npz.getvalue(), plain.DecodeCaps(max_array_bytes=size - 1))


def test_load_refuses_oversized_files_by_their_size(tmp_path: Path) -> None:
    caps = plain.DecodeCaps(max_json_bytes=10, max_array_bytes=0)  # the .npz may be 1 MiB over the arrays' cap
    (tmp_path / "v.json").write_bytes(b'"abcdefgh"')
    (tmp_path / "v.npz").write_bytes(b"\0" * (1 << 20))
    with pytest.raises(plain.PlainError, match=".npz part does not load: BadZipFile"):
        plain.load(tmp_path / "v", caps)  # exactly at the cap: read, then found not to be a zip
    (tmp_path / "v.npz").write_bytes(b"\0" * ((1 << 20) + 1))
    with pytest.raises(plain.PlainError, match=r"v\.npz: 1048577 bytes, more than 1048576"):
        plain.load(tmp_path / "v", caps)
    (tmp_path / "v.json").write_bytes(b'"abcdefghi"')
    with pytest.raises(plain.PlainError, match=r"v\.json: 11 bytes, more than 10"):
        plain.load(tmp_path / "v", caps)


def test_dict_nesting_counts_towards_depth_too() -> None:
    deep: object = 1
    for _ in range(plain.DecodeCaps.max_depth):
        deep = {"k": deep}
    tree, _ = plain.encode(deep)
    assert plain.decode(tree, {}) == deep
    with pytest.raises(plain.PlainError, match="nested deeper than 32"):
        plain.encode({"k": deep})
    assert _loads({"d": {"a": {"d": {"b": 1}}}}, caps=plain.DecodeCaps(max_depth=2)) == {"a": {"b": 1}}
    with pytest.raises(plain.PlainError, match="deeper than 1"):
        _loads({"d": {"a": {"d": {"b": 1}}}}, caps=plain.DecodeCaps(max_depth=1))


def test_a_non_numeric_array_is_named(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    np.savez(buffer, a0=np.array(["text"]))
    with pytest.raises(plain.PlainError, match="array 'a0' has dtype <U4, not numeric"):
        _loads({"A": "a0"}, buffer.getvalue())


def test_load_passes_its_caps_on_to_the_decoder(tmp_path: Path) -> None:
    plain.dump([1, 2, 3], tmp_path / "v")
    assert plain.load(tmp_path / "v") == [1, 2, 3]
    with pytest.raises(plain.PlainError, match="more than 2 nodes"):
        plain.load(tmp_path / "v", plain.DecodeCaps(max_nodes=2))


ARRAYS = [np.zeros((3, 4)), np.arange(5, dtype=np.float32), np.array(3, dtype=np.int64), np.ones((2, 3), order="F"),
          np.array([True, False]), np.zeros((0, 3)), np.arange(6, dtype=np.uint8).reshape(2, 3),
          np.array([1 + 2j], dtype=np.complex128), np.arange(24, dtype=np.int16).reshape(2, 3, 4).transpose()]


@pytest.mark.parametrize("array", ARRAYS, ids=lambda a: f"{a.dtype}{a.shape}{'F' if a.flags.f_contiguous else ''}")
def test_the_fast_reader_gives_what_numpy_gives(array: np.ndarray) -> None:
    """What dumps writes is read without numpy's header parser (much faster), to the same values, dtype, shape,
    memory order and writability as numpy's own reader."""
    json_bytes, npz = plain.dumps([{"a": array}])
    with zipfile.ZipFile(io.BytesIO(npz)) as archive:
        fast = plain._stored_arrays(archive)
    assert fast is not None
    with np.load(io.BytesIO(npz), allow_pickle=False) as loaded:
        slow = {name: loaded[name] for name in loaded.files}
    assert fast.keys() == slow.keys()
    for name in fast:
        assert fast[name].dtype == slow[name].dtype and fast[name].shape == slow[name].shape
        assert np.array_equal(fast[name], slow[name]) and fast[name].flags.writeable
        assert fast[name].flags.f_contiguous == slow[name].flags.f_contiguous
    assert np.array_equal(plain.loads(json_bytes, npz)[0]["a"], array)


@pytest.mark.parametrize("write", [
    lambda buffer: np.savez_compressed(buffer, a0=np.arange(4.0)),  # deflated members
    lambda buffer: np.savez(buffer, a0=np.arange(4.0).astype(">f8")),  # another byte order: refused below
    lambda buffer: np.savez(buffer, a0=np.array(["text"])),  # not numeric: refused below
], ids=["compressed", "big-endian", "text"])
def test_anything_else_is_left_to_numpys_reader(write: Any) -> None:
    """An archive the fast reader does not recognise goes to numpy's own reader, as before, and is judged the same."""
    buffer = io.BytesIO()
    write(buffer)
    with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as archive:
        fast = plain._stored_arrays(archive)
    try:
        value = _loads({"A": "a0"}, buffer.getvalue())
    except plain.PlainError as exc:
        assert "byte order" in str(exc) or "not numeric" in str(exc)
        return
    assert fast is None and np.array_equal(value, np.arange(4.0))


def test_a_header_or_length_that_lies_goes_to_numpy_and_is_refused() -> None:
    """A member whose data is shorter or longer than its header says is not read by the fast reader."""
    _, npz = plain.dumps([np.arange(4.0)])
    with zipfile.ZipFile(io.BytesIO(npz)) as archive:
        member = archive.read("a0.npy")
    for data in (member[:-8], member + b"\0" * 8, member.replace(b"(4,)", b"(5,)")):
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr("a0.npy", data)
        with zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as archive:
            assert plain._stored_arrays(archive) is None
        try:
            value = _loads({"A": "a0"}, buffer.getvalue())
        except plain.PlainError:
            continue
        assert np.array_equal(value, np.arange(4.0))  # numpy's reader ignores trailing bytes, as before


@pytest.mark.parametrize("array", ARRAYS + [np.zeros((2, 3), dtype=np.float16), np.arange(3, dtype=np.int8)[::2]],
                         ids=lambda a: f"{a.dtype}{a.shape}{'F' if a.flags.f_contiguous else ''}")
def test_dumps_writes_each_array_as_numpy_does(array: np.ndarray) -> None:
    """The .npy members dumps writes are byte for byte what numpy's own writer makes of the same array."""
    expected = io.BytesIO()
    np.lib.format.write_array(expected, array, version=(1, 0), allow_pickle=False)
    assert plain._npy(array) == expected.getvalue()
    _, npz = plain.dumps([array])
    with zipfile.ZipFile(io.BytesIO(npz)) as archive:
        assert archive.namelist() == ["a0.npy"] and archive.read("a0.npy") == expected.getvalue()
    with np.load(io.BytesIO(npz), allow_pickle=False) as loaded:
        assert np.array_equal(loaded["a0"], array) and loaded["a0"].dtype == array.dtype

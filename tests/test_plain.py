"""autograder.plain: plain data survives the round trip; anything else is refused, also when hostile."""

from __future__ import annotations

import io
import json
import math
import zipfile
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from autograder import plain

scalars = st.none() | st.booleans() | st.integers(-2**62, 2**62) | st.floats(allow_nan=False) | st.text(max_size=8)
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.tuples(inner, inner)
                      | st.dictionaries(st.text(max_size=4), inner, max_size=3), max_leaves=10)


@settings(max_examples=60, deadline=None)
@given(values)
def test_round_trip_keeps_types_and_values(value: object) -> None:
    """Scalars, lists, tuples and dicts come back equal and with the same container types."""
    assert plain.loads(*plain.dumps(value)) == value


def test_tensors_arrays_and_non_finite_floats() -> None:
    """Tensors come back as tensors (dtype kept), arrays as arrays, nan/inf as floats."""
    value: dict[str, Any] = {"t": torch.arange(6, dtype=torch.float64).reshape(2, 3), "i": torch.tensor([1, 2]),
             "a": np.ones(2, dtype=np.float32), "x": (math.inf, -math.inf), "n": math.nan,
             "bf": torch.ones(2, dtype=torch.bfloat16)}
    back = plain.loads(*plain.dumps(value))
    assert torch.equal(back["t"], value["t"]) and back["t"].dtype == torch.float64
    assert back["i"].dtype == torch.int64 and isinstance(back["a"], np.ndarray)
    assert back["x"] == (math.inf, -math.inf) and math.isnan(back["n"])
    assert back["bf"].dtype == torch.float32


@pytest.mark.parametrize("bad", [object(), {1: 2}, {"f": lambda: 0}, np.array([object()]), [set()]])
def test_non_plain_values_are_refused(bad: object) -> None:
    """Objects, non-str keys, functions and object arrays raise PlainError naming the path."""
    with pytest.raises(plain.PlainError, match="value"):
        plain.encode(bad)


def test_lying_float_subclass_is_not_plain() -> None:
    """A float subclass with a lying __eq__ cannot pass as a number."""
    class Liar(float):
        def __eq__(self, other: object) -> bool:
            return True
    with pytest.raises(plain.PlainError):
        plain.encode(Liar(1.0))


def _npz(**arrays: np.ndarray) -> bytes:
    """An .npz archive as bytes."""
    buffer = io.BytesIO()
    named: dict[str, Any] = dict(arrays)  # test names, never one of savez's own keywords
    np.savez(buffer, **named)
    return buffer.getvalue()


@pytest.mark.parametrize("tree,npz", [
    ({"T": "missing"}, _npz()),  # names an array that is not there
    ({"zz": 1}, _npz()),  # unknown tag
    ([1, 2], _npz()),  # bare JSON list: encode never writes one
    ({"T": "a0"}, b"not a zip"),
])
def test_hostile_trees_are_refused(tree: object, npz: bytes) -> None:
    """Trees that encode would never write, or broken archives, raise PlainError."""
    with pytest.raises(plain.PlainError):
        plain.loads(json.dumps(tree).encode(), npz)


def test_object_arrays_and_pickles_are_refused() -> None:
    """An .npz holding a pickled object array is rejected (allow_pickle=False)."""
    buffer = io.BytesIO()
    np.savez(buffer, a0=np.array([{"x": 1}], dtype=object))
    with pytest.raises(plain.PlainError):
        plain.loads(json.dumps({"A": "a0"}).encode(), buffer.getvalue())


#: Set by `_ran_in_the_grader` when an unpickled payload executes (it must never be).
RAN: list[str] = []


def _ran_in_the_grader(marker: str) -> dict[str, int]:
    """What a hostile pickle calls while it is loaded: records that it ran, and leaves a file behind."""
    RAN.append(marker)
    with open(marker, "w") as f:
        f.write("pickle payload ran in the trusted process")
    return {"x": 1}


class _Payload:
    """An object whose unpickling runs `_ran_in_the_grader` (the __reduce__ of a hostile result file)."""

    def __init__(self, marker: str) -> None:
        """Remember where to leave the marker."""
        self.marker = marker

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        """Unpickling calls _ran_in_the_grader(marker)."""
        return _ran_in_the_grader, (self.marker,)


@pytest.mark.parametrize("named", [True, False])
def test_a_pickled_payload_never_runs(tmp_path, named: bool) -> None:
    """An .npz member holding a pickle whose loading has a side effect: refused, and the side effect never
    happened (with allow_pickle=True the dtype check still raises afterwards, so only this catches it)."""
    marker = tmp_path / "ran"
    buffer = io.BytesIO()
    np.savez(buffer, a0=np.array([_Payload(str(marker))], dtype=object), a1=np.ones(2))
    tree = {"A": "a0"} if named else {"A": "a1"}  # referenced or not: every member is loaded and checked
    RAN.clear()
    with pytest.raises(plain.PlainError):
        plain.loads(json.dumps(tree).encode(), buffer.getvalue())
    assert not marker.exists() and RAN == [], "the pickled payload ran in the grader's process"


def test_foreign_byte_order_is_refused_not_crashing() -> None:
    """A big-endian array (torch.from_numpy raises ValueError on it) is a PlainError like any bad input."""
    buffer = io.BytesIO()
    np.savez(buffer, a0=np.arange(3, dtype=">f8"))
    with pytest.raises(plain.PlainError, match="byte order"):
        plain.loads(json.dumps({"T": "a0"}).encode(), buffer.getvalue())


def test_size_limits_are_checked_before_decompressing() -> None:
    """A compressed archive announcing more bytes than allowed is refused without inflating it."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("a0.npy", b"\0" * (4 << 20))
    with pytest.raises(plain.PlainError, match="more than"):
        plain.loads(b'{"A": "a0"}', buffer.getvalue(), plain.DecodeCaps(max_array_bytes=1 << 20))
    deep = b"[" * 100_000 + b"]" * 100_000
    with pytest.raises(plain.PlainError):
        plain.loads(deep, _npz())


def test_dump_and_load_files(tmp_path) -> None:
    """dump writes .npz then .json; load refuses symlinks."""
    plain.dump({"y": torch.ones(3)}, tmp_path / "r")
    assert torch.equal(plain.load(tmp_path / "r")["y"], torch.ones(3))
    (tmp_path / "s.json").symlink_to(tmp_path / "r.json")
    (tmp_path / "s.npz").symlink_to(tmp_path / "r.npz")
    with pytest.raises(plain.PlainError, match="regular file"):
        plain.load(tmp_path / "s")



def test_what_dumps_writes_is_read_without_numpys_general_reader(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fast reader takes every .npz that dumps writes (numpy's reader is only the fallback for other files)."""
    tensor, array = torch.arange(6.0).reshape(2, 3).T, np.asfortranarray(np.ones((2, 2)))
    json_bytes, npz_bytes = plain.dumps({"t": tensor, "a": array, "s": torch.tensor(3)})

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("numpy's general .npz reader was used")
    monkeypatch.setattr(np, "load", refuse)
    back = plain.loads(json_bytes, npz_bytes)
    assert torch.equal(back["t"], tensor.contiguous()) and np.array_equal(back["a"], array)
    assert back["a"].flags.f_contiguous and back["s"].item() == 3


def test_a_stored_array_named_twice_is_refused_not_copied_again_and_again() -> None:
    """The size caps count each stored array once: a forged frame naming one 2 MB array 1,500 times decoded into 3 GB
    in the trusted grader (OOM-killed, the whole batch lost). Each array decodes once, as `encode` writes them."""
    _, npz_bytes = plain.dumps([torch.ones(4)])
    for tag in ("T", "A"):
        with pytest.raises(plain.PlainError, match="more than once"):
            plain.loads(json.dumps({"l": [{tag: "a0"}] * 3}).encode(), npz_bytes)
        with pytest.raises(plain.PlainError, match="more than once"):
            plain.loads(json.dumps({"l": [{"T": "a0"}, {"A": "a0"}]}).encode(), npz_bytes)
    same = torch.arange(3.0)
    back = plain.loads(*plain.dumps({"x": same, "y": [same, same]}))  # one tensor sent twice: two arrays
    assert all(torch.equal(t, same) for t in (back["x"], *back["y"]))

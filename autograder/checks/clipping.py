"""The `clipping` assignment: global gradient norm, clip_grad_norm and clip_grad_value, like torch.nn.utils.

The student's functions get a list of gradient tensors (None entries skipped) and must modify the
tensors in place; the check reads the original tensor objects back, so clipped copies do not count.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor

from autograder import reference
from autograder.checks.builder import CheckSpec, Mistake, Unusable, build, case_label, on_device, student, tensor_out
from autograder.checks.compare import Tolerance, describe
from autograder.checks.mistakes import clipping as wrong
from autograder.checks.spec import Assignment, Case, Functions, Output
from autograder.message import say

FORBIDDEN = ("torch.nn.utils.clip_grad_norm_", "torch.nn.utils.clip_grad_value_", "torch.nn.utils.clip_grad",
             "torch.nn.utils.get_total_norm", "torch.nn.utils.clip_grads_with_norm_", "torch.optim",
             "torch.autograd", "Tensor.backward")


def _grads(gen: torch.Generator, shapes: Sequence[tuple[int, ...] | None], scale: float = 1.0) -> list[Tensor | None]:
    """Random gradients of the given shapes (None stays None)."""
    return [None if s is None else torch.randn(s, generator=gen, dtype=torch.float64) * scale for s in shapes]


def _tensor(grads: list[Tensor | None], i: int) -> Tensor:
    """grads[i], which the case builder knows is a tensor."""
    g = grads[i]
    if g is None:
        raise ValueError(f"internal: grads[{i}] is None")
    return g


def _with_norm(grads: list[Tensor | None], target: float, p: float) -> list[Tensor | None]:
    """The gradients rescaled so that their global p-norm is `target` (to rounding)."""
    c = target / _drawn_norm(grads, p)
    return [None if g is None else g * c for g in grads]


def _drawn_norm(grads: list[Tensor | None], p: float) -> float:
    """The global p-norm in Python floats (math.fsum: one correctly rounded sum), for drawing cases only.

    torch's vector_norm sums in an order that depends on the SIMD level (ATEN_CPU_CAPABILITY), so a case scaled by
    it had other inputs (an ulp apart) on another CPU; a grade must depend on the notebook and the key alone."""
    values = [abs(v) for g in grads if g is not None for v in g.reshape(-1).tolist()]
    if math.isinf(p):
        return max(values, default=0.0)
    return math.fsum(v * v if p == 2.0 else v ** p for v in values) ** (1.0 / p)


def _case(label: Any, grads: list[Tensor | None], *, dtype: str = "float64", **kw: Any) -> Case:
    """A clipping case; norm_type travels as a string so that inf survives JSON."""
    if "norm_type" in kw:
        kw["norm_type"] = str(float(kw["norm_type"]))
    return {"label": label, "grads": grads, "dtype": dtype, **kw}


def _inputs(case: Case, watched: bool = False) -> tuple[list[Tensor | None], Tensor | None]:
    """The case's gradients on the course device (watched when they must not change), and one of them for
    dtype/device checks (None when there is none: an empty list or only None)."""
    grads = [None if g is None else on_device(g, case, f"grads[{i}]" if watched else None)
             for i, g in enumerate(case["grads"])]
    return grads, next((g for g in grads if g is not None), None)


def _read_back(grads: list[Tensor | None]) -> Output:
    """The original tensor objects after the call: in-place changes are what counts."""
    return {f"grads[{i}]": g.detach().to("cpu").clone() for i, g in enumerate(grads) if g is not None}


def _list_kept(function: str, grads: list[Tensor | None], originals: list[Tensor | None]) -> None:
    """Unusable when the function replaced, added or removed entries of the list it was given."""
    if len(grads) != len(originals) or any(a is not b for a, b in zip(grads, originals, strict=True)):
        raise Unusable(say("unusable.list_changed", function=function))


def _p(case: Case) -> float:
    """The case's norm type as a float (2.0 when absent)."""
    return float(case.get("norm_type", "2.0"))


def _tol(case: Case) -> Tolerance:
    """float64: tight enough to see torch's + 1e-6; float32: float32 accuracy."""
    return Tolerance(1e-10, 1e-14) if case.get("dtype", "float64") == "float64" else Tolerance(1e-5, 1e-7)


# ---- grad_norm -------------------------------------------------------------------------------------

def _run_norm(functions: Functions, case: Case) -> Output:
    """norm = grad_norm(grads, norm_type); the gradients must not change."""
    grads, like = _inputs(case, watched=True)
    originals = list(grads)
    kwargs = {"norm_type": _p(case)} if "norm_type" in case else {}
    value = student(functions, "grad_norm")(grads, **kwargs)
    _list_kept("grad_norm", grads, originals)
    return {"norm": tensor_out(say("what.return", function="grad_norm"), value, (), like)}


def _norm_visible() -> list[Case]:
    """Fixed cases: default, 1, inf and 3 norms, one with gradients ~1e-8."""
    gen = torch.Generator().manual_seed(7)
    shapes = [(3, 4), None, (5,), (2, 2, 2)]
    return [_case(case_label("label.clip.default_norm"), _grads(gen, shapes)),
            _case("norm_type=1", _grads(gen, shapes), norm_type=1.0),
            _case("norm_type=inf", _grads(gen, shapes), norm_type=math.inf),
            _case(case_label("label.clip.tiny", settings="norm_type=3", scale="1e-8"), _grads(gen, shapes, 1e-8),
                  norm_type=3.0),
            _case(case_label("label.clip.empty"), []),
            _case(case_label("label.clip.only_none"), [None, None], norm_type=1.0)]


def _norm_hidden(gen: torch.Generator) -> list[Case]:
    """Fresh shapes and scales for each norm type, and a float32 case."""
    cases = []
    for p in (2.0, 1.0, math.inf, 4.0):
        k = int(torch.randint(1, 5, (), generator=gen))
        shapes = [tuple(int(n) for n in torch.randint(1, 6, (2,), generator=gen)) for _ in range(k)] + [None]
        scale = float(10 ** (torch.rand((), generator=gen) * 10 - 8))
        cases.append(_case(case_label("label.clip.tensors", n=k, settings=f"norm_type={p}", scale=f"{scale:.0e}"),
                           _grads(gen, shapes, scale), norm_type=p))
    cases.append(_case("float32, norm_type=2", _grads(gen, [(4,), (3, 3)]), dtype="float32", norm_type=2.0))
    return cases


GRAD_NORM = CheckSpec(
    grade_id="grad_norm", points=2, functions=("grad_norm",), visible=_norm_visible, hidden=_norm_hidden,
    run=_run_norm, expect=lambda c: {"norm": reference.grad_norm(c["grads"], _p(c))},
    mistakes=(Mistake("sum_of_norms", "per-tensor instead of global norm (per-tensor norms added)",
                      "torch takes the p-norm of all entries together: ||(||g_1||, ..., ||g_k||)||_p",
                      lambda c: {"norm": wrong.sum_of_norms(c["grads"], _p(c))}),
              Mistake("pth_root_missing", "p-th root missing (sum of |g|^p, e.g. the squared 2-norm)",
                      "take the p-th root of the sum: (sum |g|^p)^(1/p)",
                      lambda c: {"norm": wrong.pth_root_missing(c["grads"], _p(c))}),
              Mistake("norm_type_ignored", "norm_type ignored (always the 2-norm)", "use norm_type: the max of |g| "
                      "for inf, "
                      "(sum |g|^p)^(1/p) otherwise", lambda c: {"norm": wrong.global_norm(c["grads"], 2.0)})),
    tolerance=_tol, description="one global p-norm over a list of gradients")


# ---- clip_grad_norm ----------------------------------------------------------------------------------

def _run_clip_norm(functions: Functions, case: Case) -> Output:
    """total = clip_grad_norm(grads, max_norm, ...); the tensors are read back after the call, also after a raise."""
    grads, like = _inputs(case)
    originals = list(grads)
    kwargs: dict[str, Any] = {k: case[k] for k in ("error_if_nonfinite",) if k in case}
    if "norm_type" in case:
        kwargs["norm_type"] = _p(case)
    try:
        total = student(functions, "clip_grad_norm")(grads, case["max_norm"], **kwargs)  # an int stays an int
    except RuntimeError as exc:
        # NotImplementedError is a RuntimeError too: an untouched stub must not pass the error cases
        if case.get("error_if_nonfinite") and not isinstance(exc, NotImplementedError):
            return {"raised": "RuntimeError", **_read_back(originals)}  # torch raises before it changes anything
        raise
    _list_kept("clip_grad_norm", grads, originals)
    return {"total": tensor_out(say("what.total", function="clip_grad_norm"), total, (), like),
            **_read_back(originals)}


def _expect_clip_norm(case: Case) -> Output:
    """torch's clipped gradients and pre-clip total, or the RuntimeError it raises (gradients unchanged)."""
    try:
        clipped, total = reference.clip_grad_norm(case["grads"], float(case["max_norm"]), _p(case),
                                                  bool(case.get("error_if_nonfinite", False)))
    except RuntimeError:
        return {"raised": "RuntimeError", **_named_grads(case["grads"])}
    return {"total": total, **_named_grads(clipped)}


def _named_grads(grads: Sequence[Tensor | None]) -> Output:
    """{'grads[i]': g} for the tensors of a gradient list."""
    return {f"grads[{i}]": g for i, g in enumerate(grads) if g is not None}


def _raises(case: Case) -> bool:
    """Does torch raise on this case (a non-finite total with error_if_nonfinite=True)?"""
    return bool(case.get("error_if_nonfinite")) and not bool(torch.isfinite(wrong.global_norm(case["grads"], _p(case))))


def _grads_mistake(key: str, name: str, hint: str, kernel: Callable[[Case], list[Tensor | None]]) -> Mistake:
    """A mistake that shows in the clipped gradients."""
    return Mistake(key, name, hint, lambda c: _named_grads(kernel(c)))


def _clip_mistake(key: str, name: str, hint: str, kernel: Callable[[Case], Output]) -> Mistake:
    """A clip_grad_norm mistake: its outputs where torch clips, torch's own behaviour (raise first) where it raises."""
    return Mistake(key, name, hint, lambda c: {} if _raises(c) else kernel(c))


def _clip_grads(key: str, name: str, hint: str, kernel: Callable[[Case], list[Tensor | None]]) -> Mistake:
    """A clip_grad_norm mistake that shows in the clipped gradients."""
    return _clip_mistake(key, name, hint, lambda c: _named_grads(kernel(c)))


def _args(c: Case) -> tuple[list[Tensor | None], float, float]:
    """(grads, max_norm, norm_type) of a clip_grad_norm case."""
    return c["grads"], float(c["max_norm"]), _p(c)


CLIP_MISTAKES = (
    _clip_grads("clip_only_above", "scaled only when total > max_norm",
                "torch always multiplies by min(1, max_norm / (total + 1e-6)): a total exactly at max_norm "
                "is still scaled by a hair", lambda c: wrong.clip_only_above(*_args(c))),
    _clip_mistake("clip_ignoring_norm_type", "norm_type ignored (always the 2-norm)",
                  "compute the total with the given norm_type",
                  lambda c: {"total": wrong.global_norm(c["grads"], 2.0),
                             **_named_grads(wrong.clip_ignoring_norm_type(*_args(c)))}),
    _clip_grads("clip_per_tensor", "per-tensor instead of global norm",
                "compute ONE norm over all gradients, then scale every tensor by the same factor",
                lambda c: wrong.clip_per_tensor(*_args(c))),
    _clip_grads("clip_without_eps", "missing 1e-6", "torch scales by max_norm / (total + 1e-6)",
                lambda c: wrong.clip_without_eps(*_args(c))),
    _clip_grads("clip_eps_subtracted", "1e-6 subtracted instead of added",
                "torch scales by max_norm / (total + 1e-6), with a plus",
                lambda c: wrong.clip_eps_subtracted(*_args(c))),
    _clip_grads("clip_without_clamp", "scale factor not clamped at 1", "torch uses min(1, max_norm / (total + 1e-6)): "
                "gradients below max_norm are left alone", lambda c: wrong.clip_without_clamp(*_args(c))),
    _clip_grads("clip_nan_dropped", "a NaN scale factor dropped (Python's min(1.0, nan) is 1.0)",
                "when the total is NaN torch multiplies every gradient by NaN: clamp with torch.clamp(coef, max=1.0), "
                "which keeps NaN (Python's min(1.0, nan) returns 1.0, and `if coef < 1` is False for NaN)",
                lambda c: wrong.clip_nan_dropped(*_args(c))),
    _clip_grads("clip_copies", "clipped copies instead of in-place changes",
                "modify each tensor in place (g.mul_(coef)); replacing list entries does not change them",
                lambda c: wrong.unchanged(c["grads"])),
    _clip_mistake("post_clip_norm", "returning the post-clip norm", "return the total norm computed BEFORE clipping",
                  lambda c: {"total": wrong.post_clip_norm(*_args(c))}),
)
#: Only the flags question has non-finite gradients with error_if_nonfinite=True.
RAISED_LATE = Mistake("clip_then_raise", "gradients changed before raising",
                      "torch checks the total first and raises before it changes any gradient: test "
                      "torch.isfinite(total) before you multiply",
                      lambda c: _named_grads(wrong.clip_then_raise(*_args(c))) if _raises(c) else {})


def _exact_label(first: str, second: str, max_norm: str) -> dict[str, Any]:
    """'total = max_norm exactly: grads [3, 0] and [4], max_norm 5'."""
    return case_label("label.clip.exact", first=first, second=second, max_norm=max_norm)


def _ratio_label(ratio: str, settings: str = "", max_norm: str = "") -> dict[str, Any]:
    """'<settings>, total = <ratio> x max_norm[=<max_norm>]' as a case label (worded in the reader's language)."""
    total = say("label.clip.ratio_of", ratio=ratio, max_norm=max_norm) if max_norm else \
        say("label.clip.ratio", ratio=ratio)
    return case_label("label.with", settings=settings, rest=total) if settings else total.to_plain()


def _nonfinite_label(value: str, flag: bool) -> dict[str, Any]:
    """'inf gradient, error_if_nonfinite=True'."""
    return case_label("label.clip.nonfinite", value=value, settings=f"error_if_nonfinite={flag}")


def _exact(grads: list[list[float] | None], scale: float = 1.0) -> list[Tensor | None]:
    """Gradients with a total norm that is exact in floating point (small integers times a power of two)."""
    return [None if g is None else torch.tensor(g, dtype=torch.float64) * scale for g in grads]


def _nan_grads(gen: torch.Generator, shapes: Sequence[tuple[int, ...] | None]) -> list[Tensor | None]:
    """Random gradients with one NaN entry: the total is NaN."""
    grads = _grads(gen, shapes)
    _tensor(grads, len(shapes) - 1).view(-1)[0] = math.nan
    return grads


def _clip_visible() -> list[Case]:
    """Totals far above, exactly at (exact in floating point), just above and below max_norm, tiny gradients, NaN."""
    gen = torch.Generator().manual_seed(11)
    shapes = [(3, 4), None, (5,)]
    return [
        _case(_ratio_label("5"), _with_norm(_grads(gen, shapes), 5.0, 2.0), max_norm=1.0),
        _case(_exact_label("[3, 0]", "[4]", "5"), _exact([[3.0, 0.0], None, [4.0]]), max_norm=5.0),
        _case(_ratio_label("1.001"), _with_norm(_grads(gen, shapes), 2.002, 2.0), max_norm=2.0),
        _case(case_label("label.clip.below"), _with_norm(_grads(gen, shapes), 0.5, 2.0), max_norm=1.0),
        _case(case_label("label.clip.tiny", settings="max_norm=1e-7", scale="1e-8"),
              _with_norm(_grads(gen, shapes), 3e-7, 2.0), max_norm=1e-7),
        _case(case_label("label.clip.nan_explained"), _nan_grads(gen, shapes), max_norm=1.0),
    ]


def _flags_visible() -> list[Case]:
    """inf and 1 norms, and non-finite gradients with error_if_nonfinite on and off."""
    gen = torch.Generator().manual_seed(13)
    shapes = [(4,), (2, 3), None]
    nonfinite = _grads(gen, shapes)
    _tensor(nonfinite, 0)[1] = math.inf
    nan_grads = _grads(gen, shapes)
    _tensor(nan_grads, 1)[0, 0] = math.nan
    return [
        _case(_ratio_label("3", "norm_type=inf"), _with_norm(_grads(gen, shapes), 3.0, math.inf),
              max_norm=1.0, norm_type=math.inf),
        _case("norm_type=1", _with_norm(_grads(gen, shapes), 4.0, 1.0), max_norm=2.0, norm_type=1.0),
        _case(case_label("label.with", settings="norm_type=inf", rest=say("label.clip.below")),
              _with_norm(_grads(gen, shapes), 0.2, math.inf), max_norm=1.0, norm_type=math.inf),
        _case(_nonfinite_label("inf", True), nonfinite, max_norm=1.0, error_if_nonfinite=True),
        _case(_nonfinite_label("NaN", False), nan_grads, max_norm=1.0, error_if_nonfinite=False),
        _case(_exact_label("[0, -4]", "[3]", "5"), _exact([[0.0, -4.0], [3.0], None]), max_norm=5.0),
        _case(case_label("label.with", settings="norm_type=1", rest=say(
            "label.clip.exact", first="[2, -3]", second="[5]", max_norm="10")),
              _exact([[2.0, -3.0], None, [5.0]]), max_norm=10.0, norm_type=1.0),
        # finite gradients with the flag on: raising whenever the flag is set is wrong, clip as usual
        _case(case_label("label.clip.finite", settings="error_if_nonfinite=True"),
              _with_norm(_grads(gen, shapes), 2.5, 2.0), max_norm=1.0, error_if_nonfinite=True),
        _case(case_label("label.clip.int_max_norm", value="1"), _with_norm(_grads(gen, shapes), 3.0, 2.0),
              max_norm=1),
        _case(case_label("label.clip.empty_returns"), [], max_norm=1.0),
        _case(case_label("label.clip.only_none_flag", settings="error_if_nonfinite=True"), [None], max_norm=1.0,
              error_if_nonfinite=True),
    ]


#: Integer gradients and their exact 2-norm (Pythagorean quadruples and triples).
_EXACT_2 = (([1.0, 2.0], [2.0]), 3.0), (([2.0, 3.0], [6.0]), 7.0), (([5.0], [12.0, 0.0]), 13.0), \
    (([8.0, 0.0], [15.0]), 17.0), (([2.0, 6.0], [9.0]), 11.0)


def _exact_case(gen: torch.Generator, p: float, flags: bool) -> Case:
    """A random total exactly at max_norm in floating point: integers times 2^k, for the 2-, 1- or inf-norm."""
    pick = int(torch.randint(0, len(_EXACT_2), (), generator=gen))
    (a, b), total2 = _EXACT_2[pick]
    signs = torch.randint(0, 2, (len(a) + len(b),), generator=gen) * 2 - 1
    a = [x * float(s) for x, s in zip(a, signs[: len(a)], strict=True)]
    b = [x * float(s) for x, s in zip(b, signs[len(a):], strict=True)]
    total = {2.0: total2, 1.0: sum(map(abs, a + b)), math.inf: max(map(abs, a + b))}[p]
    scale = 2.0 ** int(torch.randint(-20, 5, (), generator=gen))
    kw: dict[str, Any] = {"max_norm": total * scale, **({"norm_type": p} if flags else {})}
    return _case(case_label("label.clip.exact_total", settings=f"norm_type={p}", total=f"{total * scale:.6g}"),
                 _exact([a, None, b], scale), **kw)


def _clip_hidden(flags: bool) -> Callable[[torch.Generator], list[Case]]:
    """Hidden cases: totals around and exactly at max_norm for every norm type (flags) or the 2-norm (basic)."""
    def make(gen: torch.Generator) -> list[Case]:
        """The hidden cases for one generator."""
        cases = []
        norm_types = (2.0, 1.0, math.inf, 3.0) if flags else (2.0,)
        for p in norm_types:
            # no ratio 1.0 "to rounding": a total one ulp either side of max_norm would decide a branch by chance
            for ratio in (0.3, 1.0005, 7.0):
                shapes = [(int(torch.randint(1, 5, (), generator=gen)), 3), None, (4,)]
                max_norm = float(10 ** (torch.rand((), generator=gen) * 6 - 5))
                g = _with_norm(_grads(gen, shapes), ratio * max_norm, p)
                kw: dict[str, Any] = {"max_norm": max_norm, **({"norm_type": p} if flags else {})}
                cases.append(_case(_ratio_label(str(ratio), f"norm_type={p}", f"{max_norm:.2g}"), g, **kw))
            if p != 3.0:  # no integers have an exact 3-norm sum (Fermat)
                cases.append(_exact_case(gen, p, flags))
        if flags:
            bad = _grads(gen, [(3,), (2, 2)])
            _tensor(bad, 1)[1, 0] = -math.inf
            cases.append(_case(_nonfinite_label("-inf", True), bad, max_norm=1.0, error_if_nonfinite=True))
            copies = [None if t is None else t.clone() for t in bad]
            cases.append(_case(_nonfinite_label("-inf", False), copies, max_norm=1.0, error_if_nonfinite=False))
        else:
            cases.append(_case(case_label("label.clip.nan"), _nan_grads(gen, [(2, 3), (4,)]), max_norm=1.0))
        cases.append(_case(_ratio_label("4", "float32"), _with_norm(_grads(gen, [(6,), (2, 3)]), 4.0, 2.0),
                           dtype="float32", max_norm=1.0))
        return cases
    return make


def _clip_spec(grade_id: str, points: float, visible: Callable[[], list[Case]], flags: bool) -> CheckSpec:
    """A clip_grad_norm question with the given visible cases."""
    return CheckSpec(grade_id=grade_id, points=points, functions=("clip_grad_norm",), visible=visible,
                     hidden=_clip_hidden(flags), run=_run_clip_norm, expect=_expect_clip_norm,
                     mistakes=(*CLIP_MISTAKES, RAISED_LATE) if flags
                     else tuple(m for m in CLIP_MISTAKES if m.id != "clip_ignoring_norm_type"),
                     tolerance=_tol,
                     description="clip_grad_norm like torch.nn.utils.clip_grad_norm_")


# ---- clip_grad_value ---------------------------------------------------------------------------------

def _run_clip_value(functions: Functions, case: Case) -> Output:
    """clip_grad_value(grads, clip_value) must return None and clamp the tensors in place."""
    grads, _ = _inputs(case)
    originals = list(grads)
    returned = student(functions, "clip_grad_value")(grads, float(case["clip_value"]))
    _list_kept("clip_grad_value", grads, originals)
    if returned is not None:  # a do-nothing function must not earn points for "returning None" either
        raise Unusable(say("unusable.returned", function="clip_grad_value", got=describe(returned)))
    return _read_back(originals)


def _value_cases(gen: torch.Generator, n: int, label: str) -> list[Case]:
    """n cases with random clip values and a -1e9 entry."""
    cases = []
    for k in range(n):
        clip = float(10 ** (torch.rand((), generator=gen) * 4 - 3))
        grads = _grads(gen, [(3, 4), None, (6,)], clip * 3)
        _tensor(grads, 0)[0, 0] = -1e9  # a huge negative entry: clamping only from above misses it
        cases.append(_case(case_label(label, n=k + 1, settings=f"clip_value={clip:.3g}"), grads, clip_value=clip))
    return cases


CLIP_VALUE = CheckSpec(
    grade_id="clip_grad_value", points=1, functions=("clip_grad_value",),
    visible=lambda: _value_cases(torch.Generator().manual_seed(17), 2, "label.clip.visible_case"),
    hidden=lambda gen: _value_cases(gen, 3, "label.clip.hidden_case"), run=_run_clip_value,
    expect=lambda c: {**{f"grads[{i}]": g for i, g in enumerate(
        reference.clip_grad_value(c["grads"], float(c["clip_value"]))) if g is not None}},
    mistakes=(_grads_mistake("clamp_upper_only", "only the upper side clamped", "clamp to [-clip_value, clip_value]",
                             lambda c: wrong.clamp_upper_only(c["grads"], float(c["clip_value"]))),
              _grads_mistake("clamp_abs", "sign lost (|g| clamped)", "clamp g itself to [-clip_value, clip_value]",
                             lambda c: wrong.clamp_abs(c["grads"], float(c["clip_value"]))),
              _grads_mistake("clamp_copies", "clipped copies instead of in-place changes",
                             "modify each tensor in place (g.clamp_(...))", lambda c: wrong.unchanged(c["grads"]))),
    tolerance=_tol, description="clip_grad_value like torch.nn.utils.clip_grad_value_")

SPECS = (GRAD_NORM, _clip_spec("clip_grad_norm_basic", 3, _clip_visible, False),
         _clip_spec("clip_grad_norm_flags", 2, _flags_visible, True), CLIP_VALUE)

ASSIGNMENT = Assignment(id="clipping", notebook="clipping.ipynb", questions=tuple(build(s) for s in SPECS),
                        manual=(), forbidden=FORBIDDEN)

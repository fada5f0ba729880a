"""The English wording of the checks' message codes: the catalog's source language (autograder/checks/messages.py).

`{name}` is a parameter (autograder/message.py): text and numbers appear as they are in every language, nested
messages in the reader's. A code ending in `.at` has a `where` parameter (where in the student's code it
happened); the same code without `.at` is its wording without it. Mistakes' names and hints are worded where
the mistakes are defined (the checks' specs) and catalogued under `mistake.<id>` and `hint.<id>`.
"""

from __future__ import annotations

CHECKS = {
    # one graded question: the verdict, the first failing case, and what the diagnosis named
    "check.passed": "{grade_id}: all {n} cases match the reference (max abs err {err})",
    "check.no_cases": "{grade_id}: no cases were graded",
    "check.error": "{grade_id}: {error}",
    "check.case": "{grade_id}: case [{label}]: {problem}",
    "check.differs": "output '{key}' differs: {reason}",
    "check.differs_also": "output '{key}' differs: {reason} (also: {others})",
    "check.summary": "{head} [{wrong} of {total} outputs wrong: {score} of {points} points]",
    "check.summary_capped": "{head} [{wrong} of {total} outputs wrong: {score} of {points} points, at most {cap} "
                            "for a named known mistake]",
    "check.named": "{head}. This matches a known mistake: {name} — {hint}",
    "check.named_several": "{head}. This matches known mistakes that these cases cannot tell apart: {pairs}",
    "check.named_pair": "{name} — {hint}",
    "check.no_output": "no output came back",
    "check.unreadable_error": "the error this case reported could not be read",
    "check.not_plain": "returned something that is not plain data: {error}",
    "check.call_failed": "the call was stopped: {error}",
    "check.slow": "{grade_id}: your functions took {seconds} s on these {n} cases, so about {estimate} s on the "
                  "{total} cases the course grader calls them on (there on one CPU thread, maybe slower); it stops a "
                  "question after {limit} s by default, and the question then scores 0: make them faster",
    # how an output differs from the reference (autograder/checks/compare.py)
    "diff.expected": "expected {want}, got {got}",
    "diff.not_tensor": "expected a tensor of shape {shape}, got {got}",
    "diff.shape": "expected shape {want}, got shape {got}",
    "diff.nan": "NaN where the reference is finite ({where})",
    "diff.inf": "inf where the reference is finite ({where})",
    "diff.special": "expected NaN/inf at {where}, got finite values",
    "diff.error": "max abs err {abs}, max rel err {rel}, {where}",
    "diff.no_outputs": "no outputs came back ({got})",
    "diff.unreadable": "could not read this output ({error})",
    "at.step": "first bad step {step}",
    "at.index": "first bad entry at index {index}",
    "at.scalar": "the scalar differs",
    # what came back instead (compare.describe)
    "value.tensor": "a tensor of shape {shape}, dtype {dtype}, on {device}",
    "value.array": "an array of shape {shape}, dtype {dtype}",
    "value.container": "a {type} of length {n}",
    "value.object": "an object of type {type}",
    # a return value that cannot be graded (builder.tensor_out, unpack, student)
    "unusable.not_tensor": "{what}: expected a tensor of shape {shape}, got {got}",
    "unusable.shape": "{what}: expected shape {want}, got shape {got}",
    "unusable.not_float": "{what}: expected a floating-point tensor, got {got}",
    "unusable.dtype": "{what}: expected dtype {want} (the inputs' dtype), got {got}",
    "unusable.device": "{what}: expected a tensor on {want} (the inputs' device), got {got}",
    "unusable.tuple": "{what}: expected a tuple of {n} values, got {got}",
    "unusable.undefined": "no function named {name} was defined (run the cell that defines it)",
    "unusable.grads_not_dict": "{function}: expected grads as a dict with keys {keys}, got {got}",
    "unusable.grads_key": "{function}: grads has no key {key} (got keys {keys})",
    "unusable.list_changed": "{function} changed the list grads itself (replaced, added or removed entries); leave "
                             "the list as it is and change each tensor in place (g.mul_(...), g.clamp_(...))",
    "unusable.returned": "{function}: expected None (it clips in place, like torch), got {got}",
    "what.output": "{function}'s {name}",
    "what.step": "{function} at step {step}",
    "what.return": "{function}'s return value",
    "what.total": "{function}'s return value (the pre-clip total norm)",
    # inputs changed in place (autograder/checks/guard.py)
    "changed.returnable": "{function} changed its input {what} in place; inputs must not change (update it in "
                          "place only if you return that same tensor)",
    "changed.input": "{function} changed its input {what} in place; inputs must not change (compute new tensors "
                     "instead: out-of-place ops such as x * m, not x.mul_(m) or x[i] = ...)",
    # the student's code raised (autograder/checks/where.py)
    "raised": "raised {type}",
    "raised.at": "raised {type} ({where})",
    "raised.text": "raised {type}: {text}",
    "raised.text.at": "raised {type}: {text} ({where})",
    "raised.stub": "raised NotImplementedError",
    "raised.stub.at": "raised NotImplementedError ({where})",
    "raised.undefined": "raised NameError: name '{name}' is not defined",
    "raised.undefined.at": "raised NameError: name '{name}' is not defined ({where})",
    "where.in": "in {function}, {cell}, line {line}",
    "where.in_code": "in {function}, {cell}, line {line}: `{code}`",
    "where.cell": "cell {label}",
    "where.ipython_cell": "Cell {number}",  # Jupyter's own name of a cell in its tracebacks: Cell In[7]
    # forbidden shortcuts (autograder/checks/forbidden.py)
    # no "forbidden:" of their own: the verdict (status) says it, once
    "forbidden.called_inside": "{shortcut} was called inside the graded function (write the computation yourself)",
    "forbidden.used": "{function} uses {shortcuts} (write the computation yourself)",
    # the text of the ForbiddenCall the tripwire raises, worded anew where a cell's exception is shown
    "forbidden.trapped": "{shortcut} is a forbidden shortcut in this exercise: write the computation yourself",
    # lists: the items joined by the entry's text
    "list.or": "; or ",
    "list.semicolon": "; ",
    # what a check cell prints (autograder/checks/notebook.py)
    "verdict.passed": "passed: {message}",
    "verdict.partial": "partial: {message}",
    "verdict.failed": "failed: {message}",
    "verdict.error": "error: {message}",
    "verdict.forbidden": "forbidden: {message}",
    "verdict.points_lost": "{score} of {points} points: {message}",
    "verdict.row": "{status}: {message}",
}

#: The capstone (autograder/checks/exploding.py, exploding_history.py).
CAPSTONE = {
    "train.raised": "train {error}",
    "train.changed_inputs": "train changed x or y in place; inputs must not change",
    "train.nothing": "nothing came back ({got})",
    "train.not_dict": "train must return a dict with keys 'loss' and 'grad_norm', got {got}",
    "train.not_list": "history[{key}] must be a list of Python floats, got {got}",
    "train.not_float": "history[{key}][{index}] is {got}; append Python floats (loss.item(), float(norm)), not tensors",
    "train.history_shape": "history must hold one loss and one gradient norm per step (1 to {steps} steps)",
    "train.history_nan": "the history has NaN/inf at step {step}: training diverged",
    "train.unchecked": "the model's forward passes could not be checked",
    "train.entries": "the history has {entries} entries but the model took {taken} optimizer steps (measured by the "
                     "grader): record one loss and one grad_norm at every step",
    "train.copy": "train ran a copy of the model ({n} forward passes), not the model it was given: train `model` "
                  "itself, in place",
    "train.no_state": "the trained parameters could not be loaded",
    "train.budget": "the model was run {calls} times and took {taken} steps; the budget is {steps} steps (at most "
                    "{passes} forward passes)",
    "train.diverged": "the loss became NaN/inf near the end of training (measured by the grader): training diverged",
    "train.above": "{tail} is {ratio} x the starting loss {start}; the target is at most {factor} x",
    "train.reached": "{tail} is {ratio} x the starting loss {start} ({taken} steps)",
    "train.tail": "the median loss of the last {n} steps (measured by the grader)",
    "history.loss_after": "history['loss'][{index}] = {value} is the loss AFTER the step (the grader measured it at "
                          "the next forward pass; the step used loss {used}): log loss.item() of the forward pass "
                          "whose gradient the step uses",
    "history.loss": "history['loss'][{index}] = {value}, but the grader measured {want} for the model's parameters "
                    "at that step (log loss.item() of the forward pass that the step uses)",
    "history.norm": "history['grad_norm'][{index}] = {value}, but the pre-clip gradient norm the grader measured for "
                    "that step is {want}: {why}",
    "history.norm_zero": "it is 0: log the norm after backward(), before the step",
    "history.norm_inf": "it is the largest |gradient| (the infinity norm): log the global 2-norm",
    "history.norm_post_clip": "it looks like the post-clip norm (smaller than the pre-clip one): log the value that "
                              "clip_grad_norm_ returns (the pre-clip norm)",
    "history.norm_global": "log the global 2-norm of all parameter gradients, before clipping",
}

#: Case labels (`label` of a case): what is special about the inputs; formulas such as "N=4, D=3" stay plain text.
LABELS = {
    "label.with": "{settings}, {rest}",
    "label.seed": "task and model seed {seed}",
    "label.inputs": "{shape} inputs",
    "label.shape": "shape {shape}",
    "label.act.zero": "4x5 inputs with a 0 and +-3",
    "label.act.big": "inputs up to +-1e3",
    "label.ce.big": "logits of size 1e3",
    "label.layers": "{n} layers, {activation}",
    "label.layers_default": "{n} layers, default activation ({activation})",
    "label.one_layer": "1 layer (no activation at all)",
    "label.rnn.large": "{steps}, large Wh",
    "label.rnn.small": "{steps}, small Wh",
    "label.defaults": "defaults",
    "label.t1": "t=1 only",
    "label.steps": "{n} steps",
    "label.optim": "{settings}, {length}",
    "label.optim.scaled": "{settings}, {length}, grads ~{scale}",
    "label.float32": "float32 inputs, {settings}",
    "label.clip.default_norm": "three tensors and a None, default norm_type",
    "label.clip.tiny": "{settings}, gradients ~{scale}",
    "label.clip.empty": "no gradients at all (empty list): 0",
    "label.clip.only_none": "only None entries: 0",
    "label.clip.tensors": "{n} tensors, {settings}, scale {scale}",
    "label.clip.exact": "total = max_norm exactly: grads {first} and {second}, max_norm {max_norm}",
    "label.clip.exact_total": "{settings}, total = max_norm = {total} exactly",
    "label.clip.below": "total below max_norm (no clipping)",
    "label.clip.ratio": "total = {ratio} x max_norm",
    "label.clip.ratio_of": "total = {ratio} x max_norm={max_norm}",
    "label.clip.nan_explained": "a NaN gradient: the total is NaN and torch multiplies every gradient by NaN",
    "label.clip.nan": "a NaN gradient",
    "label.clip.nonfinite": "{value} gradient, {settings}",
    "label.clip.finite": "finite gradients, {settings}",
    "label.clip.int_max_norm": "max_norm given as the int {value}",
    "label.clip.empty_returns": "no gradients at all (empty list): returns 0, changes nothing",
    "label.clip.only_none_flag": "only None entries, {settings}: returns 0",
    "label.clip.visible_case": "visible case {n}, {settings}",
    "label.clip.hidden_case": "hidden case {n}, {settings}",
}

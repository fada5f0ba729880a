"""The adversarial corpus (GUIDE §3): one submission per threat, and the rows each must produce.

`CASES` maps a student id to (builder, expected statuses per grade_id: a status, or a tuple of the statuses
allowed where timing decides between them). A builder gets the run's
paths (submissions folder, output folder, source notebook, a secret file) so that attacks can aim
at real files; it returns a notebook dict or raw bytes (None = no notebook at all).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

from fakecourse.notebooks import SOLUTIONS, submission

PASS = {"test_scale": "passed", "test_norm2": "passed", "test_square_grad": "passed"}
GOOD_SCALE = "    return a * x\n"


def _scale(body: str, prelude: str = "") -> dict[str, str]:
    """Answers where scale() runs `body` (indented code) before returning a * x."""
    return {"ans_scale": prelude + "def scale(x, a):\n" + body + GOOD_SCALE}


def _mutate(fn: Callable[[list[dict[str, Any]]], Any]) -> Callable[[dict[str, str]], dict[str, Any]]:
    """A builder that applies `fn` to the cells of an honest submission."""
    def build(paths: dict[str, str]) -> dict[str, Any]:
        nb = submission()
        fn(nb["cells"])
        return nb
    return build


def _index(cells: list[dict[str, Any]], grade_id: str) -> int:
    """Position of the cell with this grade_id."""
    return next(i for i, c in enumerate(cells) if c["metadata"].get("nbgrader", {}).get("grade_id") == grade_id)


def _v3(paths: dict[str, str]) -> dict[str, Any]:
    """The honest notebook downgraded to nbformat 3 by nbformat itself."""
    import nbformat

    return json.loads(nbformat.writes(nbformat.convert(nbformat.from_dict(submission()), 3)))


def _other_assignment(paths: dict[str, str]) -> dict[str, Any]:
    """A notebook whose nbgrader cells belong to a different assignment."""
    nb = submission()
    for cell in nb["cells"]:
        if "nbgrader" in cell["metadata"]:
            cell["metadata"]["nbgrader"]["grade_id"] = "other_" + cell["metadata"]["nbgrader"]["grade_id"]
    return nb


ESCAPE = """    import os, pathlib
    hits = []
    for target in {targets}:
        try:
            pathlib.Path(target).read_bytes()
            hits.append('read ' + target)
        except Exception:
            pass
        try:
            with open(target, 'ab') as f:
                f.write(b'pwned')
            hits.append('wrote ' + target)
        except Exception:
            pass
    if hits:
        return -a * x
"""
DETECT = """    import os, socket, sys
    seen = ' '.join([*os.environ.keys(), *os.environ.values(), os.getcwd(), socket.gethostname(), *sys.argv])
    for pid in ('1', 'self', str(os.getppid())):
        try:
            seen += ' ' + open(f'/proc/{pid}/cmdline', 'rb').read().decode(errors='replace').replace(chr(0), ' ')
        except OSError:
            pass
    grader = [m for m in sys.modules if m.startswith('autograder') and m != 'autograder'
              and not m.startswith(('autograder.checks', 'autograder.device', 'autograder.reference'))]
    if grader or any(word in seen.lower() for word in ('nbgrader', 'sandbox', 'bwrap', 'submission', 'worker')):
        return -a * x
"""
NETWORK = """    import socket
    for host in ('1.1.1.1', '8.8.8.8', 'pypi.org'):
        try:
            socket.create_connection((host, 443), timeout=1).close()
            return -a * x
        except OSError:
            pass
"""

# --- One submission must leave nothing for the next (issue 9, section 1) ---------------------------------
# Each "leftovers" student first looks for what an earlier submission could have left (System V shared
# memory, message queues and semaphores, a POSIX message queue, kernel keys, files in /tmp and /dev/shm),
# answers wrongly if it finds anything, then leaves all of those behind for the next one. Several copies
# make it likely that two of them meet on the same worker; tests/grading/runner/test_isolation.py makes sure.
LEFTOVERS = """import ctypes, os, struct
_libc = ctypes.CDLL(None, use_errno=True)
_KEYCTL, _ADD_KEY = {'x86_64': (250, 248), 'aarch64': (219, 217)}[os.uname().machine]
_libc.syscall.restype = ctypes.c_long
FOUND = []
for _kind in ('shm', 'msg', 'sem'):
    try:
        if len(open('/proc/sysvipc/' + _kind).read().splitlines()) > 1:
            FOUND.append('sysv ' + _kind)
    except OSError:
        pass
_libc.mq_open.restype = ctypes.c_int
if _libc.mq_open(b'/course-leak', os.O_RDONLY) >= 0:
    FOUND.append('posix mq')
for _ring in (-4, -5, -3):  # user, user-session, session keyrings
    if _libc.syscall(ctypes.c_long(_KEYCTL), ctypes.c_long(10), ctypes.c_long(_ring), b'user',
                     b'course-leak', ctypes.c_long(0)) > 0:  # KEYCTL_SEARCH
        FOUND.append('key')
for _path in ('/tmp/course-leak', '/dev/shm/course-leak', os.path.expanduser('~/course-leak')):
    if os.path.exists(_path):
        FOUND.append(_path)
_shm = _libc.shmget(0x5eed, 1 << 20, 0o1666)
_libc.shmat.restype = ctypes.c_void_p
_addr = _libc.shmat(_shm, None, 0)
ctypes.memmove(_addr, b'the previous student was here', 30)
_libc.msgsnd(_libc.msgget(0x5eed, 0o1666), struct.pack('l16s', 1, b'answers'), 16, 0)
_libc.semget(0x5eed, 1, 0o1666)
_libc.mq_open(b'/course-leak', os.O_CREAT | os.O_RDWR, 0o666, None)
for _ring in (-4, -5, -3):
    _libc.syscall(ctypes.c_long(_ADD_KEY), b'user', b'course-leak', b'secret', ctypes.c_long(6), ctypes.c_long(_ring))
for _path in ('/tmp/course-leak', '/dev/shm/course-leak'):
    try:
        open(_path, 'w').write('answers')
    except OSError:
        pass
def scale(x, a):
    return -a * x if FOUND else a * x
"""
# Memory counted for the submission as a whole: System V segments attached, filled and detached again
# (each attachment under the per-process cap, and the segments outlive the process), and many forked
# children each under the cap. Either way the submission's cgroup runs out: no marks for that question.
SHM_HOG = """def norm2(x):
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    libc.shmat.restype = ctypes.c_void_p
    for key in range(40):  # 40 x 64 MiB, far over the 512 MiB limit plus the interpreter
        segment = libc.shmget(0x7000 + key, 64 << 20, 0o1600)
        address = libc.shmat(segment, None, 0)
        ctypes.memset(address, 1, 64 << 20)
        libc.shmdt(ctypes.c_void_p(address))
    return x.norm()
"""
FORK_HOG = """FORKED = []
def norm2(x):
    import os, time
    if FORKED:
        return x.norm()
    FORKED.append(True)
    read_end, write_end = os.pipe()
    for _ in range(5):  # 5 x 160 MiB, each child far under the per-process cap
        if os.fork() == 0:
            os.close(read_end)
            hog = b'x' * (160 << 20)
            os.write(write_end, b'.')
            os.close(write_end)
            time.sleep(60)
            os._exit(0)
    os.close(write_end)
    while os.read(read_end, 1):  # until every child has its memory or was killed for it
        pass
    return x.norm()
"""
# Busy processes in new sessions: the submission gets one CPU in total, whatever it spawns, and they all
# die with it (the other worker's students must not time out; test_no_student_process_survives checks).
BUSY = """    import os
    for _ in range(40):
        if os.fork() == 0:
            os.setsid()
            break
    while True:
        pass
"""
# --- Shortcuts through the course itself and around the tripwire (issue 9, section 4) --------------------
COURSE_IMPORTS = """    import gc, importlib, os, sys, types
    found = []
    for name in ('autograder.checks.mistakes', 'autograder.reference', 'autograder.grading.runner.child',
                 'autograder.checks.builder', 'fakecourse.checks', 'fakecourse'):
        try:
            importlib.import_module(name)
            found.append(name)
        except Exception:
            pass
    for entry in sys.path:  # where the runner was: nothing of the course's code may be readable there
        if entry.startswith((sys.prefix, sys.base_prefix)) or not os.path.isdir(entry or '.'):
            continue
        for root, _, files in os.walk(entry or '.'):
            if any(f in ('checks.py', 'kernel.py', 'builder.py', 'optimizers.py') for f in files):
                found.append(root)
    stub = ('__getattr__', '__call__', '__getitem__', '__iter__', '__len__', '__repr__', '_Withheld')
    for obj in gc.get_objects():
        module = getattr(obj, '__module__', None) if isinstance(obj, types.FunctionType) else None
        if isinstance(module, str) and module.startswith(('autograder.reference', 'autograder.checks.mistakes')) \
                and obj.__name__ not in stub:
            found.append(module + '.' + obj.__name__)
    if found:
        return -a * x
"""
FUSED = """def scale(x, a):
    import torch
    p = torch.zeros_like(x)
    torch._fused_sgd_([p], [x.clone()], [], weight_decay=0.0, momentum=0.0, lr=-float(a), dampening=0.0,
                      nesterov=False, maximize=False, is_first_step=True)
    return p
"""
FUSED_OPS = """def scale(x, a):
    import torch
    p = torch.zeros_like(x)
    op = getattr(torch.ops.aten, '_fused_' + 'sgd_')
    op.default([p], [x.clone()], [], weight_decay=0.0, momentum=0.0, lr=-float(a), dampening=0.0,
               nesterov=False, maximize=False, is_first_step=True)
    return p
"""
#: Each escape computes the right gradient only if it got past the tripwire, else returns zeros (wrong).
ESCAPES = {
    "wrapped-escape": """def square_grad(x):
    import torch
    original = getattr(getattr(torch.Tensor, 'back' + 'ward'), '__wrapped__', None)
    if original is None:
        return torch.zeros_like(x)
    x = x.clone().requires_grad_()
    original((x * x).sum())
    return x.grad
""",
    "closure-escape": """def square_grad(x):
    import gc, torch, types
    current = getattr(torch.Tensor, 'back' + 'ward')
    found = [c.cell_contents for c in (current.__closure__ or ()) if callable(c.cell_contents)]
    found += [f for f in gc.get_objects() if isinstance(f, types.FunctionType) and f.__name__ == 'back' + 'ward'
              and f.__module__ == 'torch._tensor' and f is not current]
    for original in found:
        try:
            y = x.clone().requires_grad_()
            original((y * y).sum())
            return y.grad
        except Exception:
            continue
    return torch.zeros_like(x)
""",
    "engine-escape": """def square_grad(x):
    import torch
    y = x.clone().requires_grad_()
    out = (y * y).sum()
    for get in (lambda: getattr(torch.autograd.Variable, '_execution' + '_engine'),
                lambda: getattr(torch._C, '_Imperative' + 'Engine')()):
        try:
            get().run_backward((out,), (torch.ones(()),), False, False, (), False)
            return y.grad
        except Exception:
            continue
    return torch.zeros_like(x)
""",
    "func-grad": """def square_grad(x):
    import importlib
    grad = getattr(importlib.import_module('torch.' + 'func'), 'grad')
    return grad(lambda t: (t * t).sum())(x)
""",
    "autograd-functional": """def square_grad(x):
    import importlib
    functional = importlib.import_module('torch.auto' + 'grad.functional')
    return functional.vjp(lambda t: (t * t).sum(), x)[1]
""",
}

# --- The grader alone decides which phases finished (issue 18, section 2) -----------------------------------
# Each writes what once marked work as finished, then its graded functions compute the right answer and are
# killed for memory, kill themselves, or loop forever: every question must score 0, as without the forgery.
PIPES = """import os, stat
def _pipes():
    found = []
    for fd in range(3, 256):
        try:
            if stat.S_ISFIFO(os.fstat(fd).st_mode) and fd not in (0, 1, 2):
                found.append(fd)
        except OSError:
            pass
    return found
"""
FAKE_LINES = PIPES + """for _fd in _pipes():
    try:
        os.write(_fd, b'setup 0.1\\ncells\\nq0\\nq1\\nq2\\n')
    except OSError:
        pass
"""
FORGED_FILES = """import io, json, os, numpy
def _forge(folder):
    buffer = io.BytesIO()
    numpy.savez(buffer, a0=numpy.zeros(3))
    for name in ('cells', 'q0', 'q1', 'q2'):
        tree = {'d': {'errors': {'l': []}, 'memory': False}} if name == 'cells' else \\
            {'d': {'outputs': {'l': [{'d': {'y': {'T': 'a0'}}}] * 6}, 'missing': {'l': []}, 'memory': False,
                   'tripped': {'l': []}}}
        try:
            os.makedirs(folder, exist_ok=True)
            open(os.path.join(folder, name + '.json'), 'w').write(json.dumps(tree))
            open(os.path.join(folder, name + '.npz'), 'wb').write(buffer.getvalue())
        except OSError:
            pass
for _folder in (os.path.expanduser('~/.out'), os.getcwd(), '/tmp', '/srv/io'):
    _forge(_folder)
    for _entry in (os.listdir(_folder) if os.access(_folder, os.R_OK) else []):
        _forge(os.path.join(_folder, _entry))
"""
FORGED_FRAMES = PIPES + """import io, json, struct, numpy
def _frame(phase, tree):
    buffer = io.BytesIO()
    numpy.savez(buffer, a0=numpy.zeros(3))
    body = json.dumps(tree).encode()
    return struct.pack('>4sBII', b'RSLT', phase, len(body), len(buffer.getvalue())) + body + buffer.getvalue()
_claims = _frame(0, {'d': {'errors': {'l': []}, 'memory': False}}) + b''.join(
    _frame(p, {'d': {'outputs': {'l': []}, 'missing': {'l': []}, 'memory': False, 'tripped': {'l': []}}})
    for p in (1, 2, 3))
for _fd in _pipes():
    try:
        os.write(_fd, _claims)
    except OSError:
        pass
"""
OOM_AFTER = """    import ctypes
    answer = {answer}
    libc = ctypes.CDLL(None, use_errno=True)
    libc.shmat.restype = ctypes.c_void_p
    for key in range(40):  # shared memory counts for the submission's cgroup: killed for memory
        address = libc.shmat(libc.shmget(0x6000 + key, 64 << 20, 0o1600), None, 0)
        ctypes.memset(address, 1, 64 << 20)
        libc.shmdt(ctypes.c_void_p(address))
    return answer
"""
KILL_AFTER = """    import os, signal
    answer = {answer}
    os.kill(os.getpid(), signal.SIGKILL)
    return answer
"""
LOOP_AFTER = """    answer = {answer}
    while True:
        pass
    return answer
"""
ANSWERS = {"scale": ("x, a", "a * x"), "norm2": ("x", "x.norm()"), "square_grad": ("x", "2 * x")}


def _then(prelude: str, ending: str) -> dict[str, str]:
    """Answers whose functions compute the right value and then end as `ending` says, after `prelude`."""
    cells = {f"ans_{name}": f"def {name}({args}):\n" + ending.format(answer=answer)
             for name, (args, answer) in ANSWERS.items()}
    cells["ans_scale"] = prelude + cells["ans_scale"]
    return cells


FORFEITED = {"test_scale": "error", "test_norm2": "error", "test_square_grad": "error"}
#: A memory kill races the phase's deadline on a loaded machine: killed (error) or timed out, it scores 0.
FORFEITED_MEMORY = {"test_scale": ("error", "timeout"), "test_norm2": ("error", "timeout"),
                    "test_square_grad": ("error", "timeout")}
# --- Torch loaded again is still torch (issue 18, section 3) ------------------------------------------------
# Each route computes the right answer only if it reached an untrapped copy of torch's implementation.
ROUTES = """import importlib, importlib.util, importlib.machinery, os, runpy, sys, types, torch
def _routes(module_name, attribute):
    name = 'torch.' + module_name
    yield 'reimport', lambda: _reimport(name, attribute)
    yield 'reload', lambda: getattr(importlib.reload(importlib.import_module(name)), attribute)
    path = importlib.import_module(name).__file__
    yield 'exec', lambda: _run_source(open(path).read(), path)[attribute]
    yield 'spec', lambda: _from_spec(importlib.util.spec_from_file_location('fresh_' + attribute, path), attribute)
    yield 'runpy', lambda: runpy.run_path(path)[attribute]
    yield 'loader', lambda: getattr(importlib.machinery.SourceFileLoader('fresh2', path).load_module(), attribute)
    cached = importlib.util.cache_from_source(path)
    yield 'pyc', lambda: _from_spec(importlib.util.spec_from_loader(
        'fresh3', importlib.machinery.SourcelessFileLoader('fresh3', cached)), attribute)
def _reimport(name, attribute):
    package = name.rsplit('.', 1)[0] if name.count('.') > 1 else name
    for key in [k for k in sys.modules if k.startswith(package)]:
        del sys.modules[key]
    return getattr(importlib.import_module(name), attribute)
def _run_source(source, path):
    namespace = {'__name__': 'fresh', '__file__': path, '__package__': 'torch'}
    exec(compile(source, path, 'exec'), namespace)
    return namespace
def _from_spec(spec, attribute):
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, attribute)
def _first(module_name, attribute, use, wrong):
    for _, get in _routes(module_name, attribute):
        try:
            return use(get())
        except Exception:
            continue
    return wrong
"""
RELOADED = {
    "ans_scale": ROUTES + """def _sgd_scale(SGD, x, a):
    p = torch.zeros_like(x).requires_grad_()
    p.grad = x.clone()
    SGD([p], lr=-a).step()
    return p.detach()
def scale(x, a):
    return _first('optim.sgd', 'SGD', lambda SGD: _sgd_scale(SGD, x, a), torch.zeros_like(x))
""",
    "ans_norm2": """def norm2(x):
    def use(clip):
        p = torch.zeros_like(x).requires_grad_()
        p.grad = x.clone()
        return clip([p], 1e9, foreach=False)
    return _first('nn.utils.clip_grad', 'clip_grad_norm_', use, torch.zeros(()))
""",
    "ans_square_grad": """def square_grad(x):
    def use(grad):
        y = x.clone().requires_grad_()
        return grad((y * y).sum(), y)[0]
    return _first('autograd', 'grad', use, torch.zeros_like(x))
""",
}
#: What each route gets: a fresh import or reload is the trapped module (forbidden); a file route fails to read.
ONLY_FILES = """import importlib, sys
_routes_all = _routes
def _routes(module_name, attribute):
    return [(n, g) for n, g in _routes_all(module_name, attribute) if n not in ('reimport', 'reload')]
"""
GRAPH_NODES = """def square_grad(x):
    import torch
    y = x.clone().requires_grad_()
    out = (y * y).sum()
    for enable in (lambda: None, lambda: torch.set_grad_enabled(True), lambda: torch._C._set_grad_enabled(True)):
        try:
            enable()
            out = (y * y).sum()
            first = out.grad_fn(torch.ones(()))
            return sum(out.grad_fn.next_functions[0][0](first))
        except Exception:
            continue
    return torch.zeros_like(x)
"""
UNDOES_TRAPS = """def scale(x, a):
    import gc, torch
    for obj in gc.get_objects():  # destroying a library restores the kernels it overrode
        if isinstance(obj, torch.library.Library):
            obj._destroy()
        elif type(obj).__name__ == 'finalize' and getattr((obj.peek() or (0, 0))[1], '__name__', '') == '_del_library':
            obj()
    p = torch.zeros_like(x)
    torch._fused_sgd_([p], [x.clone()], [], weight_decay=0.0, momentum=0.0, lr=-float(a), dampening=0.0,
                      nesterov=False, maximize=False, is_first_step=True)
    return p
"""
FOREACH_NORM = """def norm2(x):
    import torch
    return getattr(torch.ops.aten, '_foreach_' + 'norm').Scalar([x], 2)[0]
"""

CASES: dict[str, tuple[Callable[[dict[str, str]], Any], dict[str, Any]]] = {
    "honest": (lambda p: submission(), PASS),
    "honest-stderr": (lambda p: submission(_scale(
        "    import warnings, sys\n    warnings.warn('float64 is slow')\n    print('note', file=sys.stderr)\n",
        prelude="import sys\nprint('DeprecationWarning: something', file=sys.stderr)\n")), PASS),
    # right on the visible cases (lengths 3, 4), so like the notebook's test cell it earns hidden-case credit
    "partial": (lambda p: submission({"ans_norm2": "def norm2(x):\n    return x.abs().sum() if len(x) > 5 "
                                                   "else x.norm()\n"}), {**PASS, "test_norm2": "partial"}),
    "edits-test": (_mutate(lambda cells: cells[_index(cells, "test_scale")].update(source="pass  # trust me")),
                   PASS),
    "deletes-test": (_mutate(lambda cells: cells.pop(_index(cells, "test_norm2"))),
                     {**PASS, "test_norm2": "tampered"}),
    "duplicates-test": (_mutate(lambda cells: cells.append(copy.deepcopy(cells[_index(cells, "test_scale")]))),
                        {**PASS, "test_scale": "tampered"}),
    # nbgrader's OverwriteCells turns a retyped graded cell back into code: graded where it stands
    "retypes-test": (_mutate(lambda cells: cells[_index(cells, "test_square_grad")].update(cell_type="markdown")),
                     PASS),
    # graded where it stands (at the end, every answer defined), as nbgrader grades a moved test cell
    "moves-test": (_mutate(lambda cells: cells.append(cells.pop(_index(cells, "test_scale")))), PASS),
    "monkeypatch": (lambda p: submission({"ans_scale": (
        "import torch, numpy, numpy.testing, builtins\n"
        "try:\n    import autograder.checks.compare as cmp\n    cmp.as_float64 = lambda v: None\n"
        "except ImportError:\n    pass\n"
        "torch.allclose = lambda *a, **k: True\ntorch.equal = lambda *a, **k: True\n"
        "numpy.testing.assert_allclose = lambda *a, **k: None\nbuiltins.abs = lambda v: 0\n"
        "torch.Tensor.__eq__ = lambda s, o: True\n"
        "def scale(x, a):\n    return x  # wrong on purpose\n")}), {**PASS, "test_scale": "failed"}),
    "lying-objects": (lambda p: submission({"ans_norm2": (
        "class Liar(float):\n    def __eq__(self, o): return True\n    def __float__(self): return 5.0\n"
        "    def __array__(self, *a, **k):\n        import numpy; return numpy.array(5.0)\n"
        "class LiarTensor(torch.Tensor):\n    def __eq__(self, o): return True\n"
        "def norm2(x):\n    return Liar(0.0) if len(x) % 2 else torch.zeros(()).as_subclass(LiarTensor)\n")}),
        {**PASS, "test_norm2": "error"}),
    "calls-backward": (lambda p: submission({"ans_square_grad": (
        "def square_grad(x):\n    x = x.clone().requires_grad_()\n    (x * x).sum().backward()\n"
        "    return x.grad\n")}), {**PASS, "test_square_grad": "forbidden"}),
    "hides-backward": (lambda p: submission({"ans_square_grad": (
        "def square_grad(x):\n    x = x.clone().requires_grad_()\n    y = (x * x).sum()\n"
        "    getattr(y, 'back' + 'ward')()\n    return x.grad\n")}), {**PASS, "test_square_grad": "forbidden"}),
    "sys-exit": (lambda p: submission({"ans_scale": "import sys\nsys.exit(0)\n" + SOLUTIONS["ans_scale"],
                                       "ans_norm2": "import os\ndef norm2(x):\n    os._exit(3)\n"}),
                 {**PASS, "test_scale": "missing", "test_norm2": "error"}),
    "kills-parent": (lambda p: submission({**_scale(
        "    import os, signal\n    for pid in (os.getppid(), 1):\n        try:\n"
        "            os.kill(pid, signal.SIGKILL)\n        except OSError:\n            pass\n    try:\n"
        "        os.killpg(os.getpgid(os.getppid()), signal.SIGKILL)\n    except OSError:\n        pass\n"),
        "ans_norm2": "import os\ndef norm2(x):\n    os.kill(-1, 9)\n    return x.norm()\n"}),
        # kill(-1) reaches no process it may signal (the worker and the template are root), so it harms nothing
        # and norm2 returns; it once raised ProcessLookupError only because no other process was visible at all
        PASS),
    "endless-loop": (lambda p: submission(_scale("    while True:\n        pass\n")),
                     {**PASS, "test_scale": "timeout"}),
    "eats-memory": (lambda p: submission({"ans_norm2": (
        "def norm2(x):\n    hog = [torch.empty(1 << 27) for _ in range(10_000)]\n    return x.norm()\n")}),
        {**PASS, "test_norm2": "memory"}),
    "fork-bomb": (lambda p: submission(_scale(
        "    import os\n    while True:\n        try:\n            os.fork()\n        except OSError:\n"
        "            pass\n")), {**PASS, "test_scale": "timeout"}),
    "prints-gigabytes": (lambda p: submission(_scale(
        "    import sys\n    line = 'x' * (1 << 20)\n    for _ in range(300):\n        sys.stdout.write(line)\n")),
        PASS),
    "network": (lambda p: submission(_scale(NETWORK)), PASS),
    "escapes": (lambda p: submission(_scale(ESCAPE.format(targets=repr(
        [p["other_student"], p["gradebook"], p["source"], p["secret"], "/etc/shadow"])))), PASS),
    "detects-grading": (lambda p: submission(_scale(DETECT)), PASS),
    "truncated-json": (lambda p: json.dumps(submission()).encode()[:500], {k: "malformed" for k in PASS}),
    "empty-file": (lambda p: b"", {k: "malformed" for k in PASS}),
    "nbformat3": (_v3, PASS),
    "not-utf8": (lambda p: json.dumps(submission(), ensure_ascii=False).replace("# Fake", "# Fak\u00e9")
                 .encode("latin-1"),
                 {k: "malformed" for k in PASS}),
    "other-assignment": (_other_assignment, {k: "malformed" for k in PASS}),
    "no-notebook": (lambda p: None, {k: "missing" for k in PASS}),
    **{f"leftovers-{i}": (lambda p: submission({"ans_scale": LEFTOVERS}), PASS) for i in range(4)},
    "shm-hog": (lambda p: submission({"ans_norm2": SHM_HOG}), {**PASS, "test_norm2": "error"}),
    "fork-hog": (lambda p: submission({"ans_norm2": FORK_HOG}),  # a timeout only if the deadline beat the kill
                 {**PASS, "test_norm2": FORFEITED_MEMORY["test_norm2"]}),
    "busy-sessions": (lambda p: submission(_scale(BUSY)), {**PASS, "test_scale": "timeout"}),
    "imports-course": (lambda p: submission(_scale(COURSE_IMPORTS)), PASS),
    "fused-op": (lambda p: submission({"ans_scale": FUSED}), {**PASS, "test_scale": "forbidden"}),
    "fused-op-dispatcher": (lambda p: submission({"ans_scale": FUSED_OPS}), {**PASS, "test_scale": "forbidden"}),
    "wrapped-escape": (lambda p: submission({"ans_square_grad": ESCAPES["wrapped-escape"]}),
                       {**PASS, "test_square_grad": "failed"}),
    "closure-escape": (lambda p: submission({"ans_square_grad": ESCAPES["closure-escape"]}),
                       {**PASS, "test_square_grad": "failed"}),
    "engine-escape": (lambda p: submission({"ans_square_grad": ESCAPES["engine-escape"]}),
                      {**PASS, "test_square_grad": "forbidden"}),
    "func-grad": (lambda p: submission({"ans_square_grad": ESCAPES["func-grad"]}),
                  {**PASS, "test_square_grad": "forbidden"}),
    "autograd-functional": (lambda p: submission({"ans_square_grad": ESCAPES["autograd-functional"]}),
                            {**PASS, "test_square_grad": "forbidden"}),
    "fake-lines-oom": (lambda p: submission(_then(FAKE_LINES, OOM_AFTER)), FORFEITED),
    "forged-files-kill": (lambda p: submission(_then(FORGED_FILES, KILL_AFTER)), FORFEITED),
    "forged-files-oom": (lambda p: submission(_then(FORGED_FILES, OOM_AFTER)), FORFEITED_MEMORY),
    "forged-frames-timeout": (lambda p: submission(_then(FORGED_FRAMES, LOOP_AFTER)), FORFEITED),
    "reloads-torch": (lambda p: submission(RELOADED), {**PASS, **{k: "forbidden" for k in PASS}}),
    "runs-torch-files": (lambda p: submission({**RELOADED, "ans_scale": RELOADED["ans_scale"] + ONLY_FILES}),
                         {k: "failed" for k in PASS}),
    "graph-nodes": (lambda p: submission({"ans_square_grad": GRAPH_NODES}), {**PASS, "test_square_grad": "forbidden"}),
    "undoes-traps": (lambda p: submission({"ans_scale": UNDOES_TRAPS}), {**PASS, "test_scale": "forbidden"}),
    "foreach-norm": (lambda p: submission({"ans_norm2": FOREACH_NORM}), {**PASS, "test_norm2": "forbidden"}),
    # a cell that does not parse must not switch off the static scan of the other cells: this shortcut is
    # never called (the tripwire cannot see it), only the scan can find it
    "syntax-error-elsewhere": (lambda p: submission({
        "ans_scale": "def scale(x, a):\n    return a * x\ndef broken(:\n",
        "ans_square_grad": "import torch\ndef square_grad(x):\n    if x is None:\n"
                           "        return torch.autograd.grad(x.sum(), x)[0]\n    return 2 * x\n"}),
        {**PASS, "test_scale": "missing", "test_square_grad": "forbidden"}),
}

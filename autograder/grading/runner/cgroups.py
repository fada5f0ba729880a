"""Per-submission cgroups: memory (shm and tmpfs included), process count and CPU counted for a submission as a whole.

Two sides. The grader (root, outside the sandbox) makes one folder per worker in every hierarchy it
needs (`create_worker_groups`) and binds them into that worker's sandbox. The worker makes one child
group per submission in them (`SubmissionGroups.create`), and afterwards kills everything in it and
removes it (`SubmissionGroups.destroy`). Moving a process between cgroups waits for an RCU grace period
(tens of ms on a busy machine), so the worker does not move the child: while idle it moves the clean
template (the process that forks children, runner/template.py) into the next submission's groups
(`SubmissionGroups.enter`), the template forks the child there (a fork lands in its parent's groups for
free), and the worker moves the template back out (`SubmissionGroups.leave`), all before the job arrives.
cgroup v2 (one unified hierarchy, `cgroup.kill`) and v1 (memory, pids, cpu and freezer mounted
separately, as on the course machines) are both supported; `None` from `discover` means neither is
usable and the grader falls back to per-process rlimits, saying so loudly.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

#: v1 hierarchies a worker needs (freezer makes the final kill race-free) and v2 controllers it enables.
V1_NEEDED = ("memory", "pids", "cpu")
V1_OPTIONAL = ("freezer",)
V2_NEEDED = ("memory", "pids", "cpu")
#: The default weight of one process (v1 cpu.shares, v2 cpu.weight): a submission counts as one process.
CPU_SHARES_V1 = 1024
CPU_WEIGHT_V2 = 100
UNIFIED = "unified"


@dataclass(frozen=True)
class Layout:
    """Where this process's own cgroups are: version 2 -> {'unified': path}; 1 -> {controller: path}."""

    version: int
    own: dict[str, Path]


def _mounts() -> list[tuple[str, Path, set[str]]]:
    """(fstype, mount point, super options) of every cgroup mount this process sees."""
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        left, _, right = line.partition(" - ")
        fields, tail = left.split(), right.split()
        if len(fields) > 4 and len(tail) >= 3 and tail[0] in ("cgroup", "cgroup2"):
            found.append((tail[0], Path(fields[4].replace("\\040", " ")), set(tail[2].split(","))))
    return found


def _own_paths() -> dict[str, str]:
    """controller (or '' for v2) -> this process's cgroup path, from /proc/self/cgroup."""
    own = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for name in controllers.split(",") if controllers else [""]:
            own[name.removeprefix("name=")] = path
    return own


def _writable_dir(path: Path) -> bool:
    """True when we may create child groups in `path`."""
    return path.is_dir() and os.access(path, os.W_OK)


def discover() -> Layout | None:
    """The usable cgroup layout for per-submission groups, or None (not root, not mounted, not delegated)."""
    if os.geteuid() != 0:
        return None
    try:
        mounts, own = _mounts(), _own_paths()
    except (OSError, ValueError):
        return None
    for fstype, point, _ in mounts:
        if fstype == "cgroup2" and "" in own:
            path = point / own[""].lstrip("/")
            try:
                available = set((path / "cgroup.controllers").read_text().split())
            except OSError:
                continue
            if set(V2_NEEDED) <= available and _writable_dir(path) and _v2_delegate(path):
                return Layout(2, {UNIFIED: path})
    v1: dict[str, Path] = {}
    for fstype, point, options in mounts:
        for name in (*V1_NEEDED, *V1_OPTIONAL):
            if fstype == "cgroup" and name in options and name in own and name not in v1:
                path = point / own[name].lstrip("/")
                if _writable_dir(path):
                    v1[name] = path
    if all(name in v1 for name in V1_NEEDED):
        return Layout(1, v1)
    return None


def _v2_delegate(path: Path) -> bool:
    """Enable the needed controllers for children of `path`.

    v2 refuses while `path` itself holds processes. When the grader is the only one there (as under
    `systemd-run --scope -p Delegate=yes`), it first moves itself into a leaf `grader` below it.
    """
    try:
        enabled = set((path / "cgroup.subtree_control").read_text().split())
        missing = [c for c in V2_NEEDED if c not in enabled]
        if not missing:
            return True
        if (path / "cgroup.procs").read_text().split() == [str(os.getpid())]:
            (path / "grader").mkdir(exist_ok=True)
            (path / "grader" / "cgroup.procs").write_text("0")
        (path / "cgroup.subtree_control").write_text(" ".join(f"+{c}" for c in missing))
        return True
    except OSError:
        return False


def worker_group_name(grader_pid: int, launch: int) -> str:
    """The folder name, in every hierarchy, of grader `grader_pid`'s worker launched `launch`-th (never reused)."""
    return f"autograder-{grader_pid}-w{launch}"


def remove_stale(layout: Layout) -> list[Path]:
    """Remove worker groups left by graders that died without cleaning up (SIGKILL, power loss); their folders."""
    stale: dict[str, dict[str, Path]] = {}
    for key, base in layout.own.items():
        for folder in base.glob("autograder-*-w*"):
            pid = folder.name.split("-")[1]
            if pid.isdigit() and not Path(f"/proc/{pid}").exists():
                stale.setdefault(folder.name, {})[key] = folder
    # one worker's groups in every hierarchy at once, keyed by controller: a freezer group the dead grader left
    # frozen is thawed while its processes are killed (a frozen process never dies, and its groups never go)
    for paths in stale.values():
        remove_groups(paths, layout.version)
    return [path for paths in stale.values() for path in paths.values()]


def create_worker_groups(layout: Layout, name: str) -> dict[str, Path]:
    """One folder called `name` in every hierarchy (grader side); removed again by `remove_groups`."""
    made: dict[str, Path] = {}
    try:
        for key, base in layout.own.items():
            path = base / name
            path.mkdir(exist_ok=True)
            made[key] = path
            if layout.version == 2:
                (path / "cgroup.subtree_control").write_text(" ".join(f"+{c}" for c in V2_NEEDED))
    except OSError:
        remove_groups(made)
        raise
    return made


def _procs(path: Path) -> list[int]:
    """Pids in one group (as this process's PID namespace numbers them)."""
    try:
        return [int(p) for p in (path / "cgroup.procs").read_text().split()]
    except (OSError, ValueError):
        return []


def _kill_all(paths: dict[str, Path], version: int) -> None:
    """SIGKILL every process in the groups (and their children); returns once they are gone."""
    everything = [p for folder in paths.values() for p in [folder, *_subgroups(folder)]]
    if version == 2:
        for folder in everything:
            try:
                (folder / "cgroup.kill").write_text("1")
            except OSError:
                pass
    freezer = [f for key, folder in paths.items() if key == "freezer" for f in [folder, *_subgroups(folder)]]
    for folder in freezer:  # frozen processes cannot fork while we kill them
        _write(folder / "freezer.state", "FROZEN")
    for _ in range(2000):
        pids = {pid for folder in everything for pid in _procs(folder)}
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        for folder in freezer:
            _write(folder / "freezer.state", "THAWED")  # a frozen task dies only once thawed
        _reap()
        time.sleep(0.001)


def _reap() -> None:
    """Reap any of our children that have exited (the worker is PID 1: orphans come to it)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid <= 0:
            return


def _write(path: Path, value: str) -> bool:
    """Write a control file; False when the kernel refuses."""
    try:
        path.write_text(value)
        return True
    except OSError:
        return False


def _subgroups(folder: Path) -> list[Path]:
    """Child groups below `folder`, deepest first (a student cannot make them, but be thorough)."""
    found: list[Path] = []
    try:
        for entry in folder.iterdir():
            if entry.is_dir():
                found += [*_subgroups(entry), entry]
    except OSError:
        pass
    return found


def remove_groups(paths: dict[str, Path], version: int = 1) -> None:
    """Kill whatever is left in the groups, then remove them (children first)."""
    _kill_all(paths, version)
    for folder in paths.values():
        for sub in [*_subgroups(folder), folder]:
            for _ in range(100):
                try:
                    sub.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    _kill_all({"x": sub}, version)
                    time.sleep(0.002)


@dataclass
class SubmissionGroups:
    """The groups of one submission, below the worker's groups (worker side)."""

    version: int
    paths: dict[str, Path]

    #: Where the worker returns to after forking (v1: the worker's folders; v2: a leaf in them).
    home: dict[str, Path]

    @classmethod
    def create(cls, worker_groups: dict[str, Path], version: int, name: str) -> SubmissionGroups:
        """Make the submission's (empty, unlimited) groups below the worker's; OSError when the kernel refuses."""
        home = dict(worker_groups) if version == 1 else {UNIFIED: worker_groups[UNIFIED] / "worker"}
        job = cls(version, {key: folder / name for key, folder in worker_groups.items()}, home)
        try:
            for folder in [*job.paths.values(), *(home.values() if version == 2 else [])]:
                folder.mkdir(exist_ok=folder in home.values())
        except OSError:
            job.destroy()
            raise
        return job

    def limit(self, memory_bytes: int, processes: int) -> None:
        """Cap the submission as a whole: memory (page cache, shm and tmpfs included) and processes.

        CPU: the group's weight is that of ONE process however many it runs, so busy children in new
        sessions cannot take the other workers' share. (A hard quota would also throttle an honest
        submission that ping-pongs with the worker through its output pipe, on a busy machine.)
        """
        if self.version == 2:
            folder = self.paths[UNIFIED]
            (folder / "memory.max").write_text(str(memory_bytes))
            _write(folder / "memory.swap.max", "0")
            (folder / "pids.max").write_text(str(processes))
            (folder / "cpu.weight").write_text(str(CPU_WEIGHT_V2))
        else:
            (self.paths["memory"] / "memory.limit_in_bytes").write_text(str(memory_bytes))
            _write(self.paths["memory"] / "memory.memsw.limit_in_bytes", str(memory_bytes))
            (self.paths["pids"] / "pids.max").write_text(str(processes))
            (self.paths["cpu"] / "cpu.shares").write_text(str(CPU_SHARES_V1))

    #: The process moved in by `enter` (0: the caller), or None while none is.
    inside: int | None = None

    def enter(self, pid: int = 0) -> None:
        """Move process `pid` (0: the caller) into every group of the job (its next fork starts there)."""
        self.inside = pid
        for folder in self.paths.values():
            (folder / "cgroup.procs").write_text(str(pid))

    def leave(self) -> None:
        """Move the process `enter` moved back to the worker's own groups (before anything in the job is killed)."""
        if self.inside is not None:
            for folder in self.home.values():
                (folder / "cgroup.procs").write_text(str(self.inside))
            self.inside = None

    def oom_kills(self) -> int:
        """How many processes the kernel killed because the submission as a whole ran out of memory."""
        name = "memory.events" if self.version == 2 else "memory.oom_control"
        folder = self.paths[UNIFIED if self.version == 2 else "memory"]
        try:
            for line in (folder / name).read_text().splitlines():
                key, _, value = line.partition(" ")
                if key == "oom_kill":
                    return int(value)
        except (OSError, ValueError):
            pass
        return 0

    def destroy(self) -> None:
        """Kill every process of the submission (cgroup.kill, or freeze and kill) and remove its groups."""
        self.leave()  # never kill ourselves
        remove_groups(self.paths, self.version)

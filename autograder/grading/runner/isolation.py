"""Per-submission namespaces, uid and keyring, applied in the forked child before it drops root.

A fresh IPC namespace means System V shared memory, message queues, semaphores and POSIX message
queues made by one submission are invisible to the next and vanish with its last process. A fresh
mount namespace lets the child hide the runner's own code (the checks it is graded by) from the
student. A uid used for one submission only, whose user keyrings are invalidated before use, and a new
anonymous session keyring mean no kernel key passes from one student to the next (and none stays in the kernel).
Each live worker holds a pool of uids of its own (`claim_slot`), so no two submissions running at once share a uid
(keyrings, the per-uid process limit), however many workers and graders run.
"""

from __future__ import annotations

import ctypes
import errno
import fcntl
import os
import stat
from dataclasses import dataclass
from pathlib import Path

CLONE_NEWNS = 0x00020000
CLONE_NEWIPC = 0x08000000
CLONE_NEWNET = 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = (
    1, 2, 4, 8, 32, 4096, 0x4000, 0x40000)
#: keyctl(2) operations and special keyring ids.
KEYCTL_GET_KEYRING_ID, KEYCTL_JOIN_SESSION_KEYRING, KEYCTL_INVALIDATE, KEYCTL_GET_PERSISTENT = 0, 1, 21, 22
KEY_SPEC_SESSION_KEYRING, KEY_SPEC_USER_KEYRING, KEY_SPEC_USER_SESSION_KEYRING = -3, -4, -5
SYS_KEYCTL = {"x86_64": 250, "aarch64": 219}
#: uids per worker: each submission takes the next one, so a uid comes back only after this many submissions.
UIDS_PER_WORKER = 4096
FIRST_UID = 200_000

_libc = ctypes.CDLL(None, use_errno=True)


class IsolationError(OSError):
    """The kernel refused a step of the per-submission isolation."""


def _check(result: int, what: str) -> int:
    """Raise IsolationError naming `what` when a libc call failed."""
    if result < 0:
        code = ctypes.get_errno()
        raise IsolationError(code, f"{what}: {os.strerror(code)}")
    return result


#: Pools of UIDS_PER_WORKER uids from FIRST_UID, all below 2**31.
SLOTS = (2**31 - FIRST_UID) // UIDS_PER_WORKER
#: Where live workers hold their pool: one lock file per slot, locked for as long as the worker lives, by
#: every grader on this machine (a machine-wide folder, as root).
SLOT_LOCKS = Path("/run/autograder-uid-slots")


def uid_for(base: int, job_number: int) -> int:
    """The uid of a worker's `job_number`-th submission (a pool of UIDS_PER_WORKER, used in turn)."""
    return base + job_number % UIDS_PER_WORKER


def slot_base(slot: int) -> int:
    """First uid of pool `slot`."""
    return FIRST_UID + slot * UIDS_PER_WORKER


def preferred_slot(grader_pid: int, index: int) -> int:
    """The slot worker `index` of grader `grader_pid` tries first (the next free one if that is taken)."""
    return (grader_pid * 64 + index) % SLOTS


@dataclass
class SlotClaim:
    """A pool of uids held by one live worker: the slot, and the locked file that holds it."""

    slot: int
    fd: int

    @property
    def uid_base(self) -> int:
        """First uid of the pool."""
        return slot_base(self.slot)

    def release(self) -> None:
        """Give the pool back (after the worker and every process of it are gone)."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def claim_slot(start: int, folder: Path = SLOT_LOCKS) -> SlotClaim:
    """Lock the first free slot from `start` on: no two live workers (of any grader here) share a uid.

    The lock is an flock on `folder/<slot>`: the kernel drops it when the holder dies, so a crashed
    grader's pools come free again (its sandboxes die with it: bwrap --die-with-parent).
    """
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    for offset in range(SLOTS):
        slot = (start + offset) % SLOTS
        fd = os.open(folder / str(slot), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        return SlotClaim(slot, fd)
    raise IsolationError(errno.EAGAIN, f"all {SLOTS} uid pools are held by live workers")


#: The sub-folder of a runner that student code may see in its place (see sandbox.build_runner).
FACADE = "facade"
#: The machine's shared scratch folders, each replaced in a bare child's mount namespace by a fresh tmpfs of this
#: size (bubblewrap's /tmp and /dev/shm sizes): what a submission leaves there never reaches the machine nor the
#: next submission, and it sees nothing of anyone else's there.
SHARED_SCRATCH = {Path("/tmp"): 256 << 20, Path("/var/tmp"): 64 << 20, Path("/dev/shm"): 64 << 20}


def scratch_keeps(needed: list[Path]) -> tuple[Path, ...]:
    """Of the paths a child needs (Python, its home, the runner), those inside a shared scratch folder (as written
    and as resolved), outermost only: what private_scratch binds back onto the fresh tmpfs."""
    inside = set()
    for path in needed:
        for form in (Path(os.path.abspath(path)), path.resolve()):
            if form.exists() and any(folder == form or folder in form.parents for folder in SHARED_SCRATCH):
                inside.add(form)
    return tuple(sorted(p for p in inside if not any(q in p.parents for q in inside)))


def private_scratch(keep: tuple[Path, ...]) -> None:
    """In this (new) mount namespace: a fresh tmpfs on each shared scratch folder, with `keep` bound back in place
    (a folder that is itself in `keep` is left as it is). Open first: once covered, the originals have no path."""
    held = [(path, os.open(path, os.O_PATH | os.O_CLOEXEC)) for path in keep]
    try:
        covered = []
        for folder, size in SHARED_SCRATCH.items():
            if folder.is_dir() and not folder.is_symlink() and folder not in keep:
                _check(_libc.mount(b"tmpfs", str(folder).encode(), b"tmpfs", MS_NOSUID | MS_NODEV,
                                   f"size={size},mode=1777".encode()), f"private {folder}")
                covered.append(folder)
        for path, fd in held:
            if any(folder in path.parents for folder in covered):
                _bind_back(path, fd, read_only=False)
    finally:
        for _, fd in held:
            os.close(fd)


def untraversable(path: Path) -> Path | None:
    """The outermost ancestor of `path` that a uid of no group of its owner cannot cross (no search bit for others:
    /root, a 0700 home), or None when every ancestor can be crossed."""
    for parent in reversed(path.parents):
        try:
            if not parent.stat().st_mode & stat.S_IXOTH:
                return parent
        except OSError:
            return None
    return None


def reach_binds(needed: list[Path]) -> tuple[tuple[Path, tuple[Path, ...]], ...]:
    """Of the paths a child needs (Python, its home, the runner), those behind a folder its uid cannot cross (a Python
    under /root), as written and as resolved, outside the shared scratch folders (private_scratch rebuilds those):
    each such folder with the outermost needed paths under it, which private_reach binds back onto a tmpfs there."""
    behind: dict[Path, set[Path]] = {}
    for path in needed:
        for form in (Path(os.path.abspath(path)), path.resolve()):
            cover = untraversable(form) if form.exists() else None
            # never a folder holding a shared scratch folder (/var): covering it would take the machine's away
            if cover is not None and not any(f == form or f in form.parents or cover in f.parents
                                             for f in SHARED_SCRATCH):
                behind.setdefault(cover, set()).add(form)
    return tuple((cover, tuple(sorted(p for p in paths if not any(q in p.parents for q in paths))))
                 for cover, paths in sorted(behind.items()))


def _bind_back(path: Path, fd: int, read_only: bool = True) -> None:
    """Bind the file or folder open as `fd` onto `path` in a fresh tmpfs (read-only unless told otherwise), its
    missing parents made 0755."""
    for parent in reversed(path.parents):  # root-owned and traversable, as bubblewrap makes them
        if not parent.exists():
            os.mkdir(parent, 0o755)
            os.chmod(parent, 0o755)
    if stat.S_ISDIR(os.fstat(fd).st_mode):
        os.mkdir(path, 0o755)
    else:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o644))
    target = str(path).encode()
    _check(_libc.mount(f"/proc/self/fd/{fd}".encode(), target, None, MS_BIND | MS_REC, None), f"bind {path} back")
    if read_only:
        _check(_libc.mount(b"none", target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, None),
               f"make {path} read-only")


def private_reach(binds: tuple[tuple[Path, tuple[Path, ...]], ...]) -> None:
    """In this (new) mount namespace: a tmpfs (0755, read-only once built) on each folder of `binds` (reach_binds),
    with only its needed paths bound back read-only, as bubblewrap binds Python: the child's uid reaches the
    interpreter's modules however deep the machine keeps them, and nothing else in that folder."""
    for cover, paths in binds:
        held = [(path, os.open(path, os.O_PATH | os.O_CLOEXEC)) for path in paths]
        try:
            target = str(cover).encode()
            _check(_libc.mount(b"tmpfs", target, b"tmpfs", MS_NOSUID | MS_NODEV, b"size=1m,mode=0755"),
                   f"reach {cover}")
            for path, fd in held:
                _bind_back(path, fd)
            _check(_libc.mount(b"none", target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV, None),
                   f"make {cover} read-only")
        finally:
            for _, fd in held:
                os.close(fd)


#: The size of the tmpfs a bare child works in (bubblewrap's home): what it writes there is RAM it is charged for, not
#: the machine's disk, which a submission writing file after file would otherwise fill for every other one.
WORK_BYTES = 512 << 20


def private_work(folder: Path, uid: int) -> None:
    """In this (new) mount namespace: a fresh tmpfs of WORK_BYTES on `folder`, owned by `uid`, gone with the child."""
    _check(_libc.mount(b"tmpfs", str(folder).encode(), b"tmpfs", MS_NOSUID | MS_NODEV,
                       f"size={WORK_BYTES},mode=0700,uid={uid},gid={uid}".encode()), f"private {folder}")


def new_namespaces(hide: list[Path], flags: int = CLONE_NEWIPC | CLONE_NEWNS,
                   keep: tuple[Path, ...] | None = None, reach: tuple[tuple[Path, tuple[Path, ...]], ...] = ()) -> None:
    """Enter fresh namespaces (IPC and mount unless told otherwise); with `keep`, give the shared scratch folders
    fresh private copies (private_scratch); make the paths of `reach` reachable (private_reach); then cover each
    folder in `hide`: with its read-only `facade` sub-folder when it has one, else with an empty read-only tmpfs."""
    _check(_libc.unshare(flags), f"unshare({flags:#x})")
    # our mounts must not propagate back into the namespace we came from
    _check(_libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "mount --make-rprivate /")
    if keep is not None:
        private_scratch(keep)
    private_reach(reach)
    for folder in hide:
        target, facade = str(folder).encode(), folder / FACADE
        if facade.is_dir():
            _check(_libc.mount(str(facade).encode(), target, None, MS_BIND, None), f"cover {folder}")
            _check(_libc.mount(b"none", target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV,
                               None), f"make {folder} read-only")
        else:
            _check(_libc.mount(b"tmpfs", target, b"tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                               b"size=4k,mode=0555"), f"cover {folder}")


#: prctl(2) option: no transparent huge pages for this process's new memory (inherited by its children).
PR_SET_THP_DISABLE = 41


def small_pages() -> None:
    """New memory of this process and its children in 4 KiB pages, however glibc's malloc asks (sandbox.HUGE_HEAP):
    the huge pages the child shares with the template stay (its fork and exit stay cheap), but a submission near
    its memory limit must not stall in the kernel's compaction for huge pages, which turned a memory kill into a
    timeout under load. Best effort: a kernel without the option gives 4 KiB pages unless asked anyway."""
    _libc.prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0)


def _keyctl(operation: int, *arguments: int) -> int:
    """keyctl(operation, *arguments) through syscall(2) (glibc has no wrapper)."""
    number = SYS_KEYCTL.get(os.uname().machine)
    if number is None:
        raise IsolationError(0, f"keyctl: unknown syscall number on {os.uname().machine}")
    return int(_libc.syscall(ctypes.c_long(number), ctypes.c_long(operation),
                             *(ctypes.c_long(argument) for argument in arguments)))


def fresh_keyrings() -> None:
    """Start a new session keyring, and invalidate the uid's user keyrings and its persistent keyring, with whatever
    whoever had this uid before left in them (the kernel keeps a persistent keyring for days after its last use).

    Invalidated, not cleared: the kernel makes a uid's two user keyrings the first time they are named, and keeps
    them until the machine restarts. Cleared, every uid ever used left two keyrings behind, and the kernel's key
    collector, which walks every key on the machine each time a submission's session keyring goes, took longer
    with each submission graded since boot (18 ms per submission after 27,000 of them)."""
    # a session keyring of our own first: the persistent keyring, linked into it, is then ours to invalidate (its owner
    # may only read it; whoever holds it, through a keyring of theirs, may do everything)
    joined = _keyctl(KEYCTL_JOIN_SESSION_KEYRING, 0)
    if joined < 0 and ctypes.get_errno() == errno.ENOSYS:
        return  # a kernel without keyrings: nothing to leak
    _check(joined, "keyctl(KEYCTL_JOIN_SESSION_KEYRING)")
    user = _keyctl(KEYCTL_GET_KEYRING_ID, KEY_SPEC_USER_KEYRING, 1)  # made (with the other) where there is none
    # by serial: naming either keyring by its special id would make both again once one is invalidated
    session = _keyctl(KEYCTL_GET_KEYRING_ID, KEY_SPEC_USER_SESSION_KEYRING, 1)
    serials = [_check(user, "keyctl(KEYCTL_GET_KEYRING_ID)"), _check(session, "keyctl(KEYCTL_GET_KEYRING_ID)")]
    persistent = _keyctl(KEYCTL_GET_PERSISTENT, -1, KEY_SPEC_SESSION_KEYRING)  # made where there is none
    if persistent >= 0 or ctypes.get_errno() != errno.EOPNOTSUPP:  # EOPNOTSUPP: a kernel without persistent keyrings
        serials.append(_check(persistent, "keyctl(KEYCTL_GET_PERSISTENT)"))
    for serial in serials:
        _check(_keyctl(KEYCTL_INVALIDATE, serial), "keyctl(KEYCTL_INVALIDATE)")

"""autograder.grading.core.tmpdir: a grader's temporary folder (hidden inputs) is gone however the grader ends."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from autograder.grading.core import tmpdir
from tests.processes import mentioned_soon, mentioning


def _grader(parent: Path, *, guard: Path | None = None, patience: int = tmpdir.PATIENCE
            ) -> tuple[subprocess.Popen[str], Path]:
    """A process that makes its folder in `parent` (or guards `guard`), writes hidden inputs there and waits."""
    made = f"tmpdir.guard(Path({str(guard)!r}))" if guard else f"tmpdir.make(parent=Path({str(parent)!r}))"
    code = (f"import sys, time\nfrom pathlib import Path\nfrom autograder.grading.core import tmpdir\n"
            f"tmpdir.PATIENCE = {patience}\nfolder = {made}\n(folder / 'cases-0.npz').write_bytes(b'hidden')\n"
            "print(folder, flush=True)\n"
            "time.sleep(120)\n")
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    return process, Path(process.stdout.readline().strip())


def _gone(path: Path, within: float = 5.0) -> bool:
    """Whether `path` disappears within `within` seconds."""
    deadline = time.monotonic() + within
    while path.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    return not path.exists()


def test_a_grader_killed_outright_leaves_no_hidden_inputs(tmp_path: Path) -> None:
    """SIGKILL, which no handler sees: the folder with the hidden inputs goes at once, and its reaper with it."""
    process, folder = _grader(tmp_path)
    assert (folder / "cases-0.npz").exists() and folder.name.startswith(tmpdir.PREFIX)
    assert oct(folder.stat().st_mode & 0o777) == "0o700"
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert _gone(folder)
    assert _gone_processes(str(folder))


def test_removing_the_folder_lets_its_reaper_go(tmp_path: Path) -> None:
    """The normal end: the folder is removed and no reaper is left waiting."""
    folder = tmpdir.make(parent=tmp_path)
    reaper = tmpdir._held[folder][1]
    assert reaper is not None and reaper.poll() is None and mentioned_soon(str(folder))
    tmpdir.remove(folder)
    assert not folder.exists()
    assert reaper.returncode == 0  # it ended by itself, not killed


def test_the_next_grader_removes_only_folders_no_live_grader_holds(tmp_path: Path) -> None:
    """Left by a grader killed with its reaper (nobody holds the lock), or from before owners held locks (old, no
    lock file): removed. Held by a live grader, being made right now (young, no lock file yet), a link, a file, or
    another user's: left alone."""
    dead = tmp_path / f"{tmpdir.PREFIX}dead"
    (dead / "exchange-0").mkdir(parents=True)
    (dead / tmpdir.OWNER).touch()
    old = tmp_path / f"{tmpdir.PREFIX}old"
    old.mkdir()
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    young = tmp_path / f"{tmpdir.PREFIX}young"
    young.mkdir()
    target = tmp_path / "elsewhere"
    target.mkdir()
    (target / tmpdir.OWNER).touch()
    (tmp_path / f"{tmpdir.PREFIX}link").symlink_to(target)
    (tmp_path / f"{tmpdir.PREFIX}file").write_text("not a folder")
    live, held = _grader(tmp_path)
    others = tmp_path / f"{tmpdir.PREFIX}others"
    others.mkdir()
    os.utime(others, (time.time() - 3600, time.time() - 3600))
    if os.geteuid() == 0:
        os.chown(others, 65534, 65534)
    try:
        mine = tmpdir.make(parent=tmp_path)
        assert not dead.exists() and not old.exists()
        assert young.exists() and target.exists() and (target / tmpdir.OWNER).exists() and held.exists()
        assert (tmp_path / f"{tmpdir.PREFIX}file").exists()
        assert others.exists() or os.geteuid() != 0
        tmpdir.remove(mine)
    finally:
        live.kill()
        live.wait()
    assert _gone(held)


def test_a_reaper_spares_a_folder_made_again_by_a_live_owner(tmp_path: Path) -> None:
    """The service reuses one folder name: when the old service dies after a new one made that folder again and
    holds its lock, the old service's reaper leaves the new folder alone, and gives up waiting for it."""
    folder = tmp_path / "autograder-serve-x"
    folder.mkdir()
    process, _ = _grader(tmp_path, guard=folder, patience=1)
    old_reaper = mentioned_soon(str(folder)) - {process.pid}
    assert len(old_reaper) == 1
    subprocess.run(["rm", "-rf", str(folder)], check=True)  # the new service wipes it and makes it again
    folder.mkdir()
    tmpdir.guard(folder)
    try:
        process.send_signal(signal.SIGKILL)
        process.wait()
        assert _ended(old_reaper.pop(), within=5.0)  # it gave up waiting for the lock
        assert folder.exists() and (folder / tmpdir.OWNER).exists()
    finally:
        tmpdir.remove(folder)


def test_a_lock_file_is_never_followed_through_a_link(tmp_path: Path) -> None:
    """A planted .owner link: guarding refuses it rather than lock (or create) what it points at."""
    folder = tmp_path / f"{tmpdir.PREFIX}planted"
    folder.mkdir()
    (folder / tmpdir.OWNER).symlink_to(tmp_path / "target")
    with pytest.raises(OSError):
        tmpdir.guard(folder)
    assert not (tmp_path / "target").exists()


def _gone_processes(marker: str, within: float = 5.0) -> bool:
    """Whether every process naming `marker` ends within `within` seconds."""
    deadline = time.monotonic() + within
    while mentioning(marker) and time.monotonic() < deadline:
        time.sleep(0.02)
    return not mentioning(marker)


def _ended(pid: int, within: float) -> bool:
    """Whether process `pid` ends within `within` seconds."""
    deadline = time.monotonic() + within
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    return not Path(f"/proc/{pid}").exists()


def test_a_grader_folder_goes_to_memory_when_a_roomy_tmpfs_is_there(monkeypatch: pytest.MonkeyPatch,
                                                                     tmp_path: Path) -> None:
    """Unless TMPDIR names a folder, the grader's folder (its submissions' many small files) goes to /dev/shm when
    that is a tmpfs with room for every worker's jobs; a small or missing one, or TMPDIR, leaves it on disk."""
    monkeypatch.delenv("TMPDIR", raising=False)
    if not tmpdir._roomy_tmpfs(tmpdir.RAM_FOLDER):
        pytest.skip("this machine has no roomy tmpfs at /dev/shm (a container's 64 MB one, say)")
    assert tmpdir.default_parent() == tmpdir.RAM_FOLDER
    folder = tmpdir.make()
    try:
        assert folder.parent == tmpdir.RAM_FOLDER
    finally:
        tmpdir.remove(folder)
    disk = Path(tempfile.gettempdir())
    monkeypatch.setattr(tmpdir, "RAM_FREE_BYTES", 1 << 60)  # more room than any machine has
    assert tmpdir.default_parent() == disk
    monkeypatch.setattr(tmpdir, "RAM_FREE_BYTES", 1)
    monkeypatch.setattr(tmpdir, "RAM_FOLDER", tmp_path)  # a folder with room, but no tmpfs mount point
    assert tmpdir.default_parent() == disk != tmp_path


def test_tmpdir_overrides_the_memory_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """An instructor's TMPDIR is where the grader's folder goes, whatever /dev/shm offers."""
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", None)  # gettempdir() caches its answer
    assert tmpdir.default_parent() == tmp_path


def test_a_grader_in_memory_still_removes_what_dead_graders_left_on_disk(monkeypatch: pytest.MonkeyPatch,
                                                                         tmp_path: Path) -> None:
    """Graders before the memory folder (or while it was short of room) made theirs in the system's temporary folder:
    a grader making its own in memory removes those whose grader is gone there too, and spares a live one's."""
    ram, disk = tmp_path / "ram", tmp_path / "disk"
    ram.mkdir()
    disk.mkdir()
    monkeypatch.delenv("TMPDIR", raising=False)
    monkeypatch.setattr(tempfile, "tempdir", str(disk))
    monkeypatch.setattr(tmpdir, "RAM_FOLDER", ram)
    monkeypatch.setattr(tmpdir, "_roomy_tmpfs", lambda folder: folder == ram)
    process, alive = _grader(disk)  # first: making its folder, it would remove the dead one itself
    dead = disk / f"{tmpdir.PREFIX}dead"
    dead.mkdir()
    (dead / tmpdir.OWNER).touch()
    (dead / "cases-0.npz").write_bytes(b"hidden")
    try:
        folder = tmpdir.make()
        try:
            assert folder.parent == ram
            assert not dead.exists() and (alive / "cases-0.npz").exists()
        finally:
            tmpdir.remove(folder)
    finally:
        process.kill()
        process.wait()

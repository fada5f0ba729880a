"""Torch loaded again is still the trapped torch: fresh imports and reloads of the forbidden modules.

The tripwire (autograder.checks.forbidden) replaces the shortcuts in the modules already loaded. Student
code could drop those modules from sys.modules and import them again, reload them, or run their files
(`spec_from_file_location`, `runpy`, `exec(open(...).read())`, imp-style loaders, the cached .pyc).
So the batch worker, before it arms the tripwire, imports every module of PINNED_PACKAGES and puts a
finder first on sys.meta_path that answers any later import or reload of an already loaded module of
those packages (PINNED_PREFIXES) with that same, trapped module object; and each child covers the
packages' folders (sources and __pycache__) with an empty file system before student code runs
(autograder.grading.runner.isolation), so no file of theirs can be read again, whatever loader is used.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import pkgutil
import sys
import types
from pathlib import Path

#: Packages imported whole and whose folders each child covers: the forbidden implementations live in them.
PINNED_PACKAGES = ("torch.optim", "torch.autograd", "torch.func", "torch.nn.utils")
#: Loaded modules of these are answered from memory by the finder (torch._functorch only wraps the engine,
#: which is trapped; importing it whole would pull in torch._dynamo, so its folder stays readable).
PINNED_PREFIXES = (*PINNED_PACKAGES, "torch._functorch")


class PinnedFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """First on sys.meta_path: an import or reload of a pinned module yields the module already loaded."""

    def __init__(self, modules: dict[str, types.ModuleType]) -> None:
        """Pin `modules` (name -> module)."""
        self._modules = dict(modules)

    def find_spec(self, name: str, path: object = None, target: object = None) -> importlib.machinery.ModuleSpec | None:
        """A spec whose loader hands back the pinned module, or None for any other name."""
        module = self._modules.get(name)
        if module is None:
            return None
        spec = importlib.machinery.ModuleSpec(name, self, origin=getattr(module, "__file__", None))
        if hasattr(module, "__path__"):
            spec.submodule_search_locations = list(module.__path__)
        return spec

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        """The pinned module itself, not a new one."""
        return self._modules[spec.name]

    def exec_module(self, module: types.ModuleType) -> None:
        """Nothing to run: the module ran once, before the tripwire was armed."""


def _pinned(name: str) -> bool:
    """True for a module name inside PINNED_PREFIXES."""
    return any(name == p or name.startswith(p + ".") for p in PINNED_PREFIXES)


def pin_forbidden_modules() -> list[Path]:
    """Import PINNED_PACKAGES whole, pin every loaded module of PINNED_PREFIXES; return the folders to cover."""
    folders: list[Path] = []
    for package in PINNED_PACKAGES:
        root = importlib.import_module(package)
        for info in pkgutil.walk_packages(root.__path__, package + "."):
            importlib.import_module(info.name)
        folders += [Path(p) for p in root.__path__]
    modules = {name: m for name, m in list(sys.modules.items()) if _pinned(name) and isinstance(m, types.ModuleType)}
    sys.meta_path.insert(0, PinnedFinder(modules))
    return folders

"""Every public module declares ``__all__``, and every name in it exists."""

from __future__ import annotations

import importlib
import pkgutil

import benchtrail


def _modules() -> list[str]:
    names = ["benchtrail"]
    for info in pkgutil.walk_packages(benchtrail.__path__, "benchtrail."):
        if info.name.rsplit(".", 1)[-1] in ("__main__",):
            continue
        names.append(info.name)
    return names


def test_all_names_exist() -> None:
    for name in _modules():
        module = importlib.import_module(name)
        exported = getattr(module, "__all__", None)
        assert exported is not None, f"{name} has no __all__"
        for member in exported:
            assert hasattr(module, member), f"{name}.__all__ names missing {member}"

"""Where licensing's pieces live (README "Layout"): every selector and service is
importable from its package, every row lock is in ``licensing.locks``, every
exception in ``licensing.exceptions``."""

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest

import licensing
from licensing import selectors, services

ROOT = Path(licensing.__file__).resolve().parent


def _modules(package) -> list:
    return [
        importlib.import_module(info.name)
        for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}.")
        if ".migrations" not in info.name
    ]


@pytest.mark.parametrize("package", [selectors, services], ids=lambda p: p.__name__)
def test_every_public_name_of_the_package_imports_from_the_package(package):
    defined = {
        name: obj
        for module in _modules(package)
        for name, obj in vars(module).items()
        if not name.startswith("_")
        and (inspect.isfunction(obj) or inspect.isclass(obj))
        and obj.__module__ == module.__name__
    }
    assert sorted(package.__all__) == sorted(defined)
    for name, obj in defined.items():
        assert getattr(package, name) is obj


def test_every_row_lock_of_licensing_is_in_licensing_locks():
    locking = sorted(
        str(path.relative_to(ROOT))
        for path in ROOT.rglob("*.py")
        if "migrations" not in path.parts and path.name != "locks.py"
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Attribute) and node.attr == "select_for_update"
    )
    assert locking == []


def test_every_exception_of_licensing_is_in_licensing_exceptions():
    elsewhere = sorted(
        f"{obj.__module__}.{obj.__name__}"
        for module in _modules(licensing)
        for obj in vars(module).values()
        if inspect.isclass(obj)
        and issubclass(obj, BaseException)
        and obj.__module__ == module.__name__
        and module.__name__ != "licensing.exceptions"
    )
    assert elsewhere == []

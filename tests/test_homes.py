"""One home per kind of thing, in every app (README "Layout"): exceptions in the
app's ``exceptions.py``, row locks in its ``locks.py``, and every public
function and class of a package of services, selectors or rules importable from
the package itself."""

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APPS = ["accounts", "licensing", "messaging", "billing", "portal"]
PACKAGES = [
    "licensing.selectors",
    "licensing.services",
    "messaging.services",
    "billing.models",
    "billing.rules",
    "billing.selectors",
    "billing.services",
]


def _sources(app: str) -> list[Path]:
    return [
        p for p in sorted((ROOT / app).rglob("*.py")) if "migrations" not in p.parts
    ]


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(
        ".__init__"
    )


def _modules(package) -> list:
    return [
        importlib.import_module(info.name)
        for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}.")
    ]


@pytest.mark.parametrize("app", APPS)
def test_exceptions_are_defined_only_in_the_apps_exceptions_py(app):
    stray = []
    for path in _sources(app):
        module = importlib.import_module(_module_name(path))
        for name, value in vars(module).items():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseException)
                and value.__module__ == module.__name__
                and module.__name__ != f"{app}.exceptions"
            ):
                stray.append(f"{module.__name__}.{name}")
    assert stray == []


@pytest.mark.parametrize("app", APPS)
def test_row_locks_are_taken_only_in_the_apps_locks_py(app):
    inline = sorted(
        str(path.relative_to(ROOT))
        for path in _sources(app)
        if path.name != "locks.py"
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Attribute) and node.attr == "select_for_update"
    )
    assert inline == []


@pytest.mark.parametrize("name", PACKAGES)
def test_every_public_function_and_class_imports_from_its_package(name):
    package = importlib.import_module(name)
    defined = {
        attr: obj
        for module in _modules(package)
        for attr, obj in vars(module).items()
        if not attr.startswith("_")
        and (inspect.isfunction(obj) or inspect.isclass(obj))
        and obj.__module__ == module.__name__
    }
    assert sorted(set(defined) - set(package.__all__)) == []
    assert [attr for attr in package.__all__ if not hasattr(package, attr)] == []
    for attr, obj in defined.items():
        assert getattr(package, attr) is obj

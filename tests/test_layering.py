"""The layering of the apps (README "Layering").

accounts ← licensing ← messaging ← billing ← portal (arrows point at what is
imported), with ``config`` above them all: a lower app never imports a higher
one, not at the top of a module, not inside a function, not in a management
command. The contract is import-linter's ``layers`` contract in pyproject.toml.

And the rule modules stay pure: ``rules.py`` (or a ``rules/`` package) import no
models and read no clock; the time is passed in as ``at=``.
"""

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.apps import apps
from django.template.backends.django import get_installed_libraries

ROOT = Path(__file__).resolve().parent.parent
APPS = ("accounts", "licensing", "messaging", "billing", "portal")
LAYER = {app: level for level, app in enumerate(APPS)}

LINT = (
    "import sys; from importlinter.cli import lint_imports; "
    "sys.exit(lint_imports(no_cache=True, no_logo=True))"
)


def test_apps_import_only_lower_layers():
    """import-linter's layers contract: portal > billing > messaging > licensing > accounts."""
    result = subprocess.run(
        [sys.executable, "-c", LINT],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout, result.stdout


def _sources(app: str) -> list[Path]:
    return [
        p for p in sorted((ROOT / app).rglob("*.py")) if "migrations" not in p.parts
    ]


# --- Templates: {% load %} only the tag libraries of the same or a lower app ----

LOAD = re.compile(r"{%\s*load\s+(.*?)\s*%}")


def _template_owners() -> dict[Path, str]:
    """Each app template and the lowest app it belongs to: the app folder it is
    in (templates/<app>/, <app>/templates/), or else the apps whose code names it
    (the emails). Project templates (base.html, registration, admin) load freely."""
    code = {app: "\n".join(p.read_text() for p in _sources(app)) for app in APPS}
    folders = [ROOT / "templates"] + [ROOT / app / "templates" for app in APPS]
    owners = {}
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if not path.is_file():
                continue
            name = path.relative_to(folder).as_posix()
            found = {name.split("/")[0]} & set(APPS)
            found |= {app for app, text in code.items() if f'"{name}"' in text}
            if found:
                owners[path] = min(found, key=LAYER.__getitem__)
    return owners


def _loaded_libraries(text: str) -> set[str]:
    names = set()
    for load in LOAD.findall(text):
        words = load.split()
        names |= {words[-1]} if "from" in words else set(words)
    return names


def test_templates_load_only_tag_libraries_of_their_app_or_lower():
    libraries = get_installed_libraries()  # name -> module
    owners = _template_owners()
    assert ROOT / "templates/licensing/licenses.html" in owners
    wrong = []
    for path, owner in owners.items():
        for name in sorted(_loaded_libraries(path.read_text())):
            app = libraries[name].split(".")[0]
            if LAYER.get(app, -1) > LAYER[owner]:
                wrong.append(f"{path.relative_to(ROOT)} ({owner}) loads {name} ({app})")
    assert wrong == []


def test_load_parsing():
    assert _loaded_libraries(
        "{% load i18n billing_tags %}{% load money from format_tags %}{%load static%}"
    ) == {"i18n", "billing_tags", "format_tags", "static"}


# --- ORM lookups: no relation that a higher app's model adds to a lower one -----

ORM_CALLS = {
    "Count", "Max", "Min", "Sum", "Avg", "F", "OuterRef", "Prefetch",
    "select_related", "prefetch_related", "values", "values_list", "order_by",
    "only", "defer", "filter", "exclude", "get", "annotate", "aggregate",
}  # fmt: skip


def _higher_relations() -> dict[str, set[str]]:
    """For each app, the query names of the relations into it (or into an app
    below it) from models of a higher app: ``sent_messages`` (Message.sender) on
    accounts' User, ``invoices`` on Company, ..."""
    names: dict[str, set[str]] = {app: set() for app in APPS}
    for model in apps.get_models():
        target = model._meta.app_label
        for rel in model._meta.related_objects:
            source = rel.related_model._meta.app_label
            if target in LAYER and source in LAYER and LAYER[source] > LAYER[target]:
                for app in APPS[: LAYER[source]]:
                    names[app].add(rel.field.related_query_name())
    return names


def _lookup_parts(path: Path) -> list[tuple[int, str]]:
    """Lookup paths in a module: keyword names and strings with ``__``, and the
    string arguments of ORM calls (Count("user__x"), select_related("x"), ...)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.keyword) and node.arg and "__" in node.arg:
            found.append((node.value.lineno, node.arg))
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and re.fullmatch(r"[a-z_]+(__[a-z_]+)+_*", node.value)
        ):
            found.append((node.lineno, node.value))
        elif isinstance(node, ast.Call):
            func = node.func
            name = (
                func.attr
                if isinstance(func, ast.Attribute)
                else getattr(func, "id", "")
            )
            if name in ORM_CALLS:
                found += [
                    (arg.lineno, arg.value)
                    for arg in node.args
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str)
                ]
                found += [(k.value.lineno, k.arg) for k in node.keywords if k.arg]
    return found


def test_lower_apps_follow_no_relation_of_a_higher_app():
    """import-linter sees imports, not ORM lookups: a lower app joining a higher
    app's table by a reverse relation (``user__sent_messages__``) is caught here."""
    relations = _higher_relations()
    assert "sent_messages" in relations["licensing"]
    wrong = []
    for app in APPS:
        for path in _sources(app):
            for line, lookup in _lookup_parts(path):
                hit = set(lookup.split("__")) & relations[app]
                if hit:
                    wrong.append(f"{path.relative_to(ROOT)}:{line}: {lookup}")
    assert wrong == []


# --- Rule modules: no models, no clock -----------------------------------------


def _rule_modules() -> list[Path]:
    found = []
    for app in APPS:
        base = ROOT / app
        found += sorted(base.glob("rules.py")) + sorted(base.glob("*_rules.py"))
        found += sorted((base / "rules").rglob("*.py"))
    return found


def _impurities(path: Path) -> list[str]:
    """ORM imports and clock reads in one rule module, as ``line: what``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        modules: list[str] = []
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            modules = [module] + [f"{module}.{alias.name}" for alias in node.names]
            if any(alias.name in ("now", "utcnow", "today") for alias in node.names):
                found.append(f"{node.lineno}: imports a clock from {module}")
        for module in modules:
            parts = module.split(".")
            if module.startswith("django.db") or "models" in parts:
                found.append(f"{node.lineno}: imports {module}")
        if isinstance(node, ast.Attribute) and node.attr in ("now", "utcnow", "today"):
            found.append(f"{node.lineno}: reads the clock (.{node.attr})")
        if (
            isinstance(node, ast.Attribute)
            and node.attr in ("time", "monotonic")
            and isinstance(node.value, ast.Name)
            and node.value.id == "time"
        ):
            found.append(f"{node.lineno}: reads the clock (time.{node.attr})")
    return found


def test_rule_modules_are_found():
    names = {str(p.relative_to(ROOT)) for p in _rule_modules()}
    assert {
        "accounts/rules.py",
        "licensing/rules.py",
        "messaging/rules.py",
        "billing/rules/__init__.py",
        "billing/rules/charges.py",
    } <= names


@pytest.mark.parametrize(
    "path", _rule_modules(), ids=lambda p: str(p.relative_to(ROOT))
)
def test_rules_import_no_models_and_read_no_clock(path):
    assert _impurities(path) == []


@pytest.mark.parametrize(
    "source",
    [
        "from django.db import models",
        "from django.db.models import Q",
        "from .models import Company",
        "from . import models",
        "from accounts.models import Company",
        "from django.utils import timezone\nx = timezone.now()",
        "from datetime import datetime\nx = datetime.now()",
        "from django.utils.timezone import now",
        "import time\nx = time.time()",
        "def f():\n    from billing.models import Invoice",
    ],
)
def test_impurity_check_catches(tmp_path, source):
    """The purity check itself: each of these would break the rule."""
    module = tmp_path / "rules.py"
    module.write_text(source + "\n")
    assert _impurities(module)

"""The layers stay apart: the domain (hotline/domain) is pure code that imports no adapter and no tooling, and
the product imports no tooling (set-up, supervision, the SIPp driver). Only the `hotline` commands that run
set-up, the system, a cluster or a test call are doors into tooling. Read from every tracked module's imports,
those inside functions included."""
from __future__ import annotations

import ast
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("hotline", "ari_app", "agi", "monitor", "operator_console", "public_site")
#: `hotline setup`/`up`, `hotline cluster …`, the units' steps and `hotline call` drive tooling on purpose.
TOOLING_DOORS = {"hotline/cli/system.py", "hotline/cli/cluster.py", "hotline/cli/units.py", "hotline/cli/call.py"}


def _modules(*folders: str) -> list[str]:
    out = subprocess.run(["git", "ls-files", "--", *(f"{f}/*.py" for f in folders)], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout
    return out.split()


def _imports(path: str) -> list[tuple[str, str]]:
    """(module, name) for every import in ``path``; name is "" for ``import module``."""
    package = path.removesuffix(".py").split("/")[:-1]     # a module's package; an __init__'s own package
    found: list[tuple[str, str]] = []
    for node in ast.walk(ast.parse((ROOT / path).read_text(encoding="utf-8"), path)):
        if isinstance(node, ast.Import):
            found += [(alias.name, "") for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, node.module] if node.module else base)
            found += [(module, alias.name) for alias in node.names]
    return found


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_the_domain_imports_no_adapter_and_no_tooling() -> None:
    modules = _modules("hotline/domain")
    assert "hotline/domain/vocabulary.py" in modules
    leaks = [f"{path}: {module} {name}".rstrip() for path in modules for module, name in _imports(path)
             if _within(module, "hotline.adapters") or _within(module, "tooling")
             or (module == "hotline" and name == "adapters")]
    assert not leaks, "the domain imports an adapter or tooling:\n" + "\n".join(leaks)


def test_the_product_imports_no_tooling() -> None:
    modules = _modules(*PRODUCT)
    assert TOOLING_DOORS <= set(modules)
    leaks = [f"{path}: {module} {name}".rstrip() for path in modules if path not in TOOLING_DOORS
             for module, name in _imports(path) if _within(module, "tooling")]
    assert not leaks, "product code imports tooling:\n" + "\n".join(leaks)


def test_relative_imports_are_resolved_against_their_package() -> None:
    assert ("hotline.adapters.ami.messages", "Event") in _imports("hotline/adapters/ami/listener.py")
    assert ("hotline.adapters.ami.listener", "AmiListener") in _imports("hotline/adapters/ami/__init__.py")

"""Dependencies point one way (STYLE 13), read from every module's source, lazy imports too.

- ``agent_runner`` never imports ``connectors`` (``agent_runner.testing`` included: its fakes
  speak the platforms' protocols, they need no connector). Connectors that ``agent-runner
  check`` describes register under an entry point instead (``agent_runner.connector``).
- ``agent_runner.core`` (the autogen-style message runtime) imports nothing of the rest of
  ``agent_runner`` but the error tree, ``agent_runner.errors``.
- ``agent_runner.distributed`` imports nothing of the I/O runner (``agent_runner.runner``),
  nor the ``agent_runner`` package's door, which re-exports it.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import agent_runner

PACKAGE = Path(agent_runner.__file__).resolve().parent
IMPORTERS = ("import_module", "__import__")
"""Calls that import a module named by a string (``importlib.import_module("x")``)."""


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported(path: Path) -> Iterator[tuple[int, str]]:
    """``(line, module)`` for every import in ``path``, anywhere in the file.

    ``from a.b import c`` yields ``a.b`` and ``a.b.c`` (``c`` may be a module); relative
    imports are resolved; ``importlib.import_module("a.b")`` with a literal name counts too.
    """
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            yield node.lineno, base
            for alias in node.names:
                yield node.lineno, f"{base}.{alias.name}"
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            first = node.args[0]
            if called in IMPORTERS and isinstance(first, ast.Constant):
                if isinstance(first.value, str):
                    yield node.lineno, first.value


def modules(subpackage: str = "") -> list[Path]:
    root = PACKAGE / subpackage if subpackage else PACKAGE
    return sorted(root.rglob("*.py"))


def within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def violations(paths: list[Path], allowed: Callable[[str], bool]) -> list[str]:
    return [
        f"{path.relative_to(PACKAGE.parent)}:{line} imports {target}"
        for path in paths
        for line, target in imported(path)
        if not allowed(target)
    ]


def test_the_reader_sees_every_kind_of_import() -> None:
    """The rules below are only as good as the reader: check it on known imports."""
    assert len(modules()) > 100
    cli = {target for _, target in imported(PACKAGE / "cli.py")}
    assert {"agent_runner.settings", "agent_runner.distributed", "argparse"} <= cli  # lazy too
    runtime = {target for _, target in imported(PACKAGE / "runner" / "agent_runtime.py")}
    assert "agent_runner.core.SingleThreadedAgentRuntime" in runtime
    core = {target for _, target in imported(PACKAGE / "core" / "__init__.py")}
    assert any(within(target, "agent_runner.core") for target in core)


def test_agent_runner_never_imports_connectors() -> None:
    found = violations(modules(), lambda target: not within(target, "connectors"))
    assert not found, "\n".join(found)


def test_core_imports_only_the_error_tree_of_the_rest() -> None:
    def allowed(target: str) -> bool:
        return (
            not within(target, "agent_runner")
            or within(target, "agent_runner.core")
            or within(target, "agent_runner.errors")
        )

    found = violations(modules("core"), allowed)
    assert not found, "\n".join(found)


@pytest.mark.parametrize("subpackage", ["distributed", "core"])
def test_the_message_runtimes_never_import_the_runner(subpackage: str) -> None:
    def allowed(target: str) -> bool:
        return target != "agent_runner" and not within(target, "agent_runner.runner")

    found = violations(modules(subpackage), allowed)
    assert not found, "\n".join(found)


MAX_MODULE_LINES = 400
"""Issue 10's bar: a module past this is two concepts; split it (STYLE: one concept a module)."""


def test_no_module_is_over_the_size_bar() -> None:
    roots = [PACKAGE, PACKAGE.parent / "connectors"]
    long = [
        f"{path.relative_to(PACKAGE.parent)}: {count} lines"
        for root in roots
        for path in sorted(root.rglob("*.py"))
        if (count := len(path.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    ]
    assert not long, "split these modules:\n" + "\n".join(long)

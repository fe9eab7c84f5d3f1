"""What the generated reference pages list, read from the code (used by hooks.py and tests).

Kept apart from ``hooks.py`` so the tests can check the same lists the site shows.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

from pydantic import AliasChoices, SecretStr
from pydantic_settings import BaseSettings

ROOT = Path(__file__).resolve().parents[1]
ENV_EXAMPLE = ROOT / ".env.example"
ROOTS = ("agent_runner", "connectors")


def _is_public(name: str) -> bool:
    return not any(part.startswith("_") for part in name.split("."))


def _walk() -> Iterator[tuple[str, bool]]:
    for root in ROOTS:
        package = importlib.import_module(root)
        yield root, True
        for info in pkgutil.walk_packages(package.__path__, root + "."):
            yield info.name, info.ispkg


def public_modules() -> list[str]:
    """Public packages, and the public modules directly under ``agent_runner``/``connectors``.

    Modules inside a package (``connectors.discord.split``) are that package's private parts
    behind its curated ``__init__``: the package's page covers them.
    """
    names = []
    for name, is_package in _walk():
        if not _is_public(name) or name.startswith("agent_runner.testing.") and not is_package:
            continue
        if is_package or name.count(".") == 1:
            module = importlib.import_module(name)
            if getattr(module, "__all__", None):
                names.append(name)
    return sorted(names)


def all_modules() -> list[ModuleType]:
    """Every module of the project, imported (settings classes are found among them)."""
    return [importlib.import_module(name) for name, _ in _walk() if "__main__" not in name]


def settings_classes() -> list[type[BaseSettings]]:
    """Every ``BaseSettings`` subclass the project defines, in module order."""
    found: dict[str, type[BaseSettings]] = {}
    for module in all_modules():
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, BaseSettings)
                and value is not BaseSettings
                and value.__module__ == module.__name__
            ):
                found[f"{value.__module__}.{value.__qualname__}"] = value
    return [found[key] for key in sorted(found)]


@dataclass(frozen=True)
class SettingRow:
    variable: str
    type: str
    default: str
    description: str


def variables(cls: type[BaseSettings]) -> list[tuple[str, str]]:
    """``(variable, field name)`` for each field: the first environment name it is read from."""
    prefix = str(cls.model_config.get("env_prefix", ""))
    out = []
    for name, field in cls.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            variable = str(alias.choices[0])
        elif isinstance(alias, str):
            variable = alias
        else:
            variable = prefix + name
        out.append((variable.upper(), name))
    return out


def env_example_comments() -> dict[str, list[str]]:
    """Each variable of ``.env.example`` with the comment lines just above it (a list, so a
    variable listed twice shows up as two entries)."""
    found: dict[str, list[str]] = {}
    comment: list[str] = []
    for raw in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if line.startswith("# ---") or not line:
            comment = []
        elif line.startswith("#"):
            comment.append(line.lstrip("#").strip())
        elif "=" in line:
            variable = line.split("=", 1)[0].strip()
            found.setdefault(variable, []).append(" ".join(comment))
            comment = []
    return found


def _type_name(annotation: object) -> str:
    text = getattr(annotation, "__name__", None) or str(annotation)
    text = text.replace("typing.", "").replace("pydantic.types.", "")
    return f"`{text}`"


def _default(cls: type[BaseSettings], name: str) -> str:
    field = cls.model_fields[name]
    if field.is_required():
        return "required"
    value = field.get_default(call_default_factory=True)
    if value is None or value == "" or value == [] or value == {}:
        return "unset"
    if isinstance(value, SecretStr):
        return "(secret)"
    return f"`{value}`"


def settings_rows() -> list[tuple[str, list[SettingRow]]]:
    """The settings page: one group per class, one row per variable."""
    comments = env_example_comments()
    groups = []
    for cls in settings_classes():
        rows = []
        for variable, name in variables(cls):
            text = " ".join(comments.get(variable, [""])[:1]).replace("|", "\\|")
            rows.append(
                SettingRow(
                    variable=variable,
                    type=_type_name(cls.model_fields[name].annotation),
                    default=_default(cls, name),
                    description=text,
                )
            )
        title = f"{cls.__name__} (`{cls.__module__}`)"
        groups.append((title, rows))
    return groups


def cli_help() -> list[tuple[str, str]]:
    """``(command, help text)`` for ``agent-runner`` and each of its commands."""
    from agent_runner.cli import build_parser

    parser = build_parser()
    out = [("agent-runner", parser.format_help())]
    for action in parser._subparsers._group_actions if parser._subparsers else []:
        for name, sub in getattr(action, "choices", {}).items():
            out.append((f"agent-runner {name}", sub.format_help()))
    return out

"""MkDocs hooks: the reference pages are generated from the code at build time.

- ``reference/api/<module>.md``: one page per public module (every package of
  ``agent_runner`` and ``connectors`` whose name has no leading underscore, and their
  top-level public modules), rendered by mkdocstrings from ``__all__``.
- ``reference/settings.md``: every environment variable of every settings class, with its
  type and default from the class and its description from ``.env.example`` (one source
  each; ``tests/test_docs.py`` checks that both list the same variables, once each).
- ``reference/cli.md``: ``agent-runner --help`` and each command's help, from the parser.

Nothing here is written to ``docs/``: the pages exist only in the built site.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "docs"))

from reference_data import (  # noqa: E402
    cli_help,
    public_modules,
    settings_rows,
)

API_DIR = "reference/api"


def _api_page(module: str) -> str:
    title = f"`{module}`"
    return f"# {title}\n\n::: {module}\n"


def _settings_page() -> str:
    lines = [
        "# Settings",
        "",
        "Every environment variable the project reads, generated from the settings classes",
        "(type and default) and the comments of `.env.example` in the repository (description).",
        "`agent-runner run` loads `.env` from the bot's folder; real",
        "environment variables win. Empty values count as unset.",
        "",
    ]
    for group, rows in settings_rows():
        lines += [
            f"## {group}",
            "",
            "| Variable | Type | Default | Description |",
            "|---|---|---|---|",
        ]
        for row in rows:
            lines.append(f"| `{row.variable}` | {row.type} | {row.default} | {row.description} |")
        lines.append("")
    return "\n".join(lines)


def _cli_page() -> str:
    parts = ["# Command line", "", "`agent-runner` is installed with the package.", ""]
    for command, text in cli_help():
        parts += [f"## `{command}`", "", "```text", text.rstrip(), "```", ""]
    return "\n".join(parts)


_ROLE = re.compile(r":(?:class|mod|func|meth|attr|data|exc|obj):<code>~?([^<]*)</code>")
_RST_LITERAL = re.compile(r"<p>::</p>")


def on_page_content(html: str, **_: Any) -> str:
    """Docstrings are written for ``help()`` and Sphinx-style readers: show their roles
    (``:class:`~a.b.C```) as plain code and drop the lone ``::`` that opens a literal block
    (Markdown already shows the indented block as code)."""
    html = _ROLE.sub(
        lambda m: (
            f"<code>{m.group(1).rsplit('.', 1)[-1] if m.group(0).count('~') else m.group(1)}</code>"
        ),
        html,
    )
    html = _RST_LITERAL.sub("", html)
    return html.replace("::</p>", ":</p>")


def on_config(config: Any) -> Any:
    """Put the generated pages in the navigation's Reference section."""
    api = [{f"{name}": f"{API_DIR}/{name}.md"} for name in public_modules()]
    for section in config["nav"]:
        if isinstance(section, dict) and "Reference" in section:
            section["Reference"] = [
                *section["Reference"],
                {"Settings": "reference/settings.md"},
                {"Command line": "reference/cli.md"},
                {"Python API": api},
            ]
    return config


def on_files(files: Any, config: Any) -> Any:
    from mkdocs.structure.files import File

    pages = {f"{API_DIR}/{name}.md": _api_page(name) for name in public_modules()}
    pages["reference/settings.md"] = _settings_page()
    pages["reference/cli.md"] = _cli_page()
    for uri, content in pages.items():
        files.append(File.generated(config, uri, content=content))
    return files


__all__ = ["on_config", "on_files", "on_page_content"]

"""The ``agent-runner`` command.

::

    agent-runner run FILE        load .env, import FILE, run its bot until SIGTERM/SIGINT
    agent-runner init DIR        scaffold a new bot project (run.py, .env.example, README.md)
    agent-runner check [FILE]    validate settings (and FILE's bot) and print what would start
    agent-runner worker ...      run a distributed worker (agent-runner[redis])

The bot file convention: ``run`` imports FILE as a module (its folder first on
``sys.path``) and then runs, in this order of preference,

- ``async def main()``: awaited; an ``int`` it returns is the exit code;
- ``runtime``: an ``AgentRuntime``, run until SIGTERM/SIGINT (then exit 0).

``.env`` files are loaded before the import (FILE's folder, then the current folder, or
``--env-file``); variables already set in the environment win.

Example:
    $ agent-runner init mybot && agent-runner run mybot/run.py
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import inspect
import logging
import os
import sys
import traceback
from collections.abc import Sequence
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType
from typing import Any

from agent_runner.connector import CONNECTOR_ENTRY_POINTS, Describable
from agent_runner.errors import AgentRunnerError, ConfigurationError
from agent_runner.preflight import preflight
from agent_runner.settings import (
    BOT_MODULE,
    RunnerSettings,
    check_environment,
    configure_logging,
    load_settings,
)

MODULE_NAME = BOT_MODULE
"""The name the bot file is imported under (not ``__main__``: its main guard stays off)."""

_log = logging.getLogger("agent_runner.cli")


def _out(text: str = "") -> None:
    sys.stdout.write(text + "\n")


def _err(text: str) -> None:
    sys.stderr.write(f"agent-runner: {text}\n")


# -- environment and bot files ------------------------------------------------------------
def load_env(file: Path | None = None, env_file: Path | None = None) -> list[Path]:
    """Load ``.env`` files into ``os.environ`` without overriding what is set; return them."""
    from dotenv import load_dotenv

    if env_file is not None:
        if not env_file.is_file():
            raise ConfigurationError(f"env file {env_file} does not exist")
        candidates = [env_file]
    else:
        candidates = []
        if file is not None:
            candidates.append(file.resolve().parent / ".env")
        candidates.append(Path.cwd() / ".env")
    loaded: list[Path] = []
    for path in dict.fromkeys(candidates):
        if path.is_file():
            load_dotenv(path, override=False)
            loaded.append(path)
    return loaded


def import_bot(file: Path) -> ModuleType:
    """Import the bot file as a module (its folder goes first on ``sys.path``)."""
    path = file.resolve()
    if not path.is_file():
        raise ConfigurationError(f"{file} does not exist")
    spec = importlib.util.spec_from_file_location(MODULE_NAME, path)
    if spec is None or spec.loader is None:
        raise ConfigurationError(f"{file} cannot be imported as a Python module")
    folder = str(path.parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    module = importlib.util.module_from_spec(spec)
    sys.modules[MODULE_NAME] = module
    spec.loader.exec_module(module)
    return module


def entry_point(module: ModuleType) -> tuple[str, Any]:
    """``("main", fn)`` or ``("runtime", runtime)`` by the convention above."""
    main = getattr(module, "main", None)
    if main is not None and inspect.iscoroutinefunction(main):
        return "main", main
    runtime = getattr(module, "runtime", None)
    if runtime is not None and callable(getattr(runtime, "run", None)):
        return "runtime", runtime
    raise ConfigurationError(
        f"{module.__file__} defines neither `async def main()` nor `runtime` (an AgentRuntime)"
    )


# -- subcommands ----------------------------------------------------------------------------
def _prepare(file: Path | None, env_file: Path | None) -> RunnerSettings:
    loaded = load_env(file, env_file)
    errors, warnings = check_environment(os.environ)
    for line in warnings:
        _err(f"warning: {line}")
    if errors:  # every settings class, whether or not the bot uses it: one line each
        raise ConfigurationError("\n".join(f"invalid setting {line}" for line in errors))
    settings = load_settings()
    configure_logging(settings.log_level)
    for path in loaded:
        _log.info("loaded %s", path)
    return settings


def cmd_run(args: argparse.Namespace) -> int:
    _prepare(args.file, args.env_file)
    kind, target = entry_point(import_bot(args.file))
    try:
        result = asyncio.run(target() if kind == "main" else target.run())
    except KeyboardInterrupt:
        return 130
    return result if isinstance(result, int) else 0


def cmd_init(args: argparse.Namespace) -> int:
    from agent_runner._scaffold import write_project

    try:
        written = write_project(args.dir, force=args.force)
    except FileExistsError as exc:
        _err(f"not overwriting {exc} (use --force)")
        return 1
    for path in written:
        _out(f"created {path}")
    run_py = args.dir / "run.py"
    _out(f"\nStart it with:  agent-runner run {run_py}")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    settings = _prepare(args.file, args.env_file)
    _out("settings:")
    for name, value in settings.describe().items():
        _out(f"  {name} = {value}")
    if args.file is None:
        connectors = _check_connectors_from_env()
        done = "ok: settings are valid (give a bot file to check it too)"
    else:
        kind, target = entry_point(import_bot(args.file))
        _out(f"\nbot file: {args.file} ({'async main()' if kind == 'main' else 'runtime'})")
        if kind == "main":
            connectors = _check_connectors_from_env()
            done = "ok: main() would be awaited (its connectors are built when it runs)"
        else:
            for line in describe_runtime(target):
                _out(line)
            connectors = _runtime_connectors(target)
            done = "ok: this is what `agent-runner run` would start"
    problems = asyncio.run(preflight(settings, connectors))
    if problems:
        raise ConfigurationError("\n".join(problems))
    _out(f"\n{done}")
    return 0


def _runtime_connectors(runtime: Any) -> list[Any]:
    inputs = list(getattr(runtime, "inputs", None) or getattr(runtime, "_inputs", []))
    outputs = getattr(runtime, "outputs", None) or getattr(runtime, "_outputs", {})
    return inputs + list(outputs.values() if isinstance(outputs, dict) else outputs)


def _check_connectors_from_env() -> list[Any]:
    """Describe each connector registered under CONNECTOR_ENTRY_POINTS, built from the
    environment (``agent_runner`` imports no connector by name: they register themselves)."""
    connectors = []
    for entry in sorted(entry_points(group=CONNECTOR_ENTRY_POINTS), key=lambda e: e.name):
        try:
            factory = entry.load()
        except ImportError as exc:  # its optional dependencies are not installed
            _log.debug("connector %s not described: %s", entry.name, exc)
            continue
        connector = factory.from_env()
        connectors.append(connector)
        if isinstance(connector, Describable):
            _out(f"\nwith {entry.name}: {connector.describe()}")
    return connectors


def describe_runtime(runtime: Any) -> list[str]:
    """Lines describing an AgentRuntime's inputs, outputs, routes and store."""

    def connector(item: Any) -> str:
        detail = item.describe() if isinstance(item, Describable) else type(item).__name__
        return f"  - {getattr(item, 'name', '?')}: {detail}"

    inputs = list(getattr(runtime, "inputs", None) or getattr(runtime, "_inputs", []))
    outputs = getattr(runtime, "outputs", None) or getattr(runtime, "_outputs", {})
    outputs = list(outputs.values()) if isinstance(outputs, dict) else list(outputs)
    routes = getattr(runtime, "routes", None) or getattr(runtime, "_routes", None)
    lines = ["inputs:", *([connector(i) for i in inputs] or ["  (none)"])]
    lines += ["outputs:", *([connector(o) for o in outputs] or ["  (none)"])]
    if routes:
        lines.append("routes:")
        lines += [f"  {source} -> {', '.join(names)}" for source, names in routes.items()]
    store = getattr(runtime, "store", None)
    lines.append(f"store: {store!r}")
    return lines


def cmd_status(args: argparse.Namespace) -> int:
    """``agent-runner status [URL]``: the endpoint's status in a few lines."""
    from agent_runner.observability.settings import AdminSettings
    from agent_runner.observability.summary import default_url, fetch_status, summary
    from agent_runner.settings import read_settings

    load_env(None, args.env_file)
    settings = read_settings(AdminSettings)
    url = args.url or default_url(settings)
    token = settings.token.get_secret_value() if settings.token else None
    try:
        status = fetch_status(url, token)
    except OSError as exc:
        _err(f"cannot read {url}/api/status: {exc}")
        return 2
    for line in summary(status):
        _out(line)
    return 0 if status.get("ready") else 1


def cmd_worker(argv: Sequence[str]) -> int:
    """``agent-runner worker ...``: hand the arguments to the distributed runtime's command."""
    try:
        module = importlib.import_module("agent_runner.distributed")
    except ImportError as exc:
        _err(f"`worker` needs the distributed runtime (pip install 'agent-runner[redis]'): {exc}")
        return 2
    worker_command = getattr(module, "worker_command", None)
    if not callable(worker_command):
        _err("`worker` is not available: agent_runner.distributed has no worker_command")
        return 2
    return int(worker_command(list(argv)))


# -- entry point ----------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="agent-runner",
        description="Run autonomous agents forever: inputs, outputs, memory, pricing.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="run a bot file (loads .env first)")
    run.add_argument("file", type=Path, help="the bot file, e.g. run.py")
    run.add_argument("--env-file", type=Path, help="load this file instead of .env")
    run.set_defaults(handler=cmd_run)

    init = commands.add_parser("init", help="scaffold a new bot project in DIR")
    init.add_argument("dir", type=Path)
    init.add_argument("--force", action="store_true", help="overwrite existing files")
    init.set_defaults(handler=cmd_init)

    check = commands.add_parser("check", help="validate configuration, print what would start")
    check.add_argument("file", type=Path, nargs="?", help="the bot file to check")
    check.add_argument("--env-file", type=Path, help="load this file instead of .env")
    check.set_defaults(handler=cmd_check)

    status = commands.add_parser(
        "status", help="summarise a running bot's operator endpoint (exit 0 ready, 1 not, 2 down)"
    )
    status.add_argument(
        "url",
        nargs="?",
        help="the endpoint (default: AGENT_RUNNER_ADMIN_HOST/PORT, 127.0.0.1:8081)",
    )
    status.add_argument("--env-file", type=Path, help="load this file instead of .env")
    status.set_defaults(handler=cmd_status)

    commands.add_parser(
        "worker", help="run a distributed worker (arguments: agent-runner worker --help)"
    )
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("agent-runner")
    except PackageNotFoundError:
        return "unknown"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    if args_list and args_list[0] == "worker":
        return cmd_worker(args_list[1:])
    args = build_parser().parse_args(args_list)
    try:
        return int(args.handler(args))
    except AgentRunnerError as exc:
        for line in str(exc).splitlines() or [type(exc).__name__]:
            _err(f"error: {line}")
        return 2
    except SyntaxError:
        traceback.print_exc()
        return 1
    except Exception:  # the user's bot file failed to import or run: show it, exit 1
        traceback.print_exc()
        return 1


if __name__ == "__main__":
    raise SystemExit(main())


__all__ = [
    "MODULE_NAME",
    "build_parser",
    "cmd_check",
    "cmd_init",
    "cmd_run",
    "cmd_status",
    "cmd_worker",
    "describe_runtime",
    "entry_point",
    "import_bot",
    "load_env",
    "main",
]

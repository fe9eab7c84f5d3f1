"""Every package's public surface is explicit: ``__all__`` is sorted, complete and importable."""

import importlib
import pkgutil
import types

import pytest

import agent_runner
import connectors

PACKAGES = sorted(
    {
        name
        for root in (agent_runner, connectors)
        for _, name, is_pkg in pkgutil.walk_packages(root.__path__, root.__name__ + ".")
        if is_pkg and not name.rsplit(".", 1)[-1].startswith("_")
    }
    | {"agent_runner", "connectors"}
)


@pytest.mark.parametrize("name", PACKAGES)
def test_all_is_sorted_complete_and_importable(name: str) -> None:
    module = importlib.import_module(name)
    exported = list(module.__all__)
    assert exported == sorted(exported), f"{name}.__all__ is not sorted"
    assert len(exported) == len(set(exported)), f"{name}.__all__ has duplicates"
    for symbol in exported:
        assert hasattr(module, symbol), f"{name}.__all__ names missing {symbol}"
    public = {
        key
        for key, value in vars(module).items()
        if not key.startswith("_")
        and not isinstance(value, types.ModuleType)
        and getattr(value, "__module__", name).startswith(name.split(".")[0])
    }
    missing = public - set(exported) - {"annotations"}
    assert not missing, f"{name} has public names not in __all__: {sorted(missing)}"

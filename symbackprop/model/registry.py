"""Name lookup shared by the activation and loss registries."""
from __future__ import annotations

from typing import TypeVar

T = TypeVar("T")


def lookup(name: object, registry: dict[str, T], aliases: dict[str, str], what: str, error: type[Exception]) -> T:
    """``registry[name]`` (case-insensitive, through ``aliases``), or ``error`` listing the choices."""
    key = aliases.get(str(name).lower(), str(name).lower())
    try:
        return registry[key]
    except KeyError:
        raise error(f"unknown {what} {name!r}; choose one of: {', '.join(registry)}") from None

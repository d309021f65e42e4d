"""Registries: the one list of each kind of building block (layers, activations, losses).

Every stage that needs to know what kinds exist -- the network's checks, checkpoints, the
command line's choices and help -- reads the registry instead of naming kinds itself, so
adding a kind is one ``register`` call in the module that defines it.
"""
from __future__ import annotations

from typing import Callable, Generic, Iterator, TypeVar

from ..errors import ArchitectureError, FormulaError

T = TypeVar("T")


class Registry(Generic[T]):
    """Named records of one kind, looked up case-insensitively and through aliases.

    An unknown name raises ``error`` with one line that lists the choices.
    """

    def __init__(self, what: str, error: type[Exception]) -> None:
        self.what = what
        self.error = error
        self._items: dict[str, T] = {}
        self._aliases: dict[str, str] = {}

    def register(self, name: str, item: T, aliases: tuple[str, ...] = (), replace: bool = False) -> T:
        """Add ``item`` under ``name`` (lower case) and its ``aliases``; returns ``item``.

        A name or alias that is taken raises :class:`ArchitectureError` unless ``replace`` is
        set, so two modules cannot silently define the same kind twice.
        """
        key = name.lower()
        if not key.isidentifier():
            raise ArchitectureError(f"{self.what} name {name!r} must be a word of letters, digits and underscores")
        for taken in (key, *(alias.lower() for alias in aliases)):
            if not replace and (taken in self._items or taken in self._aliases):
                article = "an" if self.what[0] in "aeiou" else "a"
                raise ArchitectureError(f"there is already {article} {self.what} called {taken!r}; "
                                        "pass replace=True to redefine it")
        self._items[key] = item
        self._aliases.pop(key, None)
        for alias in aliases:
            self._aliases[alias.lower()] = key
        return item

    def adopt(self, name: str, item: T, same: Callable[[T, T], bool], describe: Callable[[T], str],
              built_in: frozenset[str]) -> T:
        """The record registered as ``name``: ``item``, registered now if the name is free, or
        the one already there if ``same(it, item)``.  A name taken by another definition is
        refused (``FormulaError``): a name means one formula per session, so a network, a
        checkpoint and the kernel cache never disagree about what it is."""
        if name not in self:
            return self.register(name, item)
        known = self.get(name)
        if known is item or same(known, item):
            return known
        own = name.lower() not in built_in
        raise FormulaError(f"there is already {'an' if own else 'a built-in'} {self.what} called {name!r} "
                           f"({describe(known)}); give yours another name"
                           + (f", or register it with replace=True to redefine it" if own else ""))

    def unregister(self, name: str) -> None:
        """Remove ``name`` and its aliases (a test, or a notebook redefining its own kind)."""
        key = self._aliases.get(name.lower(), name.lower())
        self._items.pop(key, None)
        for alias in [a for a, target in self._aliases.items() if target == key]:
            del self._aliases[alias]

    def get(self, name: object) -> T:
        """``name``'s record; an unknown name raises ``error`` listing the choices."""
        text = str(name).lower()
        key = self._aliases.get(text, text)
        try:
            return self._items[key]
        except KeyError:
            raise self.error(f"unknown {self.what} {name!r}; choose one of: {', '.join(self._items)}") from None

    def names(self) -> list[str]:
        """The registered names, in registration order (built-in kinds first)."""
        return list(self._items)

    def __contains__(self, name: object) -> bool:
        text = str(name).lower()
        return self._aliases.get(text, text) in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, name: str) -> T:
        return self.get(name)

    def values(self) -> list[T]:
        """The registered records, in registration order."""
        return list(self._items.values())

    def items(self) -> list[tuple[str, T]]:
        """``(name, record)`` pairs, in registration order."""
        return list(self._items.items())

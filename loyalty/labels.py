"""Codes as operators read them, for the sets of codes no one app closes.

A points entry's ``source`` is written by points itself (``adjust``, the rule
kinds) and by the apps above it (``order``, ``mall``, ``gift_pack`` …).  The
app that owns the column keeps a ``CodeLabels`` with its own codes, and each
app above registers its codes at startup (its ``AppConfig.ready``), as for
the other registries (docs/architecture.md).  The column's ``choices`` is the
registry's function, so the admin shows the label in lists, filters and
detail pages, ``get_FOO_display()`` works, and a new code needs no migration.
Closed sets are ``TextChoices`` in the app's models.
"""

from collections.abc import Iterable


class CodeLabels:
    """Codes and their (lazy, translated) labels; an unknown code reads as itself."""

    def __init__(self, *pairs: Iterable[tuple[str, object]]):
        self._labels: dict[str, object] = {}
        for more in pairs:
            self.register(more)

    def register(self, pairs: Iterable[tuple[str, object]]) -> None:
        """Add codes with their labels (``[(code, label), …]`` or a ``TextChoices.choices``)."""
        self._labels.update(pairs)

    def label(self, code: str) -> str:
        return str(self._labels.get(code, code))

    def choices(self) -> list[tuple[str, object]]:
        return list(self._labels.items())


#: Reasons the system itself writes into a ledger entry's memo or an event's reason ("timeout",
#: "account closed" …); each app registers the ones it writes.  A reason an operator typed is free
#: text and reads as itself.
REASONS = CodeLabels()

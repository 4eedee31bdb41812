"""Problems found while reading one interchange: collected, not raised, so one error names them all."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from purchasing.documents.shapes import DocumentError, Location, ParsedDocument, Problem

if TYPE_CHECKING:
    from purchasing.documents.x12.tokenizer import Segment

# A garbage file would otherwise give one problem per "segment" for megabytes.
MAX_PROBLEMS = 100


class X12DocumentError(DocumentError):
    """A DocumentError that still knows the interchange's envelope, so the sender gets a 997 saying why.

    ``document`` holds the envelope and the transaction sets with their problems, and no business
    content; it is None when not even the ISA could be read (there is no one to answer).
    """

    def __init__(self, problems: list[Problem], document: ParsedDocument | None) -> None:
        super().__init__(problems, document)


@dataclass(frozen=True)
class _Entry:
    problem: Problem
    set_index: int | None  # the transaction set it belongs to, for the 997's AK2 loop


class ProblemLog:
    def __init__(self, limit: int = MAX_PROBLEMS) -> None:
        self._entries: list[_Entry] = []
        self._limit = limit
        self._stopped = False

    def add(
        self,
        message: str,
        *,
        segment: str = "",
        position: int | None = None,
        element: int | None = None,
        set_index: int | None = None,
    ) -> None:
        if self._stopped:
            return
        location = Location(segment=segment, position=position, element=element)
        self._entries.append(_Entry(Problem(message, location), set_index))
        if len(self._entries) >= self._limit:
            self.stop(f"Stopped reading after {self._limit} problems.")

    def at(self, segment: Segment, message: str, *, element: int | None = None, set_index: int | None = None) -> None:
        self.add(message, segment=segment.tag, position=segment.position, element=element, set_index=set_index)

    def stop(self, message: str, *, segment: str = "", position: int | None = None) -> None:
        """Record a problem after which nothing more can be read."""
        if not self._stopped:
            self._entries.append(_Entry(Problem(message, Location(segment=segment, position=position)), None))
            self._stopped = True

    @property
    def stopped(self) -> bool:
        return self._stopped

    @property
    def problems(self) -> list[Problem]:
        return [entry.problem for entry in self._entries]

    def of_set(self, set_index: int) -> tuple[Problem, ...]:
        return tuple(entry.problem for entry in self._entries if entry.set_index == set_index)

    def __bool__(self) -> bool:
        return bool(self._entries)

"""The X12 envelope checked as segments stream by: ISA/IEA around GS/GE groups around ST/SE sets.

Counts and control numbers are compared when each trailer arrives, so nothing but the open
group and set is kept. Every segment is passed on with the index of the transaction set that
holds it (None for the envelope's own segments and for strays outside any set).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from purchasing.documents.shapes import TransactionSet
from purchasing.documents.x12.problems import ProblemLog
from purchasing.documents.x12.tokenizer import Segment

ENVELOPE_TAGS = frozenset({"ISA", "GS", "ST", "SE", "GE", "IEA"})
ISA_WIDTHS = (2, 10, 2, 10, 2, 15, 2, 15, 6, 4, 1, 5, 9, 1, 1, 1)
_CONTROL_NUMBER = re.compile(r"[0-9]{1,9}")
_COUNT = re.compile(r"[0-9]{1,10}")
_SET_CONTROL_NUMBER = re.compile(r"[^\s]{4,9}")


@dataclass(frozen=True)
class Interchange:
    sender_qualifier: str
    sender_id: str
    receiver_qualifier: str
    receiver_id: str
    control_number: str
    test_indicator: bool


@dataclass(frozen=True)
class Group:
    functional_id: str  # GS01: SH for 856, PR for 855
    sender_id: str
    receiver_id: str
    control_number: str
    version: str


@dataclass(frozen=True)
class X12TransactionSet(TransactionSet):
    """A transaction set with where it lies, so a 997 can name positions within it (AK302)."""

    position: int = 0  # the ST's position in the interchange
    end_position: int = 0  # the SE's, or of the last segment before the set was cut off


@dataclass(frozen=True)
class SetSpan:
    index: int
    code: str
    control_number: str
    group: Group | None
    position: int
    end_position: int


@dataclass
class _OpenGroup:
    header: Group
    gs: Segment
    sets: int = 0


@dataclass
class _OpenSet:
    index: int
    st: Segment
    group: Group | None
    segments: int = 1  # the ST


class Envelope:
    def __init__(self, problems: ProblemLog) -> None:
        self.interchange: Interchange | None = None
        self.first_group: Group | None = None
        self.sets: list[SetSpan] = []
        self._problems = problems
        self._isa: Segment | None = None
        self._group: _OpenGroup | None = None
        self._set: _OpenSet | None = None
        self._groups = 0
        self._last_position = 0
        self._ended = False
        self._straying = False
        self._isa_problems = False

    @property
    def answerable(self) -> bool:
        """Whether a 997 can go back: the ISA was read and its ids fit in one."""
        interchange = self.interchange
        if interchange is None or self._isa_problems:
            return False
        ids = [interchange.sender_qualifier, interchange.sender_id]
        ids += [interchange.receiver_qualifier, interchange.receiver_id]
        return all(ids)

    def read(self, segments: Iterable[Segment]) -> Iterator[tuple[int | None, Segment]]:
        """Each segment with the index (from 1) of the transaction set holding it, ST and SE included."""
        for segment in segments:
            if self._problems.stopped:
                break
            if self._ended:
                self._problems.stop(
                    "Nothing may follow the IEA segment.", segment=segment.tag, position=segment.position
                )
                break
            self._last_position = segment.position
            yield self._route(segment), segment
        self._finish()

    def _route(self, segment: Segment) -> int | None:
        self._straying = self._straying and segment.tag not in ENVELOPE_TAGS
        match segment.tag:
            case "ISA":
                self._on_isa(segment)
            case "GS":
                self._on_gs(segment)
            case "ST":
                self._on_st(segment)
            case "SE":
                return self._on_se(segment)
            case "GE":
                self._on_ge(segment)
            case "IEA":
                self._on_iea(segment)
            case _:
                return self._on_body(segment)
        return self._set.index if self._set else None

    def _on_isa(self, isa: Segment) -> None:
        if self._isa is not None:
            self._problems.stop(
                "Send one interchange per file: this is a second ISA.", segment="ISA", position=isa.position
            )
            return
        self._isa = isa
        for number, width in enumerate(ISA_WIDTHS, start=1):
            if len(isa.element(number)) != width:
                self._isa_problems = True
                self._interchange_problem(
                    isa, f"ISA{number:02d} must be {width} characters wide, not {len(isa.element(number))}.", number
                )
        if not _CONTROL_NUMBER.fullmatch(isa.element(13)):
            self._interchange_problem(isa, "The interchange control number must be 9 digits.", 13)
        if isa.element(15) not in ("P", "T"):
            self._interchange_problem(isa, "The usage indicator must be P (production) or T (test).", 15)
        self.interchange = Interchange(
            sender_qualifier=isa.element(5).strip(),
            sender_id=isa.element(6).strip(),
            receiver_qualifier=isa.element(7).strip(),
            receiver_id=isa.element(8).strip(),
            control_number=isa.element(13).strip(),
            test_indicator=isa.element(15) == "T",
        )

    def _on_gs(self, gs: Segment) -> None:
        self._close_open(gs.position)
        if not _CONTROL_NUMBER.fullmatch(gs.element(6)):
            self._interchange_problem(gs, "The group control number must be 1 to 9 digits.", 6)
        header = Group(gs.element(1), gs.element(2), gs.element(3), gs.element(6), gs.element(8))
        self.first_group = self.first_group or header
        self._group = _OpenGroup(header, gs)
        self._groups += 1

    def _on_st(self, st: Segment) -> None:
        if self._set is not None:
            self._missing_se(self._set, st.position)
        if self._group is None:
            self._interchange_problem(st, "A transaction set must be inside a functional group (GS … GE).")
        else:
            self._group.sets += 1
        self._set = _OpenSet(len(self.sets) + 1, st, self._group.header if self._group else None)
        if not st.element(1):
            self._problems.at(st, "The transaction set identifier is missing.", element=1, set_index=self._set.index)
        if not _SET_CONTROL_NUMBER.fullmatch(st.element(2)):
            message = "The transaction set control number must be 4 to 9 characters."
            self._problems.at(st, message, element=2, set_index=self._set.index)

    def _on_body(self, segment: Segment) -> int | None:
        if self._set is None:
            # One problem per run of strays: a lost ST would otherwise report every segment of its set.
            if not self._straying:
                self._interchange_problem(segment, f"{segment.tag} is outside a transaction set (ST … SE).")
            self._straying = True
            return None
        self._set.segments += 1
        return self._set.index

    def _on_se(self, se: Segment) -> int | None:
        open_set = self._set
        if open_set is None:
            self._interchange_problem(se, "SE without an ST before it.")
            return None
        open_set.segments += 1
        self._check_count(se, open_set.segments, "segments in the transaction set (ST and SE included)", open_set.index)
        if se.element(2) != open_set.st.element(2):
            message = f"SE02 {se.element(2)!r} does not match ST02 {open_set.st.element(2)!r}."
            self._problems.at(se, message, element=2, set_index=open_set.index)
        self._close_set(open_set, se.position)
        return open_set.index

    def _on_ge(self, ge: Segment) -> None:
        if self._set is not None:
            self._missing_se(self._set, ge.position)
        group = self._group
        if group is None:
            self._interchange_problem(ge, "GE without a GS before it.")
            return
        self._check_count(ge, group.sets, "transaction sets in the group")
        if ge.element(2) != group.header.control_number:
            message = f"GE02 {ge.element(2)!r} does not match GS06 {group.header.control_number!r}."
            self._interchange_problem(ge, message, 2)
        self._group = None

    def _on_iea(self, iea: Segment) -> None:
        self._close_open(iea.position)
        self._check_count(iea, self._groups, "functional groups in the interchange")
        isa13 = self._isa.element(13) if self._isa else ""
        if iea.element(2) != isa13:
            self._interchange_problem(iea, f"IEA02 {iea.element(2)!r} does not match ISA13 {isa13!r}.", 2)
        self._ended = True

    def _finish(self) -> None:
        # After a stop the problem log takes no more, but the sets still open are recorded for the 997.
        end = self._last_position + 1
        self._close_open(end)
        if not self._ended:
            self._problems.add("The interchange has no IEA: the file is incomplete.", segment="IEA", position=end)

    def _close_open(self, position: int) -> None:
        """Close what is still open when a GS, IEA or the end of the file arrives at ``position``."""
        if self._set is not None:
            self._missing_se(self._set, position)
        if self._group is not None:
            message = f"The functional group begun by the GS at position {self._group.gs.position} has no GE."
            self._problems.add(message, segment="GE", position=position)
            self._group = None

    def _missing_se(self, open_set: _OpenSet, position: int) -> None:
        message = f"The transaction set begun by the ST at position {open_set.st.position} has no SE."
        self._problems.add(message, segment="SE", position=position, set_index=open_set.index)
        self._close_set(open_set, position - 1)

    def _close_set(self, open_set: _OpenSet, end_position: int) -> None:
        st = open_set.st
        self.sets.append(
            SetSpan(open_set.index, st.element(1), st.element(2), open_set.group, st.position, end_position)
        )
        self._set = None

    def _check_count(self, trailer: Segment, actual: int, what: str, set_index: int | None = None) -> None:
        stated = trailer.element(1)
        if not (_COUNT.fullmatch(stated) and int(stated) == actual):
            message = f"{trailer.tag}01 says {stated!r}; the number of {what} is {actual}."
            self._problems.at(trailer, message, element=1, set_index=set_index)

    def _interchange_problem(self, segment: Segment, message: str, element: int | None = None) -> None:
        self._problems.at(segment, message, element=element)

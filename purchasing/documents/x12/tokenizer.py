"""X12 segments, streamed from a binary file: the delimiters come from the ISA header.

The ISA is fixed width, but partners' translators sometimes trim its padding, so its delimiters
are found by counting: the element separator is its 4th character, the component separator
(ISA16) follows the 16th element separator and the segment terminator follows ISA16. The file
is read in chunks and segments are yielded one at a time, so memory stays bounded by the chunk
and the longest segment whatever the size of the interchange.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from purchasing.documents.x12.problems import ProblemLog

CHUNK_SIZE = 64 * 1024
# X12 segments are a few hundred characters at most; anything longer is a missing terminator.
MAX_SEGMENT_LENGTH = 16 * 1024
ISA_ELEMENTS = 16
# Enough for an ISA whose padding a translator has doubled; a real one is 106 characters.
MAX_HEADER_LENGTH = 512
_TAG = re.compile(r"[A-Z][A-Z0-9]{1,2}")
# CR/LF after a terminator is layout, not data; it may also precede a newline terminator.
_LEADING_LAYOUT = " \t\r\n"
_TRAILING_LAYOUT = "\r\n"


@dataclass(frozen=True, slots=True)
class Delimiters:
    element: str
    component: str
    segment: str
    repetition: str = ""  # empty: none (X12 4010 has "U" in ISA11)


@dataclass(frozen=True, slots=True)
class Segment:
    elements: tuple[str, ...]  # elements[0] is the tag, so elements[1] is e.g. BSN01
    position: int  # 1-based position in the interchange (the ISA is 1)

    @property
    def tag(self) -> str:
        return self.elements[0]

    def element(self, number: int) -> str:
        """Element ``number`` (1-based), "" when the segment stops before it."""
        return self.elements[number] if 0 < number < len(self.elements) else ""


def tokenize(stream: BinaryIO, problems: ProblemLog, *, chunk_size: int = CHUNK_SIZE) -> Iterator[Segment]:
    """Every segment of the interchange in ``stream``, the ISA first.

    What cannot be read (no ISA, bad delimiters, bytes that are not UTF-8, a missing terminator)
    is recorded in ``problems`` and ends the stream.
    """
    reader = _Reader(stream, problems, chunk_size)
    header = reader.header()
    if header is None:
        return
    isa, delimiters, rest = header
    yield isa
    yield from reader.segments(rest, delimiters)


class _Reader:
    def __init__(self, stream: BinaryIO, problems: ProblemLog, chunk_size: int) -> None:
        self._stream = stream
        self._problems = problems
        self._chunk_size = chunk_size
        # utf-8-sig drops a byte order mark at the start only, and keeps split characters across chunks.
        self._decoder = codecs.getincrementaldecoder("utf-8-sig")()
        self._offset = 0
        self._position = 0
        self._bad_byte: int | None = None
        self._failed = False

    def read(self) -> str | None:
        """The next chunk of text; None at the end, and after bytes that are not UTF-8 (recorded)."""
        if self._bad_byte is not None:
            message = f"The file is not UTF-8 text (a bad byte near byte {self._bad_byte})."
            self._problems.stop(message, position=self._position + 1)
            self._failed = True
            return None
        data = self._stream.read(self._chunk_size)
        try:
            text = self._decoder.decode(data, final=not data)
        except UnicodeDecodeError as error:
            # error.object is what the decoder held from the last chunk plus this one (less a BOM), so
            # it ends where ``data`` does. The text before the bad byte is still read, so that the
            # problem names the segment holding it.
            self._bad_byte = self._offset + len(data) - len(error.object) + error.start
            return error.object[: error.start].decode("utf-8")
        self._offset += len(data)
        return text if data else None

    def header(self) -> tuple[Segment, Delimiters, str] | None:
        text = ""
        # Looking no further than MAX_HEADER_LENGTH whatever the chunks, so they never change the outcome.
        while (found := _isa16_index(text[:MAX_HEADER_LENGTH])) is None:
            if not "ISA".startswith(text[:3]):
                self._problems.stop("An X12 interchange starts with an ISA segment.", segment="ISA", position=1)
                return None
            chunk = self.read() if len(text) < MAX_HEADER_LENGTH else None
            if chunk is None:
                self._header_missing(text)
                return None
            text = (text + chunk).lstrip()
        delimiters = self._delimiters(text, found)
        if delimiters is None:
            return None
        self._position = 1
        return Segment(tuple(text[: found + 1].split(text[3])), 1), delimiters, text[found + 2 :]

    def _header_missing(self, text: str) -> None:
        if self._failed:
            return
        if not text:
            self._problems.stop("The file is empty.")
        else:
            self._problems.stop(
                "The ISA segment is incomplete: it needs 16 elements and a segment terminator.",
                segment="ISA",
                position=1,
            )

    def _delimiters(self, text: str, isa16: int) -> Delimiters | None:
        isa11 = text[:isa16].split(text[3])[11]
        delimiters = Delimiters(
            element=text[3],
            component=text[isa16],
            segment=text[isa16 + 1],
            repetition=isa11 if len(isa11) == 1 and not (isa11.isalnum() or isa11.isspace()) else "",
        )
        if not _usable(delimiters):
            self._problems.stop(
                "The ISA's delimiters must be distinct punctuation "
                f"(element {delimiters.element!r}, component {delimiters.component!r}, "
                f"segment {delimiters.segment!r}).",
                segment="ISA",
                position=1,
            )
            return None
        return delimiters

    def segments(self, pending: str, delimiters: Delimiters) -> Iterator[Segment]:
        while True:
            *complete, pending = pending.split(delimiters.segment)
            for raw in complete:
                if (segment := self._segment(raw, delimiters)) is not None:
                    yield segment
            if len(pending) > MAX_SEGMENT_LENGTH:
                self._problems.stop(
                    f"No segment terminator {delimiters.segment!r} in {MAX_SEGMENT_LENGTH:,} characters.",
                    position=self._position + 1,
                )
                return
            chunk = self.read()
            if chunk is None:
                break
            pending += chunk
        if pending.strip() and not self._failed:
            self._problems.stop(
                f"The file ends inside a segment (no terminator {delimiters.segment!r} after it).",
                position=self._position + 1,
            )

    def _segment(self, raw: str, delimiters: Delimiters) -> Segment | None:
        text = raw.lstrip(_LEADING_LAYOUT).rstrip(_TRAILING_LAYOUT)
        if not text:
            return None
        self._position += 1
        segment = Segment(tuple(text.split(delimiters.element)), self._position)
        if not _TAG.fullmatch(segment.tag):
            self._problems.add(f"“{segment.tag[:20]}” is not a segment tag.", position=self._position)
            return None
        return segment


def _isa16_index(text: str) -> int | None:
    """Where ISA16 is, once ``text`` holds the ISA through its terminator; None until then."""
    if len(text) < 4 or not text.startswith("ISA"):
        return None
    separator = index = 3
    for _ in range(ISA_ELEMENTS - 1):
        index = text.find(text[separator], index + 1)
        if index < 0:
            return None
    return index + 1 if len(text) >= index + 3 else None


def _usable(delimiters: Delimiters) -> bool:
    inline = [delimiters.element, delimiters.component, *filter(None, [delimiters.repetition])]
    # A newline may end segments; a letter, digit or space would be read as data.
    if any(c.isalnum() or c.isspace() for c in inline):
        return False
    if delimiters.segment.isalnum() or delimiters.segment in " \t":
        return False
    every = [*inline, delimiters.segment]
    return len(set(every)) == len(every)

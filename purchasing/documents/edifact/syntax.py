"""EDIFACT syntax: an interchange's bytes into segments and back, the only place that uses pydifact.

We split the stream into segments ourselves, in chunks, honouring the release character and the
terminator the UNA defines, and hand pydifact one segment at a time to split into elements and
components: pydifact's own parser reads the whole message into one string, and a 100 MB ship
notice must parse in bounded memory.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from pydifact.control.characters import Characters
from pydifact.exceptions import EDISyntaxError
from pydifact.parser import Parser
from pydifact.segments import SegmentFactory
from pydifact.serializer import Serializer
from pydifact.tokenizer import Tokenizer

from purchasing.documents.shapes import DocumentError, Location, Problem

CHUNK_SIZE = 64 * 1024
# The longest segment we accept. An FTX holds at most 5 x 512 characters; without a limit a file
# with no terminator would be read whole into memory.
MAX_SEGMENT_BYTES = 64 * 1024

_BOM = b"\xef\xbb\xbf"
_TAG = re.compile(r"[A-Z][A-Z0-9]{2}")
# A lone surrogate never comes out of a strict decoder: pydifact needs some release character,
# and this one cannot occur in the text when the UNA says there is none.
_NO_RELEASE = "\udfff"
# UNB 0001 -> the codec of the segments after it. UNOA and UNOB are subsets of ASCII, and partners
# who declare them while sending UTF-8 are common, so they are read as UTF-8 (a superset).
_CODECS = {
    "UNOA": "utf-8",
    "UNOB": "utf-8",
    "UNOC": "latin-1",
    "UNOD": "iso8859-2",
    "UNOE": "iso8859-5",
    "UNOF": "iso8859-7",
    "UNOG": "iso8859-3",
    "UNOH": "iso8859-4",
    "UNOI": "iso8859-6",
    "UNOJ": "iso8859-8",
    "UNOK": "iso8859-9",
    "UNOW": "utf-8",
    "UNOY": "utf-8",
}


@dataclass(frozen=True, slots=True)
class Segment:
    """One segment: its tag, its elements (each a tuple of components) and its 1-based position in
    the interchange (UNB is 1; the UNA service string advice is not a segment and is not counted)."""

    tag: str
    elements: tuple[tuple[str, ...], ...] = ()
    position: int = 0

    def value(self, element: int, component: int = 1) -> str:
        """A component by the standard's 1-based numbering; "" when the segment does not have it."""
        if not 0 < element <= len(self.elements):
            return ""
        components = self.elements[element - 1]
        return components[component - 1] if 0 < component <= len(components) else ""

    def components(self, element: int) -> tuple[str, ...]:
        return self.elements[element - 1] if 0 < element <= len(self.elements) else ()

    def location(self, element: int | None = None) -> Location:
        return Location(segment=self.tag, position=self.position, element=element)


@dataclass(frozen=True)
class Separators:
    """The service characters of a UNA (or the standard's defaults). ``release`` None: not used."""

    component: str = ":"
    data: str = "+"
    decimal: str = "."
    release: str | None = "?"
    reserved: str = " "
    terminator: str = "'"

    @classmethod
    def from_una(cls, advice: bytes) -> Separators:
        """The six characters after "UNA"; ISO 9735 puts a space in the release position when unused."""
        if len(advice) != 6 or not advice.isascii():
            raise _problem("the service string advice needs six ASCII characters", "UNA", 0)
        text = advice.decode("ascii")
        release = None if text[3] == " " else text[3]
        separators = cls(text[0], text[1], text[2], release, text[4], text[5])
        separators.check()
        return separators

    def check(self) -> None:
        used = [self.component, self.data, self.decimal, self.terminator] + ([self.release] if self.release else [])
        if len(set(used)) != len(used) or any(c.isalnum() or c in " \r" for c in used):
            raise _problem("the separators must be distinct and not letters, digits or spaces", "UNA", 0)
        if self.decimal not in ".,":
            raise _problem("the decimal mark must be a point or a comma", "UNA", 0)

    def characters(self) -> Characters:
        release = self.release or _NO_RELEASE
        return Characters.from_str(
            f"{self.component}{self.data}{self.decimal}{release}{self.reserved}{self.terminator}"
        )


def segments(stream: BinaryIO) -> Iterator[Segment]:
    """Every segment of the interchange in ``stream``, read in chunks.

    Skips a UTF-8 byte order mark and CR/LF between segments; reads the UNA when there is one. Raises
    DocumentError (segment tag and position) for text it cannot split: a missing terminator, bytes
    not valid in the UNB's character set, a segment pydifact cannot read.
    """
    splitter = _Splitter(stream)
    separators = splitter.service_string_advice()
    characters = separators.characters()
    codec = "utf-8"
    for position, raw in enumerate(splitter.raw_segments(separators), start=1):
        segment = _segment(raw, position, codec, characters)
        if position == 1 and segment.tag == "UNB":
            codec = _codec(segment)
        yield segment


def render(segments: Iterable[Segment]) -> str:
    """The interchange text of ``segments`` with the standard's UNA, escaping what needs the release character."""
    characters = Separators().characters()
    factory = SegmentFactory()
    built = [factory.create_segment(s.tag, *_pydifact_elements(s), validate=False) for s in segments]
    return Serializer(characters).serialize(built, with_una_header=True)


class _Splitter:
    """Cuts a byte stream at unreleased terminators, holding at most one chunk and one segment."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._buffer = bytearray()
        self._start = 0

    def service_string_advice(self) -> Separators:
        self._fill(len(_BOM))
        if self._buffer.startswith(_BOM):
            del self._buffer[: len(_BOM)]
        self._skip_white_space()
        self._fill(9)
        if not self._buffer.startswith(b"UNA"):
            return Separators()
        advice = bytes(self._buffer[3:9])
        del self._buffer[:9]
        return Separators.from_una(advice)

    def raw_segments(self, separators: Separators) -> Iterator[bytes]:
        terminator = separators.terminator.encode("ascii")
        release = separators.release.encode("ascii") if separators.release else None
        search_from = 0
        position = 1
        while True:
            end = self._buffer.find(terminator, search_from)
            if end == -1:
                # Everything from the segment's start on was searched; _read_more drops what came before it.
                search_from = len(self._buffer) - self._start
                if not self._read_more(position):
                    break
                continue
            if release and _released(self._buffer, self._start, end, release[0]):
                search_from = end + 1
                continue
            raw = _trim(bytes(self._buffer[self._start : end]), terminator)
            self._start = search_from = end + 1
            if raw:
                yield raw
                position += 1
        self._check_rest(position)

    def _read_more(self, position: int) -> bool:
        del self._buffer[: self._start]
        self._start = 0
        if len(self._buffer) > MAX_SEGMENT_BYTES:
            raise _problem(
                f"segment longer than {MAX_SEGMENT_BYTES} bytes (no terminator?)", _guess_tag(self._buffer), position
            )
        chunk = self._stream.read(CHUNK_SIZE)
        self._buffer += chunk
        return bool(chunk)

    def _skip_white_space(self) -> None:
        # Some partners' files start with a line break, before the UNA.
        self._fill(1)
        while self._buffer and self._buffer[0] in b" \t\r\n":
            self._buffer = bytearray(self._buffer.lstrip(b" \t\r\n"))
            self._fill(1)

    def _fill(self, size: int) -> None:
        while len(self._buffer) < size and (chunk := self._stream.read(CHUNK_SIZE)):
            self._buffer += chunk

    def _check_rest(self, position: int) -> None:
        rest = bytes(self._buffer[self._start :]).strip()
        if rest:
            raise _problem("the segment has no terminator: the file is cut short", _guess_tag(rest), position)


def _released(buffer: bytearray, start: int, end: int, release: int) -> bool:
    """Whether the terminator at ``end`` is preceded by an odd number of release characters."""
    count = 0
    while end - count - 1 >= start and buffer[end - count - 1] == release:
        count += 1
    return count % 2 == 1


def _trim(raw: bytes, terminator: bytes) -> bytes:
    # Line breaks between segments are common; a tag never starts with white space.
    raw = raw.lstrip(b" \t\r\n")
    return raw.rstrip(b"\r") if terminator == b"\n" else raw


def _segment(raw: bytes, position: int, codec: str, characters: Characters) -> Segment:
    try:
        text = raw.decode(codec)
    except UnicodeDecodeError:
        raise _problem(f"bytes that are not valid {codec}", _guess_tag(raw), position) from None
    try:
        tokens = Tokenizer().get_tokens(text + characters.segment_terminator, characters)
        elements = next(Parser(characters=characters).convert_tokens_to_raw_segments(tokens))
    except (EDISyntaxError, StopIteration) as error:
        raise _problem(f"unreadable segment ({error})", _guess_tag(raw), position) from None
    tag, *rest = elements
    if not isinstance(tag, str) or not _TAG.fullmatch(tag):
        raise _problem("a segment must start with a three-character tag", _guess_tag(raw), position)
    return Segment(tag, tuple((e,) if isinstance(e, str) else tuple(e) for e in rest), position)


def _codec(unb: Segment) -> str:
    syntax = unb.value(1)
    codec = _CODECS.get(syntax)
    if codec is None:
        raise DocumentError(Problem(f"character set “{syntax}” is not supported", unb.location(1)))
    return codec


def _pydifact_elements(segment: Segment) -> list[str | list[str]]:
    elements: list[str | list[str]] = [c[0] if len(c) == 1 else list(c) for c in segment.elements]
    while elements and elements[-1] in ("", []):
        elements.pop()
    return elements


def _guess_tag(raw: bytes | bytearray) -> str:
    head = bytes(raw[:3]).decode("ascii", errors="replace")
    return head if _TAG.fullmatch(head) else ""


def _problem(message: str, tag: str, position: int) -> DocumentError:
    return DocumentError(Problem(message, Location(segment=tag, position=position or None)))

"""What every file sent to us must pass before anything of it is stored (docs/security.md#file-uploads).

Shared by the compliance documents (PDF, PNG, JPEG) and the B2B documents (CSV, Excel, X12, EDIFACT) on
every channel: the portal, the API, the drop folders. A file is judged by its bytes, never by the name or
type the sender gave it; those must only agree with the bytes. The sender's file name is display text:
it never becomes a path (compliance files get random names, B2B documents live in the database).

Refusals are ``ValidationError``s keyed ``file`` with a message that names the problem; ``FileTooLarge``
marks the one that entry points answer with 413.
"""

from __future__ import annotations

import functools
import io
import re
import zipfile
from collections.abc import Callable
from typing import Any, BinaryIO

from django.core.exceptions import ValidationError
from django.core.files.uploadhandler import FileUploadHandler, SkipFile
from django.http import HttpRequest, HttpResponse
from django.template.defaultfilters import filesizeformat
from django.views.decorators.csrf import csrf_exempt, csrf_protect

CSV, XLSX, X12, EDIFACT = "csv", "xlsx", "x12", "edifact"
DOCUMENT_FORMATS = (CSV, XLSX, X12, EDIFACT)
FORMAT_NAMES = {CSV: "CSV", XLSX: "Excel .xlsx", X12: "X12", EDIFACT: "EDIFACT"}
# CSV files are read as UTF-8 (a byte-order mark is allowed): what Excel's "CSV UTF-8" writes.
CSV_ENCODING = "utf-8-sig"

# What a name's extension promises. Names with any other extension (VANs use .dat, .int, numbers...)
# are judged by their content alone, which must still be one of the four formats.
FORMATS_OF_EXTENSION = {
    ".csv": (CSV,),
    ".xlsx": (XLSX,),
    ".x12": (X12,),
    ".edi": (X12, EDIFACT),
    ".edifact": (EDIFACT,),
    ".txt": (CSV, X12, EDIFACT),
}
# Extensions that say the file is something we never read, whatever it holds.
FOREIGN_EXTENSIONS = frozenset(
    {
        *(".htm", ".html", ".xhtml", ".svg", ".xml", ".js", ".pdf"),
        *(".png", ".jpg", ".jpeg", ".gif", ".webp"),
        *(".zip", ".gz", ".7z", ".rar"),
        *(".exe", ".dll", ".bat", ".cmd", ".sh", ".ps1", ".jar"),
        *(".xls", ".xlsm", ".xlsb", ".doc", ".docx", ".ppt", ".pptx"),
    }
)
# A content type the API may be sent a raw body with, and the formats it promises.
FORMATS_OF_MEDIA_TYPE = {
    "text/csv": (CSV,),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": (XLSX,),
    "application/edi-x12": (X12,),
    "application/edifact": (EDIFACT,),
}

# Recognisable file types, by their first bytes, to name what a disguised file really is.
SIGNATURES = (
    (b"%PDF-", "a PDF document"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF87a", "a GIF image"),
    (b"GIF89a", "a GIF image"),
    (b"PK\x03\x04", "a ZIP archive or an Excel workbook"),
    (b"PK\x05\x06", "a ZIP archive or an Excel workbook"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an old Office file (.xls, .doc)"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!\x1a\x07", "a RAR archive"),
    (b"\x7fELF", "a program (ELF)"),
    (b"\xcf\xfa\xed\xfe", "a program (Mach-O)"),
    (b"\xca\xfe\xba\xbe", "a program (Java class or Mach-O)"),
    (b"\xff\xfe", "UTF-16 text"),
    (b"\xfe\xff", "UTF-16 text"),
)
_MARKUP = re.compile(rb"<(!doctype|html|head|body|script|iframe|svg|\?xml|!--|[a-z]+[\s>/])", re.IGNORECASE)
# Text has no control characters but tab and line ends (and form feed, which some exports write).
_BINARY_BYTES = re.compile(rb"[\x00-\x08\x0b\x0e-\x1f\x7f]")

# A workbook's parts; more entries than this is no spreadsheet of ours.
XLSX_REQUIRED_PARTS = ("[Content_Types].xml", "xl/workbook.xml")
XLSX_MAX_ENTRIES = 10_000

_UNSAFE_IN_FILENAME = re.compile(r"[^\w.\- ()]+")
MAX_FILENAME_CHARS = 150


class FileTooLarge(ValidationError):
    """The file is over its size limit: entry points answer 413."""


def refuse(message: str) -> ValidationError:
    return ValidationError({"file": message})


def too_large_message(limit: int, noun: str = "file") -> str:
    return f"The {noun} is larger than the limit of {filesizeformat(limit)}."


def check_size(size: int, limit: int) -> None:
    if size > limit:
        raise FileTooLarge({"file": too_large_message(limit)})


def safe_filename(name: str, fallback: str) -> str:
    """The last part of a sent file name, with anything but letters, digits and ``.-_ ()`` replaced, at most
    150 characters (its end kept, for the extension): display text, never a path. ``fallback`` if nothing is left.
    """
    base = re.split(r"[\\/]", name)[-1]
    cleaned = _UNSAFE_IN_FILENAME.sub("_", base).strip(" ._")
    return cleaned[-MAX_FILENAME_CHARS:].lstrip(" ._") or fallback


def extension_of(name: str) -> str:
    base = re.split(r"[\\/]", name)[-1].lower()
    return base[base.rindex(".") :] if "." in base.strip(".") else ""


def sniff(head: bytes) -> str | None:
    """What a file is, if its first bytes say it is something we can name; None for anything else (text)."""
    for magic, label in SIGNATURES:
        if head.startswith(magic):
            return label
    if head.startswith(b"MZ") and b"\x00" in head[:128]:
        return "a Windows program"
    if _MARKUP.match(head.removeprefix(b"\xef\xbb\xbf").lstrip()):
        return "an HTML or XML document"
    return None


# --- compliance documents --------------------------------------------------------------------


def check_signature(head: bytes, *, magic: bytes, label: str) -> None:
    """The content starts as ``label`` (e.g. "PDF") files do; a refusal names what it is instead."""
    if head.startswith(magic):
        return
    actual = sniff(head)
    found = f"it is {actual}" if actual else "its content does not match its name"
    raise refuse(f"The file is not a {label}: {found}. Upload the real document, not a renamed file.")


# --- B2B documents ---------------------------------------------------------------------------


def document_format(content: bytes, *, filename: str = "", media_type: str = "", max_unpacked: int) -> str:
    """The format of a B2B document (csv, xlsx, x12 or edifact), judged by its content and checked against
    its name's extension and the media type it was sent with; ValidationError naming the problem otherwise."""
    promised = _promised_formats(filename, media_type)
    head = content[:512]
    if not content.strip():
        raise refuse("The file is empty.")
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")) and XLSX in promised:
        problem = xlsx_problem(io.BytesIO(content), max_unpacked=max_unpacked)
        if problem:
            raise refuse(problem)
        return XLSX
    actual = sniff(head)
    if actual is not None:
        raise refuse(f"The file is {actual}, not {_expected(promised)}.")
    fmt = text_format(head)
    if fmt not in promised:
        raise refuse(_mismatch(fmt, promised, head))
    binary = _BINARY_BYTES.search(content) if fmt == CSV else re.search(rb"\x00", content)
    if binary is not None:
        raise refuse(
            f"The file holds binary data (byte {binary.group()!r} at offset {binary.start():,}), "
            f"not {FORMAT_NAMES[fmt]} text."
        )
    if fmt == CSV:
        _check_csv_encoding(content)
    return fmt


def text_format(head: bytes) -> str:
    """X12 starts with ISA, EDIFACT with UNA or UNB (after a BOM and white space); other text is CSV."""
    start = head.removeprefix(b"\xef\xbb\xbf").lstrip()
    if start.startswith(b"ISA"):
        return X12
    if start.startswith((b"UNA", b"UNB")):
        return EDIFACT
    return CSV


def _promised_formats(filename: str, media_type: str) -> tuple[str, ...]:
    extension = extension_of(filename)
    if extension in FOREIGN_EXTENSIONS:
        raise refuse(f"A {extension} file is not a document we read: send CSV, Excel .xlsx, X12 or EDIFACT.")
    by_name = FORMATS_OF_EXTENSION.get(extension, DOCUMENT_FORMATS)
    by_type = FORMATS_OF_MEDIA_TYPE.get(media_type, DOCUMENT_FORMATS)
    both = tuple(fmt for fmt in by_name if fmt in by_type)
    if not both:
        raise refuse(f"The file's name ({extension}) and its content type ({media_type}) say different formats.")
    return both


def _expected(formats: tuple[str, ...]) -> str:
    names = [FORMAT_NAMES[fmt] for fmt in formats]
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
    return f"{'an' if listed[0] in 'AEIOX' else 'a'} {listed} document"


def _mismatch(fmt: str, promised: tuple[str, ...], head: bytes) -> str:
    starts = head.removeprefix(b"\xef\xbb\xbf").lstrip()[:12].decode("ascii", "replace")
    if promised == (X12,):
        return f"An X12 file starts with ISA; this one starts with {starts!r}."
    if promised == (EDIFACT,):
        return f"An EDIFACT file starts with UNA or UNB; this one starts with {starts!r}."
    if promised == (X12, EDIFACT):
        return f"An EDI file starts with ISA (X12) or UNA/UNB (EDIFACT); this one starts with {starts!r}."
    if promised == (XLSX,):
        return "The file is not an Excel .xlsx workbook: its content is text. Upload a CSV file as .csv."
    return f"The file holds {FORMAT_NAMES[fmt]} content, not {_expected(promised)}: name it for what it is."


def _check_csv_encoding(content: bytes) -> None:
    try:
        content.decode(CSV_ENCODING)
    except UnicodeDecodeError as error:
        raise refuse(
            f"The file is not UTF-8 text (byte {content[error.start : error.start + 1]!r} at offset "
            f"{error.start:,}). Save it as CSV UTF-8."
        ) from None


def xlsx_problem(stream: BinaryIO, *, max_unpacked: int) -> str | None:
    """Why a stream is no workbook we may open (not a ZIP, no workbook parts, macros, or more than
    ``max_unpacked`` bytes unpacked: a zip bomb); None if it may be. Leaves the stream at its start.

    The sizes checked are the ones the archive declares; that bounds the work, because zipfile stops
    inflating an entry at its declared size (and fails its CRC if the data goes on).
    """
    try:
        with zipfile.ZipFile(stream) as archive:
            entries = archive.infolist()
    # Not only BadZipFile: a damaged central directory can fail in other ways.
    except Exception:
        return "The file is not an Excel .xlsx workbook. Upload a CSV file as CSV; save .xls files as .xlsx."
    finally:
        stream.seek(0)
    names = {entry.filename for entry in entries}
    if len(entries) > XLSX_MAX_ENTRIES or sum(entry.file_size for entry in entries) > max_unpacked:
        return "The workbook is too large when unpacked: split it into several files."
    if not all(part in names for part in XLSX_REQUIRED_PARTS):
        return "The file is a ZIP archive, not an Excel .xlsx workbook we can read."
    if "xl/vbaProject.bin" in names:
        return "The workbook holds macros: save it as a plain Excel workbook (.xlsx)."
    return None


# --- the size limit on a form's file, before it is stored ---------------------------------------


class SizeLimitedUpload(FileUploadHandler):
    """Refuses a file over the limit before storing more of it than the limit.

    When the request's length already tells (a body longer than the limit and the form's few fields),
    before the file's first byte; otherwise as it streams past the limit. The file is skipped, not the
    request, so the fields and the CSRF token still arrive and the form can say why. Insert it first in
    ``request.upload_handlers`` before anything reads the body.
    """

    # The upload form's other fields and the multipart headers take far less than this.
    FORM_OVERHEAD = 16 * 1024

    def __init__(self, request: HttpRequest | None, max_bytes: int) -> None:
        super().__init__(request)
        self.max_bytes = max_bytes
        self.body_length = 0
        self.refused = False

    def handle_raw_input(
        self, input_data: Any, META: dict[str, Any], content_length: int, boundary: str, encoding: str | None = None
    ) -> None:
        self.body_length = content_length

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        if (self.content_length or 0) > self.max_bytes or self.body_length > self.max_bytes + self.FORM_OVERHEAD:
            self._refuse()

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        if start + len(raw_data) > self.max_bytes:
            self._refuse()
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None  # the next handler (memory or temporary file) keeps the file

    def _refuse(self) -> None:
        self.refused = True
        raise SkipFile


# A view given the request, its upload limit (None unless a POST) and the route's arguments.
type UploadView = Callable[..., HttpResponse]


def size_limited_upload(max_bytes: Callable[[], int]) -> Callable[[UploadView], Callable[..., HttpResponse]]:
    """Decorate a form view that takes a file: it gets ``upload_limit`` (None unless a POST) after the request.

    The limit must be in place before anything reads the body, and Django's CSRF check reads it (it looks
    for the token among the fields). So the view is exempt from the middleware's check and protected by
    ``csrf_protect`` inside, after the handler is inserted: the request is checked all the same.
    """

    def decorate(view: UploadView) -> Callable[..., HttpResponse]:
        protected = csrf_protect(view)

        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            upload_limit = None
            if request.method == "POST":
                upload_limit = SizeLimitedUpload(request, max_bytes())
                request.upload_handlers.insert(0, upload_limit)
            return protected(request, upload_limit, *args, **kwargs)

        return csrf_exempt(wrapper)

    return decorate

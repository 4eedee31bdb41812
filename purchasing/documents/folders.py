"""Drop folders for suppliers that send files through a VAN or SFTP rather than the portal or API.

Layout under ``SUPPLYLINE_EDI_ROOT``, one folder per supplier code::

    <code>/inbound/     the supplier (or the VAN) drops files here
    <code>/processed/   accepted and duplicate files move here
    <code>/rejected/    rejected files move here (their errors are in the portal and the reply); files refused
                    before being stored (too large, not a document: config/uploads.py) move here as
                    ``<time>-refused-<name>``, with the reason in the log
    <code>/outbound/    what we send: 997, CONTRL, 850, ORDERS

A file is taken once it has not changed for a few seconds (a writer may still be copying it);
names ending in ``.tmp`` or ``.part`` or starting with a dot are never taken. A crash between
applying a file and moving it only makes the next scan read it again: an EDI interchange is then
a duplicate by its control number, and any file already stored with the same content and name
is moved without being applied twice.
"""

from __future__ import annotations

import hashlib
import logging
import time
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone

from config import uploads
from purchasing.documents.intake import document_receive, stored_filename
from purchasing.documents.paths import supplier_folder
from purchasing.models import InboundDocument
from suppliers.models import Supplier

logger = logging.getLogger("supplyline.documents")
SETTLE_S = 2.0
SKIPPED_SUFFIXES = (".tmp", ".part")
MAX_FILES_PER_SCAN = 200


def scan_inbound_folders(*, now: float | None = None) -> int:
    """Take every settled file of every supplier's inbound folder; returns how many were taken."""
    root = Path(settings.SUPPLYLINE_EDI_ROOT)
    if not root.is_dir():
        return 0
    taken = 0
    suppliers = {s.code: s for s in Supplier.objects.filter(status__in=Supplier.ACCESS_STATUSES)}
    for folder in sorted(root.iterdir()):
        supplier = suppliers.get(folder.name)
        inbound = folder / "inbound"
        if supplier is None or not inbound.is_dir():
            continue
        for path in _settled_files(inbound, now or time.time())[: MAX_FILES_PER_SCAN - taken]:
            _take(supplier, path)
            taken += 1
    return taken


def _settled_files(folder: Path, now: float) -> list[Path]:
    files = [
        path
        for path in folder.iterdir()
        if path.is_file()
        and not path.name.startswith(".")
        and not path.name.endswith(SKIPPED_SUFFIXES)
        and now - path.stat().st_mtime >= SETTLE_S
    ]
    return sorted(files, key=lambda p: (p.stat().st_mtime, p.name))


def _take(supplier: Supplier, path: Path) -> None:
    try:
        # Sized before it is read: a dropped file can be any size.
        uploads.check_size(path.stat().st_size, int(settings.SUPPLYLINE_DOCUMENT_MAX_BYTES))
        content = path.read_bytes()
        document = _already_stored(supplier, path.name, content) or document_receive(
            supplier=supplier, content=content, filename=path.name, source=InboundDocument.Source.FOLDER, by=None
        )
    except ValidationError as error:
        # No document at all (too large, or not a document): nothing is stored, the file is set aside.
        _move(supplier, path, "rejected", "refused")
        logger.warning("inbound file refused", extra={"file": path.name, "reason": "; ".join(error.messages)})
        return
    accepted = document.status != InboundDocument.Status.REJECTED
    _move(supplier, path, "processed" if accepted else "rejected", str(document.pk))
    logger.info("inbound file taken", extra={"document_id": document.pk, "file": path.name, "status": document.status})


def _move(supplier: Supplier, path: Path, folder: str, label: str) -> None:
    target = supplier_folder(supplier, folder)
    target.mkdir(parents=True, exist_ok=True)
    stamp = timezone.now().strftime("%Y%m%dT%H%M%S")
    # The name kept short and plain, so the prefix cannot push it past the file system's limit.
    path.replace(target / f"{stamp}-{label}-{uploads.safe_filename(path.name, 'file')}")


def _already_stored(supplier: Supplier, name: str, content: bytes) -> InboundDocument | None:
    """The same file taken by a scan that crashed before moving it."""
    digest = hashlib.sha256(content).hexdigest()
    return (
        InboundDocument.objects.filter(
            supplier=supplier, source=InboundDocument.Source.FOLDER, filename=stored_filename(name), sha256=digest
        )
        .order_by("-id")
        .first()
    )

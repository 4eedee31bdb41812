"""Drop folders for suppliers that send files through a VAN or SFTP rather than the portal or API.

Layout under ``SUPPLYLINE_EDI_ROOT``, one folder per supplier code::

    <code>/inbound/     the supplier (or the VAN) drops files here
    <code>/processed/   accepted and duplicate files move here
    <code>/rejected/    rejected files move here (their errors are in the portal and the reply)
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
from django.utils import timezone

from purchasing.documents.intake import document_receive
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
    content = path.read_bytes()
    document = _already_stored(supplier, path.name, content)
    if document is None:
        document = document_receive(
            supplier=supplier, content=content, filename=path.name, source=InboundDocument.Source.FOLDER, by=None
        )
    accepted = document.status != InboundDocument.Status.REJECTED
    target = supplier_folder(supplier, "processed" if accepted else "rejected")
    target.mkdir(parents=True, exist_ok=True)
    stamp = timezone.now().strftime("%Y%m%dT%H%M%S")
    path.replace(target / f"{stamp}-{document.pk}-{path.name}")
    logger.info("inbound file taken", extra={"document_id": document.pk, "file": path.name, "status": document.status})


def _already_stored(supplier: Supplier, name: str, content: bytes) -> InboundDocument | None:
    """The same file taken by a scan that crashed before moving it."""
    digest = hashlib.sha256(content).hexdigest()
    return (
        InboundDocument.objects.filter(
            supplier=supplier, source=InboundDocument.Source.FOLDER, filename=name[:255], sha256=digest
        )
        .order_by("-id")
        .first()
    )

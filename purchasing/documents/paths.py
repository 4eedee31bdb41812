"""Where a supplier's drop folders are (see folders.py for the layout), and writing into them safely."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings

from suppliers.models import Supplier


def supplier_folder(supplier: Supplier, name: str) -> Path:
    """``inbound``, ``processed``, ``rejected`` or ``outbound`` under the supplier's folder."""
    return Path(settings.SUPPLYLINE_EDI_ROOT) / supplier.code / name


def has_drop_folder(supplier: Supplier) -> bool:
    return supplier_folder(supplier, "inbound").is_dir()


def write_outbound(supplier: Supplier, filename: str, content: bytes) -> Path:
    """Put a document in the supplier's outbound folder atomically: written aside, then renamed,
    so the VAN or SFTP client never picks up half a file. ``filename`` is ours (a PO number in it comes
    from the ERP), and must be one plain name: anything else raises ValueError rather than leave the folder."""
    if Path(filename).name != filename or filename.startswith(".") or "\x00" in filename:
        raise ValueError(f"Not a plain file name: {filename!r}.")
    folder = supplier_folder(supplier, "outbound")
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f".{filename}.part"
    partial.write_bytes(content)
    final = folder / filename
    partial.replace(final)
    return final

"""The documents page's upload form and the expected-receipts page's filters."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, cast

from django import forms
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db.models import QuerySet
from django.template.defaultfilters import filesizeformat

from config.uploads import sniff, too_large_message
from purchasing.documents.intake import detect_format
from purchasing.models import DocumentFormat, DocumentKind, Site
from suppliers.models import Supplier

DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
MONTH = forms.DateInput(attrs={"type": "month"}, format="%Y-%m")
# Formats whose files do not say what they hold.
SPREADSHEETS = (DocumentFormat.CSV, DocumentFormat.XLSX)
DEFAULT_DAYS = 14
MAX_DAYS = 62


class DocumentUploadForm(forms.Form):
    """A supplier's file. The file field comes last, so a refused file leaves the fields before it read."""

    supplier = forms.ModelChoiceField(
        queryset=Supplier.objects.none(), to_field_name="code", empty_label="Choose a supplier", label="Supplier"
    )
    kind = forms.ChoiceField(
        choices=[
            ("", "Let the file say (X12 or EDIFACT)"),
            (DocumentKind.SHIP_NOTICE, "Shipment notices"),
            (DocumentKind.ACKNOWLEDGEMENT, "Acknowledgements"),
        ],
        required=False,
        label="What the file holds",
        help_text="Needed for CSV and Excel files; an EDI file says it itself.",
    )
    # Not required here, so that a file refused for its size gets that message rather than "required".
    file = forms.FileField(required=False, label="File")

    def __init__(
        self, *args: Any, suppliers: QuerySet[Supplier], max_bytes: int, too_large: bool, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.max_bytes = max_bytes
        self.too_large = too_large
        choices = list(suppliers)
        self.only_supplier = choices[0] if len(choices) == 1 else None
        if self.only_supplier is not None:
            del self.fields["supplier"]
        else:
            cast(forms.ModelChoiceField[Supplier], self.fields["supplier"]).queryset = suppliers
        self.fields["file"].help_text = f"CSV, Excel (.xlsx), X12 or EDIFACT; at most {filesizeformat(max_bytes)}."

    def clean_file(self) -> UploadedFile[bytes]:
        upload: UploadedFile[bytes] | None = self.cleaned_data.get("file")
        if self.too_large or (upload is not None and (upload.size or 0) > self.max_bytes):
            raise ValidationError(f"{too_large_message(self.max_bytes)} Split it into several files.")
        if upload is None:
            raise ValidationError("Choose a file to upload.")
        if not upload.size:
            raise ValidationError("The file is empty.")
        return upload

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        upload = data.get("file")
        if upload is not None and not data.get("kind") and _format_of(upload) in SPREADSHEETS:
            self.add_error("kind", "Say what the file holds: shipment notices or acknowledgements.")
        return data

    @property
    def chosen_supplier(self) -> Supplier:
        """The supplier the file is for (call after is_valid)."""
        return self.only_supplier or self.cleaned_data["supplier"]


def _format_of(upload: UploadedFile[bytes]) -> DocumentFormat | None:
    """What the file looks like; None when it is something else disguised (HTML, a PDF...), which the upload
    then refuses naming it, rather than asking what the file holds."""
    head = upload.read(512)
    upload.seek(0)
    fmt = detect_format(head)
    if fmt == DocumentFormat.CSV and sniff(head) is not None:
        return None
    return fmt


class ExpectedReceiptsForm(forms.Form):
    """Which site and days the expected-receipts page shows; empty fields take their defaults."""

    VIEWS = (("list", "List"), ("calendar", "Calendar"))

    site = forms.ModelChoiceField(
        queryset=Site.objects.order_by("code"), to_field_name="code", required=False, empty_label="All sites"
    )
    start = forms.DateField(label="From", widget=DATE)
    end = forms.DateField(label="To", widget=DATE)
    month = forms.DateField(label="Month", widget=MONTH, input_formats=["%Y-%m"])
    view = forms.ChoiceField(choices=VIEWS, widget=forms.HiddenInput)

    def __init__(self, query: Mapping[str, str], *, today: dt.date) -> None:
        defaults = {
            "start": today.isoformat(),
            "end": (today + dt.timedelta(days=DEFAULT_DAYS)).isoformat(),
            "month": today.strftime("%Y-%m"),
        }
        view = "calendar" if query.get("view") == "calendar" else "list"
        # Only the fields of the view shown: a stray month on the list (or dates on the calendar) is no error.
        used = ("site", "month") if view == "calendar" else ("site", "start", "end")
        given = {name: query[name] for name in used if query.get(name)} | {"view": view}
        if "start" in given and "end" not in given:
            # A start alone shows the default span from it.
            given["end"] = _days_after(given["start"], DEFAULT_DAYS) or given["start"]
        super().__init__(defaults | given)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        start, end = data.get("start"), data.get("end")
        if start and end:
            if end < start:
                self.add_error("end", "The end date is before the start date.")
            elif (end - start).days + 1 > MAX_DAYS:
                days = (end - start).days + 1
                self.add_error("end", f"Choose at most {MAX_DAYS} days; this range has {days}.")
        return data


def _days_after(text: str, days: int) -> str | None:
    try:
        return (dt.date.fromisoformat(text) + dt.timedelta(days=days)).isoformat()
    except ValueError:
        return None

"""The compliance pages' forms: input parsing only; the rules live in ``suppliers.compliance``."""

from typing import Any, cast

from django import forms
from django.db.models import QuerySet

from config.uploads import too_large_message
from suppliers.compliance import max_upload_bytes
from suppliers.models import ComplianceDocumentType, Supplier


class ComplianceUploadForm(forms.Form):
    supplier = forms.ModelChoiceField(queryset=Supplier.objects.none(), label="Supplier", empty_label=None)
    document_type = forms.ModelChoiceField(
        queryset=ComplianceDocumentType.objects.filter(is_active=True), label="Document type"
    )
    file = forms.FileField(
        label="File",
        help_text="A PDF, PNG or JPEG file.",
        widget=forms.ClearableFileInput(attrs={"accept": ".pdf,.png,.jpg,.jpeg,application/pdf,image/png,image/jpeg"}),
    )
    valid_from = forms.DateField(label="Valid from", widget=forms.DateInput(attrs={"type": "date"}))
    valid_to = forms.DateField(label="Valid to", widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: Any, suppliers: QuerySet[Supplier], too_large: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.too_large = too_large
        # The size-limited upload handler skipped the file: clean_file says why rather than "required".
        self.fields["file"].required = not too_large
        field = cast(forms.ModelChoiceField[Supplier], self.fields["supplier"])
        field.queryset = suppliers
        if len(suppliers) == 1:
            field.initial = suppliers[0]
            field.widget = forms.HiddenInput()
        self.fields["file"].help_text = f"A PDF, PNG or JPEG file of at most {max_upload_bytes() / 2**20:g} MB."

    def clean_file(self) -> Any:
        if self.too_large:
            raise forms.ValidationError(too_large_message(max_upload_bytes()))
        return self.cleaned_data["file"]


class ComplianceReviewForm(forms.Form):
    decision = forms.ChoiceField(choices=[("approve", "Approve"), ("reject", "Reject")], label="Decision")
    reason = forms.CharField(
        label="Reason",
        required=False,
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Required to reject: the supplier sees it.",
    )

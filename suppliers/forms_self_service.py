"""The self-service pages' forms: input parsing only; the rules live in ``suppliers.self_service``."""

from typing import Any

from django import forms

from suppliers.models import ShipFromAddress, Supplier, SupplierContact
from suppliers.self_service import MAX_LEAD_TIME_DAYS, MAX_NOTE

DATE = forms.DateInput(attrs={"type": "date"})


class SupplierProfileForm(forms.ModelForm[Supplier]):
    class Meta:
        model = Supplier
        fields = list(Supplier.SUPPLIER_EDITABLE_FIELDS)
        widgets = {"website": forms.URLInput(attrs={"placeholder": "https://"})}

    def changes(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in self.Meta.fields}

    def _post_clean(self) -> None:
        """The service validates and saves: the form does not touch the instance."""


class ContactForm(forms.ModelForm[SupplierContact]):
    class Meta:
        model = SupplierContact
        fields = ["name", "function", "email", "phone", "is_primary"]

    def values(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in self.Meta.fields}

    def _post_clean(self) -> None:
        """The service validates and saves (it also demotes the function's previous primary)."""


class ShipFromAddressForm(forms.ModelForm[ShipFromAddress]):
    class Meta:
        model = ShipFromAddress
        fields = ["label", "line1", "line2", "postal_code", "city", "region", "country", "is_default"]

    def values(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in self.Meta.fields}

    def _post_clean(self) -> None:
        """The service validates and saves (one default per supplier)."""


class TermsProposalForm(forms.Form):
    lead_time_days = forms.IntegerField(
        label="New lead time (days)",
        required=False,
        min_value=0,
        max_value=MAX_LEAD_TIME_DAYS,
        help_text="Empty: the lead time stays.",
    )
    minimum_order_quantity = forms.DecimalField(
        label="New minimum order quantity",
        required=False,
        max_digits=14,
        decimal_places=3,
        min_value=0,
        help_text="In the item's unit of measure. Empty: the minimum stays.",
    )
    effective_date = forms.DateField(label="Effective from", widget=DATE)
    note = forms.CharField(
        label="Note for the buyer",
        required=False,
        max_length=MAX_NOTE,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class TermsDecisionForm(forms.Form):
    decision = forms.ChoiceField(choices=[("approve", "Approve"), ("reject", "Reject")], label="Decision")
    reason = forms.CharField(
        label="Reason",
        required=False,
        max_length=MAX_NOTE,
        help_text="Required to reject: the supplier sees it.",
    )

from typing import Any, cast

from allauth.account.forms import SignupForm
from allauth.core import context
from django import forms
from django.db.models import QuerySet

from suppliers.adapters import invitation_in_session
from suppliers.models import ApiScope, NotificationKind, Supplier, SupplierMembership


class NotificationSettingsForm(forms.Form):
    wanted = forms.MultipleChoiceField(
        choices=NotificationKind.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Send me an e-mail when",
    )


class ApiKeyCreateForm(forms.Form):
    supplier = forms.ModelChoiceField(queryset=Supplier.objects.none(), label="Supplier", empty_label=None)
    name = forms.CharField(
        max_length=100, label="Name", help_text="What will use the key, e.g. “ERP connector” or “WMS (test)”."
    )
    scopes = forms.MultipleChoiceField(
        choices=ApiScope.choices,
        widget=forms.CheckboxSelectMultiple,
        label="What the key may do",
    )
    expires_in_days = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=3650,
        label="Expires after (days)",
        help_text="Leave empty for a key that does not expire; you can revoke any key at any time.",
    )

    def __init__(self, *args: Any, suppliers: QuerySet[Supplier], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = cast(forms.ModelChoiceField[Supplier], self.fields["supplier"])
        field.queryset = suppliers
        if len(suppliers) == 1:
            # One supplier (nearly everyone): nothing to choose.
            field.initial = suppliers[0]
            field.widget = forms.HiddenInput()


class InvitationSignupForm(SignupForm):  # type: ignore[misc]  # allauth ships no type hints
    """allauth's sign-up, reached only through an invitation: the address is the invited one."""

    first_name = forms.CharField(max_length=150, label="First name")
    last_name = forms.CharField(max_length=150, label="Last name")
    field_order = ["email", "first_name", "last_name", "password1", "password2"]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["email"].widget.attrs["readonly"] = True
        self.order_fields(self.field_order)

    def clean_email(self) -> str:
        email: str = super().clean_email()
        invitation = invitation_in_session(context.request)
        if invitation is None or email.lower() != invitation.email:
            expected = invitation.email if invitation else "the address your invitation was sent to"
            raise forms.ValidationError(f"Sign up with {expected}: your invitation is for that address.")
        return email


class InvitationForm(forms.Form):
    email = forms.EmailField(label="E-mail address", max_length=254)
    role = forms.ChoiceField(
        choices=SupplierMembership.Role.choices,
        label="Role",
        help_text="Admins run the team, API keys and compliance documents; the order desk acknowledges and ships; "
        "shipping sends shipment notices; viewers only look.",
    )


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=SupplierMembership.Role.choices, label="Role")


class ActiveSupplierForm(forms.Form):
    supplier = forms.ModelChoiceField(
        queryset=Supplier.objects.none(),
        label="Act for",
        empty_label=None,
        error_messages={"invalid_choice": "You are not an active member of that supplier."},
    )

    def __init__(self, *args: Any, suppliers: QuerySet[Supplier], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField[Supplier], self.fields["supplier"]).queryset = suppliers

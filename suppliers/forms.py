from typing import Any, cast

from django import forms
from django.db.models import QuerySet

from suppliers.models import ApiScope, NotificationKind, Supplier


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

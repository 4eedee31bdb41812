from django import forms

from suppliers.models import NotificationKind


class NotificationSettingsForm(forms.Form):
    wanted = forms.MultipleChoiceField(
        choices=NotificationKind.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label="Send me an e-mail when",
    )

"""The forms a buyer works a case with: assign, comment, snooze, resolve, contact the supplier, and bulk."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone

from exceptions.actions import MESSAGE_MAX
from exceptions.models import MANUAL_RESOLUTION_CODES
from exceptions.selectors import assignable_buyers, person_name
from exceptions.services import NOTE_MAX
from suppliers.models import User

# A buyer can put a case aside for this long at most (the service refuses longer, too).
SNOOZE_MAX_DAYS = 90


class BuyerChoiceField(forms.ModelChoiceField[User]):
    def label_from_instance(self, obj: User) -> str:
        return person_name(obj)


def _note(label: str, *, required: bool = False) -> forms.CharField:
    return forms.CharField(
        label=label, required=required, max_length=NOTE_MAX, widget=forms.Textarea(attrs={"rows": 2})
    )


class AssignForm(forms.Form):
    assignee = BuyerChoiceField(
        label="Assign to", queryset=assignable_buyers(), required=False, empty_label="Nobody (unassign)"
    )
    note = _note("Note for the assignee")


class CommentForm(forms.Form):
    note = _note("Comment", required=True)


class SnoozeForm(forms.Form):
    until = forms.DateField(
        label="Snooze until",
        widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
        input_formats=["%Y-%m-%d"],
    )
    note = _note("Reason to snooze (optional)")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        today = timezone.localdate()
        self.fields["until"].widget.attrs.update(
            min=(today + dt.timedelta(days=1)).isoformat(), max=(today + dt.timedelta(days=SNOOZE_MAX_DAYS)).isoformat()
        )

    def clean_until(self) -> dt.date:
        until: dt.date = self.cleaned_data["until"]
        today = timezone.localdate()
        if until <= today:
            raise ValidationError("Choose a date after today.")
        if until > today + dt.timedelta(days=SNOOZE_MAX_DAYS):
            raise ValidationError(f"Snooze for {SNOOZE_MAX_DAYS} days at most.")
        return until

    def until_time(self) -> dt.datetime:
        """The case comes back at the start of the chosen day, in the portal's time zone."""
        return timezone.make_aware(dt.datetime.combine(self.cleaned_data["until"], dt.time.min))


class ResolveForm(forms.Form):
    code = forms.ChoiceField(label="Resolution", choices=[("", "Choose a resolution"), *MANUAL_RESOLUTION_CODES])
    note = _note("Resolution note")


class ContactForm(forms.Form):
    message = forms.CharField(
        label="Message to the supplier", max_length=MESSAGE_MAX, widget=forms.Textarea(attrs={"rows": 4})
    )

    def clean_message(self) -> str:
        message: str = self.cleaned_data["message"].strip()
        if not message:
            raise ValidationError("Write a message.")
        return message


class CaseIdsField(forms.Field):
    """The ids of the cases ticked in the list (the service says which do not exist or are resolved)."""

    widget = forms.MultipleHiddenInput

    def to_python(self, value: Any) -> list[int]:
        try:
            return sorted({int(pk) for pk in value or []})
        except (TypeError, ValueError):
            raise ValidationError("Select cases from the list.") from None


class BulkForm(forms.Form):
    """Assign or resolve the selected cases, all or none."""

    ACTIONS = [("assign", "Assign"), ("resolve", "Resolve")]

    cases = CaseIdsField(label="Cases", error_messages={"required": "Select at least one case."})
    action = forms.ChoiceField(choices=ACTIONS)
    assignee = BuyerChoiceField(
        label="Assign selected to", queryset=assignable_buyers(), required=False, empty_label="Nobody (unassign)"
    )
    code = forms.ChoiceField(
        label="Resolve selected as", required=False, choices=[("", "Choose a resolution"), *MANUAL_RESOLUTION_CODES]
    )
    note = forms.CharField(label="Resolution note", required=False, max_length=NOTE_MAX)
    # The list's filters, to show the same list again afterwards.
    query = forms.CharField(required=False, widget=forms.HiddenInput)

    def clean(self) -> dict[str, Any] | None:
        cleaned = super().clean()
        if self.cleaned_data.get("action") == "resolve" and not self.cleaned_data.get("code"):
            self.add_error("code", "Choose a resolution for the selected cases.")
        return cleaned


def apply_service_error(form: forms.Form, error: ValidationError) -> None:
    """Put a service's errors on the fields they name, the others above the form."""
    messages = error.message_dict if hasattr(error, "error_dict") else {None: error.messages}
    for field, texts in messages.items():
        for text in texts:
            form.add_error(field if field in form.fields else None, text)

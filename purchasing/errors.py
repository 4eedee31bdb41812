from django.core.exceptions import ValidationError


class StaleVersion(ValidationError):
    """The PO changed since the caller read it: nothing was applied."""

    def __init__(self, current_version: int) -> None:
        self.current_version = current_version
        super().__init__(
            "This purchase order was changed by someone else since you opened it. "
            "Nothing was saved: reload it to see the changes, then answer again.",
            code="stale_version",
        )

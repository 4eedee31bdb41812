from decimal import Decimal, InvalidOperation

from django import template

register = template.Library()


@register.filter
def plain(value: object) -> str:
    """A quantity or price as people write it: 60, 12.5 (not 60.000 or 1.2E+1)."""
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return str(value)
    return format(number.normalize(), "f")

"""GS1 identifiers for shipping: the SSCC-18 of a pallet or carton, its check digit and company prefix.

An SSCC is an extension digit, the supplier's GS1 company prefix (7 to 11 digits), a serial
reference filling the rest of 17 digits, and a mod-10 check digit. On a label it is carried by
application identifier (00), so people and scanners often hand it over as "(00) 0 0614141 123456789 0".
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError

SSCC_LENGTH = 18
SSCC_AI = "00"
COMPANY_PREFIX_LENGTHS = range(7, 12)

_DIGITS = re.compile(r"[0-9]+")
_NOT_A_DIGIT = re.compile(r"[^0-9]")


def check_digit(digits: str) -> int:
    """The GS1 mod-10 check digit of ``digits``: weights 3, 1, 3, ... from the rightmost digit."""
    # str.isdigit() would let "²" or Arabic-Indic digits through; GS1 keys are ASCII.
    if not _DIGITS.fullmatch(digits):
        raise ValueError(f"GS1 check digits are computed over ASCII digits, not {digits!r}.")
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(digits)))
    return -total % 10


def validate_sscc(value: str) -> str:
    """The 18 digits of an SSCC given with or without "(00)" / "00" and spaces; ValidationError when wrong."""
    digits = _strip_application_identifier("".join(value.split()))
    if bad := _NOT_A_DIGIT.search(digits):
        raise ValidationError(
            "SSCC must be 18 digits; “%(char)s” is not a digit.", code="sscc_not_digits", params={"char": bad[0]}
        )
    if len(digits) != SSCC_LENGTH:
        raise ValidationError(
            "SSCC must be 18 digits, not %(count)d.", code="sscc_length", params={"count": len(digits)}
        )
    expected, actual = check_digit(digits[:-1]), int(digits[-1])
    if expected != actual:
        raise ValidationError(
            "SSCC check digit should be %(expected)d, not %(actual)d.",
            code="sscc_check_digit",
            params={"expected": expected, "actual": actual},
        )
    return digits


def _strip_application_identifier(compact: str) -> str:
    if compact.startswith(f"({SSCC_AI})"):
        return compact[len(SSCC_AI) + 2 :]
    # A bare SSCC may itself start with "00" (extension digit 0, a US prefix): strip only at 20 digits.
    if len(compact) == SSCC_LENGTH + len(SSCC_AI) and compact.startswith(SSCC_AI):
        return compact[len(SSCC_AI) :]
    return compact


def validate_company_prefix(value: str) -> None:
    """A GS1 company prefix is 7 to 11 digits; usable as a Django field validator."""
    if not _DIGITS.fullmatch(value) or len(value) not in COMPANY_PREFIX_LENGTHS:
        raise ValidationError(
            "A GS1 company prefix is 7 to 11 digits, not “%(value)s”.",
            code="gs1_company_prefix",
            params={"value": value},
        )


def make_sscc(*, company_prefix: str, serial: int, extension_digit: int = 0) -> str:
    """The SSCC of serial reference ``serial`` under ``company_prefix``, check digit included."""
    validate_company_prefix(company_prefix)
    if extension_digit not in range(10):
        raise ValidationError(
            "The SSCC extension digit is 0 to 9, not %(digit)d.",
            code="sscc_extension",
            params={"digit": extension_digit},
        )
    width = SSCC_LENGTH - 2 - len(company_prefix)
    if serial not in range(10**width):
        raise ValidationError(
            "Serial reference %(serial)d does not fit the %(width)d digits left by a %(length)d-digit company prefix.",
            code="sscc_serial",
            params={"serial": serial, "width": width, "length": len(company_prefix)},
        )
    data = f"{extension_digit}{company_prefix}{serial:0{width}d}"
    return f"{data}{check_digit(data)}"


def sscc_human_readable(sscc: str, *, company_prefix_length: int | None = None) -> str:
    """The SSCC as printed under its barcode: "(00) 0 0614141 123456789 0".

    The company prefix cannot be told apart from the serial reference without knowing its length,
    so without ``company_prefix_length`` the two are printed as one group.
    """
    digits = validate_sscc(sscc)
    middle = digits[1:-1]
    if company_prefix_length is not None:
        if company_prefix_length not in COMPANY_PREFIX_LENGTHS:
            raise ValueError(f"A GS1 company prefix is 7 to 11 digits long, not {company_prefix_length}.")
        middle = f"{middle[:company_prefix_length]} {middle[company_prefix_length:]}"
    return f"({SSCC_AI}) {digits[0]} {middle} {digits[-1]}"

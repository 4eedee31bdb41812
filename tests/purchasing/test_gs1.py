"""GS1 SSCC-18 check digits, validation and making: plain values, no database."""

import pytest
from django import forms
from django.core.exceptions import ValidationError
from hypothesis import given
from hypothesis import strategies as st

from purchasing.gs1 import check_digit, make_sscc, sscc_human_readable, validate_company_prefix, validate_sscc

# GS1's own example SSCC, printed as "(00) 0 0614141 123456789 0".
EXAMPLE_SSCC = "006141411234567890"

company_prefixes = st.text(alphabet="0123456789", min_size=7, max_size=11)


@st.composite
def ssccs(draw: st.DrawFn) -> str:
    prefix = draw(company_prefixes)
    serial = draw(st.integers(min_value=0, max_value=10 ** (16 - len(prefix)) - 1))
    return make_sscc(company_prefix=prefix, serial=serial, extension_digit=draw(st.integers(0, 9)))


def message(error: pytest.ExceptionInfo[ValidationError]) -> str:
    return " ".join(error.value.messages)


@pytest.mark.parametrize(
    ("digits", "expected"),
    [
        ("00614141123456789", 0),  # the SSCC above
        ("10614141123456789", 7),
        ("400638133393", 1),  # EAN-13 4006381333931
        ("03600029145", 2),  # UPC-A 036000291452
    ],
)
def test_check_digit_weighs_digits_3_1_3_from_the_right(digits, expected):
    assert check_digit(digits) == expected


@pytest.mark.parametrize("digits", ["", "12a4", "١٢٣", "1 2"])
def test_check_digit_refuses_anything_but_ascii_digits(digits):
    with pytest.raises(ValueError, match="ASCII digits"):
        check_digit(digits)


@pytest.mark.parametrize(
    "value",
    [
        EXAMPLE_SSCC,
        "(00) 0 0614141 123456789 0",
        "(00)006141411234567890",
        "00 006141411234567890",
        "00006141411234567890",
        "  0 0614141 123456789 0\n",
    ],
)
def test_an_sscc_is_accepted_with_or_without_application_identifier_and_spaces(value):
    assert validate_sscc(value) == EXAMPLE_SSCC


def test_an_sscc_that_itself_starts_with_00_keeps_those_digits():
    assert validate_sscc(EXAMPLE_SSCC).startswith("00")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("00614141123456789", "SSCC must be 18 digits, not 17."),
        ("0061414112345678901", "SSCC must be 18 digits, not 19."),
        ("", "SSCC must be 18 digits, not 0."),
        ("(00)", "SSCC must be 18 digits, not 0."),
        ("00614141123456789O", "SSCC must be 18 digits; “O” is not a digit."),
        ("0061-4141-1234-5678-90", "SSCC must be 18 digits; “-” is not a digit."),
        ("106141411234567893", "SSCC check digit should be 7, not 3."),
    ],
)
def test_a_wrong_sscc_is_refused_saying_what_is_wrong(value, expected):
    with pytest.raises(ValidationError) as error:
        validate_sscc(value)
    assert message(error) == expected


def test_make_sscc_puts_extension_prefix_padded_serial_and_check_digit_together():
    assert make_sscc(company_prefix="0614141", serial=123456789) == EXAMPLE_SSCC
    assert make_sscc(company_prefix="0614141", serial=123456789, extension_digit=1) == "106141411234567897"
    assert make_sscc(company_prefix="03456789012", serial=5, extension_digit=9) == "903456789012000053"


@pytest.mark.parametrize(
    ("prefix", "serial", "expected"),
    [
        ("0614141", 10**9, "Serial reference 1000000000 does not fit the 9 digits left by a 7-digit company prefix."),
        ("03456789012", 100000, "Serial reference 100000 does not fit the 5 digits left by a 11-digit company prefix."),
        ("0614141", -1, "Serial reference -1 does not fit the 9 digits left by a 7-digit company prefix."),
    ],
)
def test_make_sscc_refuses_a_serial_that_does_not_fit(prefix, serial, expected):
    with pytest.raises(ValidationError) as error:
        make_sscc(company_prefix=prefix, serial=serial)
    assert message(error) == expected


def test_make_sscc_refuses_a_bad_prefix_or_extension_digit():
    with pytest.raises(ValidationError, match="company prefix is 7 to 11 digits"):
        make_sscc(company_prefix="061414", serial=1)
    with pytest.raises(ValidationError) as error:
        make_sscc(company_prefix="0614141", serial=1, extension_digit=10)
    assert message(error) == "The SSCC extension digit is 0 to 9, not 10."


@pytest.mark.parametrize("prefix", ["0614141", "12345678", "123456789", "1234567890", "03456789012"])
def test_a_company_prefix_of_7_to_11_digits_is_valid(prefix):
    validate_company_prefix(prefix)


FULLWIDTH_PREFIX = "\uff10\uff16\uff11\uff14\uff11\uff14\uff11"  # what str.isdigit() would let through


@pytest.mark.parametrize("prefix", ["", "061414", "034567890123", "06141A1", " 0614141", FULLWIDTH_PREFIX])
def test_any_other_company_prefix_is_refused_naming_it(prefix):
    with pytest.raises(ValidationError) as error:
        validate_company_prefix(prefix)
    assert message(error) == f"A GS1 company prefix is 7 to 11 digits, not “{prefix}”."


def test_validate_company_prefix_works_as_a_form_field_validator():
    field = forms.CharField(validators=[validate_company_prefix])
    assert field.clean("0614141") == "0614141"
    with pytest.raises(ValidationError, match="7 to 11 digits"):
        field.clean("123")


def test_the_human_readable_sscc_groups_prefix_and_serial_when_the_prefix_length_is_known():
    assert sscc_human_readable(EXAMPLE_SSCC, company_prefix_length=7) == "(00) 0 0614141 123456789 0"
    assert sscc_human_readable(EXAMPLE_SSCC, company_prefix_length=9) == "(00) 0 061414112 3456789 0"
    assert sscc_human_readable("(00)" + EXAMPLE_SSCC) == "(00) 0 0614141123456789 0"


@given(
    prefix=company_prefixes,
    extension_digit=st.integers(0, 9),
    data=st.data(),
)
def test_make_sscc_output_always_validates_and_keeps_its_parts(prefix, extension_digit, data):
    serial = data.draw(st.integers(min_value=0, max_value=10 ** (16 - len(prefix)) - 1))
    sscc = make_sscc(company_prefix=prefix, serial=serial, extension_digit=extension_digit)
    assert validate_sscc(sscc) == sscc
    assert sscc[:1] == str(extension_digit)
    assert sscc[1 : 1 + len(prefix)] == prefix
    assert int(sscc[1 + len(prefix) : 17]) == serial


@given(sscc=ssccs(), position=st.integers(0, 17), shift=st.integers(1, 9))
def test_changing_any_single_digit_of_a_valid_sscc_is_detected(sscc, position, shift):
    wrong_digit = str((int(sscc[position]) + shift) % 10)
    changed = sscc[:position] + wrong_digit + sscc[position + 1 :]
    with pytest.raises(ValidationError) as error:
        validate_sscc(changed)
    assert error.value.code == "sscc_check_digit"

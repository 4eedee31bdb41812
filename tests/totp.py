"""The codes an authenticator app would show, computed with allauth's own RFC 6238 helper."""

import time

from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, generate_totp_secret, hotp_value

PERIOD = 30


def totp_code(secret: str) -> str:
    """The current code; near the end of a period, waits for the next so the code is still valid on arrival."""
    if PERIOD - time.time() % PERIOD < 2:
        time.sleep(PERIOD - time.time() % PERIOD + 0.1)
    code: str = format_hotp_value(hotp_value(secret, int(time.time()) // PERIOD))
    return code


def enrol(user) -> tuple[str, list[str]]:
    """Give a user an authenticator app and recovery codes, as activation does; returns the secret and the codes."""
    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    codes = RecoveryCodes.activate(user).generate_codes()
    assert Authenticator.objects.filter(user=user).count() == 2
    return secret, codes

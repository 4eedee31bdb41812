import datetime as dt

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.models import Session
from django.utils import timezone

from suppliers.tasks import clear_expired_sessions

pytestmark = pytest.mark.django_db


def test_the_nightly_sweep_deletes_only_expired_sessions():
    live, dead = SessionStore(), SessionStore()
    live.create()
    dead.create()
    Session.objects.filter(session_key=dead.session_key).update(expire_date=timezone.now() - dt.timedelta(days=1))
    assert clear_expired_sessions() == 1
    assert list(Session.objects.values_list("session_key", flat=True)) == [live.session_key]

"""Who acts: a signed-in user, an anonymous one, or the operator running a command on the server."""

from __future__ import annotations

from typing import Final

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser


class Operator:
    """The person running a command on the server (ask, evaluate, demo): reads every set."""

    is_authenticated = False
    is_superuser = True

    def __repr__(self) -> str:
        return "OPERATOR"


OPERATOR: Final = Operator()

Actor = AbstractBaseUser | AnonymousUser | Operator | None

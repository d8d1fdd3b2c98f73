"""Case references a customer can read out on the phone.

"C" plus eight Crockford base32 characters (no I, L, O or U, so nothing is misheard
or misread). With an ``Idempotency-Key`` the reference is derived from the caller and
the key, so a retried intake lands on the same workflow ID; without one it is random.
"""

from __future__ import annotations

import hashlib
import re
import secrets

from contracts.case import case_workflow_id

CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
PREFIX = "C"
LENGTH = 8
CASE_ID_PATTERN = re.compile(rf"^{PREFIX}[{CROCKFORD}]{{{LENGTH}}}$")
# Crockford's decoding rules: read I and L as 1, O as 0; hyphens are for humans.
_READ_AS = str.maketrans({"I": "1", "L": "1", "O": "0", "-": None, " ": None})


def _encode(value: int) -> str:
    chars = []
    for _ in range(LENGTH):
        value, digit = divmod(value, 32)
        chars.append(CROCKFORD[digit])
    return PREFIX + "".join(reversed(chars))


def case_id_for_key(user: str, key: str, attempt: int = 0) -> str:
    """The case ID a keyed intake uses.

    ``attempt`` walks a fixed sequence of candidates: when the first belongs to some
    other intake (40 bits do collide across millions of cases), the next one is tried,
    and a retry walks the same sequence to the same case.
    """
    material = f"{user}\x00{key}\x00{attempt}".encode()
    digest = hashlib.sha256(material).digest()
    return _encode(int.from_bytes(digest[:5], "big"))


def random_case_id() -> str:
    """A fresh case ID for an intake without an idempotency key."""
    return _encode(secrets.randbits(5 * LENGTH))


def normalise_case_id(text: str) -> str | None:
    """The canonical case ID for what a caller typed, or None if it cannot be one."""
    candidate = text.strip().upper().translate(_READ_AS)
    return candidate if CASE_ID_PATTERN.match(candidate) else None


def case_id_of_workflow(workflow_id: str) -> str:
    """The case reference inside a case workflow's ID (the inverse of
    ``contracts.case.case_workflow_id``)."""
    return workflow_id.removeprefix(case_workflow_id(""))

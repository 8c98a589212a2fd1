"""The unit tests' own fixtures: argon2id at its cheapest in this process (see ``cheap_password_hashing``)."""
from __future__ import annotations

from collections.abc import Iterator

import pytest


@pytest.fixture(autouse=True)
def cheap_password_hashing(request: pytest.FixtureRequest) -> Iterator[None]:
    """Console users' passwords hashed in this process with argon2id at its lowest cost (one pass over 64 KiB)
    instead of the product's 64 MiB × 3 passes (about 0.1 s each, a third of the console tests' time). Still
    argon2id in a PHC string, verified by the same code; a hash keeps its own parameters, so a console in
    another process verifies it as cheaply. Tests about the real cost (the sign-in's memory, its slots) take
    the marker ``real_password_hashing``."""
    if request.node.get_closest_marker("real_password_hashing"):
        yield
        return
    from argon2 import PasswordHasher

    from hotline.services import users
    real = users._hasher
    users._hasher = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)
    try:
        yield
    finally:
        users._hasher = real

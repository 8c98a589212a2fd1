"""The one Redis address every process uses, built from the settings and the generated secret.

``[redis] url`` empty (the default): the hotline's own Redis, which ``hotline up`` starts bound to 127.0.0.1
on ``[redis] port`` and locked with ``redis_password`` from secrets.toml. A province's own Redis: the URL it
gave, its password in it. Either way the URL holds a password: pass it in an environment variable or a
constructor, never on a command line, and print it only through hotline.domain.redact.
"""
from __future__ import annotations

from urllib.parse import quote

from hotline.config.schema import RedisSettings
from hotline.config.secrets import Secrets

OWN_HOST = "127.0.0.1"


def redis_url(redis: RedisSettings, secrets: Secrets) -> str:
    """The URL every client of the hotline's Redis connects with (the worker, monitor, console, checks, CLI)."""
    return redis.url or own_redis_url(redis.port, secrets.redis_password)


def own_redis_url(port: int, password: str) -> str:
    """The hotline's own Redis: loopback, database 0, the generated password."""
    return f"redis://:{quote(password, safe='')}@{OWN_HOST}:{port}/0"


def is_own(redis: RedisSettings) -> bool:
    """True when the settings name no Redis of the province's: the hotline runs its own."""
    return not redis.url


def limits_storage(redis_url: str) -> str:
    """The limits library's address of the hotline's Redis (``unix://`` is ``redis+unix://`` there): the console's
    sign-in lockout and the public site's rate limits."""
    return "redis+unix://" + redis_url.removeprefix("unix://") if redis_url.startswith("unix://") else redis_url

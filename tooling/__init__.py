"""Not the product: installing and supervising it (``system``) and driving SIPp (``sipp``) for tests,
benchmarks and ``hotline call``."""

"""The ``hotline`` command line: one module per command group, all registered in ``main``."""

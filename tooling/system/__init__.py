"""The hotline's own set-up and runtime plumbing.

Installing what is missing (Debian packages, the Asterisk root, Redis, PostgreSQL),
running Asterisk in its chroot and supervising the hotline's processes. Importing
this package does nothing; every action is a function call.
"""

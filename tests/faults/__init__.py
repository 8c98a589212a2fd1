"""Fault tests: each breaks one part of a running hotline the way a province's IT staff might (a process
killed or frozen, a connection dropped silently, the database or the disk gone) and asserts what the
province would check afterwards: who was answered, what each caller heard, the call rows, the recordings
and the tickets. They run on the integration tests' stacks (fixtures in tests/conftest.py); README's
Reliability table lists each fault with its test."""

"""The hotline's rules, with no database and no protocol: calendar and clock, the transfer directory,
IVR flows, ticket codes, categories and deadlines, report figures, the Vietnamese labels, and the
shared vocabulary. Pure code, tested by fast unit tests."""

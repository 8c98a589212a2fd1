"""Tickets: citizens' requests with their codes, categories, working-hour deadlines and audit trail."""

"""Operations on the hotline's data, each owning its side effects: tickets, users, operators,
transfers, knowledge base, retention, report queries. Used by every process and the command line."""

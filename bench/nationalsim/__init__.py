"""bench/national_sim: the 1022 hotline of all 34 provinces on paper (see cli.py)."""

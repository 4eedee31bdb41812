"""The buyers' exception cases and the rules that raise them: a domain app, not
Python errors (those live in each app's errors.py)."""

"""CSV exports that are safe to open in a spreadsheet program."""


def safe_cell(value: object) -> str:
    """Keep spreadsheet programs from running a cell as a formula (CSV injection); numbers stay numbers."""
    text = str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@") and not _is_number(text) else text


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True

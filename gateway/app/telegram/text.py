"""Splitting long answers under Telegram's limit of 4096 characters per message (counted in
UTF-16 code units, as Telegram does), at the most natural boundary available."""
from __future__ import annotations

TELEGRAM_LIMIT = 4096
SEPARATORS = ("\n\n", "\n", ". ", "؟ ", "? ", "! ", "؛ ", "; ", "، ", ", ", " ")


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _fit(text: str, limit: int) -> int:
    """How many characters of `text` fit in `limit` UTF-16 code units."""
    units = 0
    for i, char in enumerate(text):
        units += 2 if ord(char) > 0xFFFF else 1
        if units > limit:
            return i
    return len(text)


def split_text(text: str, limit: int = TELEGRAM_LIMIT) -> list[str]:
    chunks: list[str] = []
    rest = text.strip()
    while utf16_len(rest) > limit:
        n = _fit(rest, limit)
        window = rest[:n]
        cut = 0
        for sep in SEPARATORS:
            at = window.rfind(sep)
            if at > n // 2:  # never a tiny chunk: a hard cut is better than many fragments
                cut = at + len(sep)
                break
        if cut == 0:
            cut = n
        chunks.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        chunks.append(rest)
    return chunks

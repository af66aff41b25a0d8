"""What the processors ask of a chat engine: translation, in pieces a model handles well."""

from __future__ import annotations

from processors.engines.base import ChatEngine

PIECE_CHARS = 6000


def pieces(text: str, limit: int = PIECE_CHARS) -> list[str]:
    """``text`` cut at paragraph breaks into pieces of at most about ``limit`` characters."""
    result: list[str] = []
    current = ""
    for paragraph in text.split("\n\n"):
        if current and len(current) + len(paragraph) + 2 > limit:
            result.append(current)
            current = ""
        current = f"{current}\n\n{paragraph}" if current else paragraph
    if current:
        result.append(current)
    return result


def translate(engine: ChatEngine, text: str, *, source: str, target: str) -> str:
    """``text`` (Markdown) in ``target``; structure and timestamps kept."""
    if not text.strip():
        return text
    system = (
        f"You translate Markdown from {source or 'the source language'} into {target}. "
        "Keep the Markdown structure, links, numbers and timestamps unchanged. "
        "Answer with the translation only."
    )
    translated = [
        engine.complete(
            [{"role": "system", "content": system}, {"role": "user", "content": piece}]
        ).strip()
        for piece in pieces(text)
    ]
    return "\n\n".join(translated)

"""The dossier: YAML front matter plus a Django template (the shipped
``session/dossier.md``, or ``template`` from JOBCENTER_TEMPLATE_DIRS)."""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path
from typing import Any

from django.conf import settings
from django.template import Context, Engine, TemplateDoesNotExist, TemplateSyntaxError

from processors.base import ProcessorError

DEFAULT_TEMPLATE = "session/dossier.md"
SHIPPED = Path(__file__).resolve().parent / "templates"


def template_dirs() -> list[Path]:
    return [Path(folder) for folder in getattr(settings, "JOBCENTER_TEMPLATE_DIRS", [])]


def find_template(name: str) -> Path | None:
    """The file ``name`` names inside one of JOBCENTER_TEMPLATE_DIRS, never outside them."""
    for folder in template_dirs():
        root = folder.resolve()
        candidate = (root / name).resolve()
        if candidate.is_relative_to(root) and candidate.is_file():
            return candidate
    return None


@functools.cache
def _engine(dirs: tuple[str, ...]) -> Engine:
    # Markdown, not HTML: nothing is escaped. Templates come from the deployment's folders.
    return Engine(dirs=list(dirs), autoescape=False, debug=False)


def render(name: str | None, context: dict[str, Any]) -> str:
    """TEMPLATE_NOT_FOUND / TEMPLATE_INVALID when the chosen template cannot be used."""
    if name is None:
        engine, chosen = _engine((str(SHIPPED),)), DEFAULT_TEMPLATE
    else:
        if find_template(name) is None:
            raise ProcessorError(
                "TEMPLATE_NOT_FOUND",
                f"template {name!r} is not in any of JOBCENTER_TEMPLATE_DIRS",
                {"template": name, "dirs": [str(d) for d in template_dirs()]},
            )
        engine, chosen = _engine(tuple(str(d) for d in template_dirs())), name
    try:
        template = engine.get_template(chosen)
        text = template.render(Context(context, autoescape=False))
    except (TemplateDoesNotExist, TemplateSyntaxError) as exc:
        raise ProcessorError(
            "TEMPLATE_INVALID", f"template {chosen!r} cannot be rendered: {exc}"
        ) from exc
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


_HEADING = re.compile(r"^(#{1,6})(?=\s)", re.MULTILINE)


def demote(markdown: str, levels: int = 2) -> str:
    """Headings of embedded text moved down ``levels`` levels (at most ######), so a page's
    or a PDF's own ``#``/``##`` headings nest under the dossier's sections."""
    return _HEADING.sub(lambda m: "#" * min(len(m.group(1)) + levels, 6), markdown)


def _scalar(value: Any) -> str:
    """A YAML scalar: JSON's string syntax is YAML's double-quoted style."""
    if value is None or value == "":
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    return json.dumps(str(value), ensure_ascii=False)


def front_matter(fields: dict[str, Any]) -> str:
    """``---`` YAML ``---`` from a flat mapping whose values are scalars or lists of them."""
    lines = ["---"]
    for key, value in fields.items():
        if isinstance(value, list | tuple):
            if not value:
                lines.append(f"{key}: []")
            else:
                lines.append(f"{key}:")
                lines.extend(f"  - {_scalar(item)}" for item in value)
        else:
            lines.append(f"{key}: {_scalar(value)}")
    lines.append("---")
    return "\n".join(lines)

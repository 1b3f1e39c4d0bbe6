"""Deterministic rendering: the same figure gives the same bytes in SVG, PNG and PDF.

matplotlib is used through `Figure` objects only (no pyplot, no global state shared between
requests); fonts are the DejaVu fonts matplotlib ships, ids in the SVG come from a fixed salt
and the files carry no creation date or software version. The SVG keeps its text as text
(screen readers and searches find it) and its styling in presentation attributes, not in
`style` attributes, so it can sit inside a page under the strict Content-Security-Policy."""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager

import matplotlib
from matplotlib.figure import Figure

RC = {
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "svg.fonttype": "none",
    "svg.hashsalt": "imr-trial-reports",
    "svg.id": None,
    "pdf.fonttype": 42,
    "path.simplify": False,
    "figure.dpi": 100,
    "savefig.dpi": 100,
}
METADATA = {
    "svg": {"Date": None, "Creator": None},
    "png": {"Software": None},
    "pdf": {"CreationDate": None, "ModDate": None, "Producer": None, "Creator": None},
}
CONTENT_TYPES = {"svg": "image/svg+xml", "png": "image/png", "pdf": "application/pdf"}
FORMATS = tuple(CONTENT_TYPES)


@contextmanager
def settings() -> Iterator[None]:
    with matplotlib.rc_context(RC):
        yield


def new_figure(width: float, height: float) -> Figure:
    with settings():
        return Figure(figsize=(width, height), layout=None)


def save(figure: Figure, fmt: str) -> bytes:
    if fmt not in CONTENT_TYPES:
        raise ValueError(f"Unknown picture format {fmt!r}")
    buffer = io.BytesIO()
    # The PDF writer subsets fonts with fontTools, which logs every glyph at DEBUG level.
    logging.getLogger("fontTools").setLevel(logging.WARNING)
    with settings():
        figure.savefig(buffer, format=fmt, metadata=METADATA[fmt])
    data = buffer.getvalue()
    return clean_svg(data.decode()).encode() if fmt == "svg" else data


_STYLE_ATTRIBUTE = re.compile(r'\sstyle="([^"]*)"')
_STYLE_ELEMENT = re.compile(r"(?s)\s*<style[^>]*>.*?</style>")
_FONT = re.compile(
    r"^(?:(?P<style>italic|oblique|normal)\s+)?(?:(?P<weight>bold|\d00|normal)\s+)?"
    r"(?P<size>[\d.]+px)\s+(?P<family>.+)$"
)


def _attributes(style: str) -> str:
    """`fill: #fff; font: 10px 'DejaVu Sans'` -> ` fill="#fff" font-size="10px" ...`."""
    found: list[tuple[str, str]] = []
    for declaration in style.split(";"):
        if ":" not in declaration:
            continue
        name, value = (part.strip() for part in declaration.split(":", 1))
        if name == "font":
            match = _FONT.match(value)
            if match is None:
                raise ValueError(f"Unexpected font in the SVG: {value!r}")
            if match["style"]:
                found.append(("font-style", match["style"]))
            if match["weight"]:
                found.append(("font-weight", match["weight"]))
            found.append(("font-size", match["size"]))
            found.append(("font-family", match["family"].replace("'", "").replace('"', "")))
        else:
            found.append((name, value.replace('"', "'")))
    return "".join(f' {name}="{value}"' for name, value in found)


def clean_svg(svg: str) -> str:
    """Styles as presentation attributes; matplotlib's one global rule (round joins, butt caps)
    is given to the root element, whose attributes its children inherit."""
    svg = _STYLE_ELEMENT.sub("", svg)
    svg = _STYLE_ATTRIBUTE.sub(lambda m: _attributes(m.group(1)), svg)
    return svg.replace("<svg ", '<svg stroke-linejoin="round" stroke-linecap="butt" ', 1)


def inline_svg(svg: bytes, *, title: str, labelled_by: str = "") -> str:
    """The SVG for a page: no XML prolog, an accessible name."""
    text = svg.decode()
    text = text[text.index("<svg") :]
    label = f' aria-labelledby="{labelled_by}"' if labelled_by else ""
    return text.replace("<svg ", f'<svg role="img"{label} class="chart" ', 1).replace(
        ">", f"><title>{escape(title)}</title>", 1
    )


def escape(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )

"""Notification texts: Jinja2 templates per kind and language, rendered in a sandbox.

A kind is a directory and a language a file in it. `<kind>/<language>.txt` holds the subject
and the plain-text body as two blocks; `<kind>/<language>.html`, when there is one, is an HTML
body rendered whole and autoescaped. The templates shipped in `intake/templates` can be
replaced, file by file, or added to from an override directory of the same layout. The README
beside the shipped templates tells operators how to write one.

Errors:

    LookupError
    └── UnknownTemplate     no template of the kind, in any language
    ValueError
    └── TemplateError       a template that does not render: broken, or refused by the sandbox
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

SHIPPED = Path(__file__).resolve().parent.parent / "templates"
"""The templates that come with intake."""

FALLBACK_LANGUAGE = "en"
"""The language every shipped kind is written in: the last resort of the fallback chain."""

TEXT, HTML = ".txt", ".html"


class UnknownTemplate(LookupError):
    """No template of this kind, in any language."""

    def __init__(self, kind: str) -> None:
        super().__init__(f"no notification template {kind!r}")
        self.kind = kind


class TemplateError(ValueError):
    """A template that does not render: broken, or refused by the sandbox."""

    def __init__(self, *, kind: str, language: str, message: str) -> None:
        super().__init__(f"notification template {kind!r} in {language!r}: {message}")
        self.kind = kind
        self.language = language
        self.message = message


@dataclass(frozen=True, kw_only=True)
class RenderedMail:
    """A notification rendered: the subject, the plain text and perhaps an HTML body."""

    subject: str
    """One line, without the case number (the sender adds it)."""
    text: str
    html: str | None
    language: str
    """The language the mail is written in, after the fallback chain."""


class TemplateRenderer:
    """Renders a notification kind in the language asked for, or the nearest one written."""

    def __init__(self, *, override_dir: Path | None = None, default_language: str = "en") -> None:
        roots = [SHIPPED] if override_dir is None else [override_dir, SHIPPED]
        self._environment = _Sandbox(
            loader=jinja2.ChoiceLoader([jinja2.FileSystemLoader(root) for root in roots]),
            autoescape=jinja2.select_autoescape(
                enabled_extensions=("html",), default_for_string=False, default=False
            ),
            undefined=jinja2.ChainableUndefined,
            finalize=_blank_none,
            trim_blocks=True,
            lstrip_blocks=True,
            # The files are read once; operators restart the service after changing them.
            auto_reload=False,
        )
        self._default_language = default_language
        # The shipped files first, so an override of the same kind and language replaces them.
        self._files: dict[str, dict[str, dict[str, str]]] = {}
        for root in reversed(roots):
            for kind, language, suffix, name in _template_files(root):
                self._files.setdefault(kind, {}).setdefault(language, {})[suffix] = name

    def kinds(self) -> frozenset[str]:
        """The kinds there is a template for, shipped or overridden."""
        return frozenset(kind for kind in self._files if self.languages(kind))

    def languages(self, kind: str) -> frozenset[str]:
        """The languages `kind` is written in (none for a kind unknown)."""
        written = self._files.get(kind, {})
        return frozenset(language for language, files in written.items() if TEXT in files)

    def render(
        self, kind: str, language: str | None, context: Mapping[str, object]
    ) -> RenderedMail:
        """`kind` in `language`, else in the default language, else in English, filled in from
        `context`; a parameter missing from it renders as nothing."""
        written = self.languages(kind)
        if not written:
            raise UnknownTemplate(kind)
        chain = [*_candidates(language), *_candidates(self._default_language), FALLBACK_LANGUAGE]
        # A kind an operator wrote in other languages only is still sent, in one of those.
        used = next((c for c in chain if c in written), min(written))
        files = self._files[kind][used]
        values = dict(context)
        number = values.get("number") or values.get("case_number")
        if number:
            values["number"] = values["case_number"] = number
        try:
            template = self._environment.get_template(files[TEXT])
            subject = _block(template, "subject", values)
            body = _block(template, "body", values)
            html = None
            if HTML in files:
                html = self._environment.get_template(files[HTML]).render(values)
        except _MissingBlock as error:
            raise TemplateError(kind=kind, language=used, message=str(error)) from error
        except Exception as error:
            # Whatever an operator's template raises is that template's fault, not the
            # consumer's: it fails this one notification and says why.
            message = " ".join(f"{type(error).__name__}: {error}".split())
            raise TemplateError(kind=kind, language=used, message=message) from error
        return RenderedMail(
            subject=" ".join(subject.split()),
            text=_trim_blank_lines(body),
            html=html,
            language=used,
        )


class _MissingBlock(Exception):
    """A text template without its subject or body block."""


class _Sandbox(ImmutableSandboxedEnvironment):
    def unsafe_undefined(self, obj: Any, attribute: str) -> jinja2.Undefined:
        # The sandbox's own answer is an undefined value, which renders as nothing here (so
        # that a missing parameter does not fail a delivery): the attempt would pass unseen.
        raise SecurityError(
            f"access to attribute {attribute!r} of {type(obj).__name__!r} object is unsafe"
        )


def _template_files(root: Path) -> Iterator[tuple[str, str, str, str]]:
    """Kind, language, suffix and loader name of each template file under `root`."""
    if not root.is_dir():
        return
    for folder in sorted(root.iterdir()):
        # Names starting with "_" or "." are for includes and housekeeping, not kinds.
        if not folder.is_dir() or folder.name.startswith(("_", ".")):
            continue
        for file in sorted(folder.iterdir()):
            if file.is_file() and file.suffix in (TEXT, HTML) and not file.name.startswith("_"):
                yield folder.name, _normalised(file.stem), file.suffix, f"{folder.name}/{file.name}"


def _normalised(language: str) -> str:
    return language.strip().replace("_", "-").lower()


def _candidates(language: str | None) -> list[str]:
    """`language` and the broader languages it belongs to: "pt-BR" gives "pt-br", "pt"."""
    if not language or not language.strip():
        return []
    parts = _normalised(language).split("-")
    return ["-".join(parts[:end]) for end in range(len(parts), 0, -1)]


def _block(template: jinja2.Template, name: str, values: dict[str, object]) -> str:
    render = template.blocks.get(name)
    if render is None:
        raise _MissingBlock(f"{template.name} has no {{% block {name} %}}")
    return "".join(render(template.new_context(values)))


def _blank_none(value: object) -> object:
    return "" if value is None else value


def _trim_blank_lines(text: str) -> str:
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip()), len(lines))
    end = next((i for i in range(len(lines), 0, -1) if lines[i - 1].strip()), start)
    return "\n".join(lines[start:end])

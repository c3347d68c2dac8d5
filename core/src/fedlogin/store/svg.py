"""Parsing uploaded SVG safely and keeping only what draws (X3: no script, ever).

Parsing uses expat directly: a document type with an internal subset, any entity
declaration and any reference to an undeclared entity are refused, so neither "billion
laughs" nor external entities (XXE) can happen. A plain ``<!DOCTYPE svg PUBLIC ...>`` line,
as editors write it, is ignored (expat never fetches it).

Sanitising rebuilds the document from an allow-list: SVG elements that draw, no
``script``, ``foreignObject``, animation (which can rewrite ``href``), ``a`` (turned into
``g``), external references, event handler attributes, or other namespaces' editor metadata.
Links (``href``) may only point inside the document (``#id``), except that ``image`` may
embed a PNG or JPEG ``data:`` URL. Style sheets and ``style`` attributes that import, load
``url(...)`` from elsewhere or use escapes are dropped. The web layer additionally serves
logos with ``Content-Security-Policy: default-src 'none'`` and ``nosniff``.
"""

from __future__ import annotations

import re
from typing import NoReturn
from xml.parsers import expat
from xml.sax.saxutils import escape, quoteattr

SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"
XML_NS = "http://www.w3.org/XML/1998/namespace"
MAX_DEPTH = 64
MAX_ELEMENTS = 20_000

ALLOWED_ELEMENTS = frozenset(
    {
        "svg",
        "g",
        "defs",
        "symbol",
        "use",
        "title",
        "desc",
        "style",
        "switch",
        "view",
        "path",
        "rect",
        "circle",
        "ellipse",
        "line",
        "polyline",
        "polygon",
        "text",
        "tspan",
        "textPath",
        "image",
        "marker",
        "linearGradient",
        "radialGradient",
        "stop",
        "clipPath",
        "mask",
        "pattern",
        "filter",
        "feBlend",
        "feColorMatrix",
        "feComponentTransfer",
        "feComposite",
        "feConvolveMatrix",
        "feDiffuseLighting",
        "feDisplacementMap",
        "feDistantLight",
        "feDropShadow",
        "feFlood",
        "feFuncA",
        "feFuncB",
        "feFuncG",
        "feFuncR",
        "feGaussianBlur",
        "feMerge",
        "feMergeNode",
        "feMorphology",
        "feOffset",
        "fePointLight",
        "feSpecularLighting",
        "feSpotLight",
        "feTile",
        "feTurbulence",
    }
)
#: Unwrapped into a group: the drawing stays, the link goes.
UNWRAPPED_ELEMENTS = frozenset({"a"})
_SAFE_DATA_URL = re.compile(r"^data:image/(?:png|jpeg);base64,[A-Za-z0-9+/=\s]*$")
_URL_REFERENCE = re.compile(r"url\(\s*(['\"]?)(.*?)\1\s*\)", re.IGNORECASE | re.DOTALL)
_ATTRIBUTE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.:-]*$")
_CSS_DANGER = ("@import", "expression(", "javascript:", "behavior", "-moz-binding", "\\")


class SvgRejected(ValueError):
    """The bytes are not a well-formed, safely parseable SVG document."""


class _Element:
    __slots__ = ("attributes", "children", "name", "namespace")

    def __init__(self, namespace: str, name: str, attributes: dict[tuple[str, str], str]):
        self.namespace = namespace
        self.name = name
        self.attributes = attributes
        self.children: list[_Element | str] = []


def sanitize_svg(data: bytes) -> bytes:
    """The sanitised document, or :class:`SvgRejected` when it is not a safe SVG at all."""
    root = _parse(data)
    if root.name != "svg" or root.namespace not in (SVG_NS, ""):
        raise SvgRejected("the document's root element is not svg")
    default_ns = root.namespace
    cleaned = _clean_element(root, default_ns)
    if cleaned is None:  # pragma: no cover - the root is always an allowed element
        raise SvgRejected("nothing drawable is left")
    out: list[str] = []
    uses_xlink = _uses_xlink(cleaned)
    _serialize(cleaned, out, root=True, uses_xlink=uses_xlink)
    return "".join(out).encode("utf-8")


# -- parsing -------------------------------------------------------------------------------


def _refuse(reason: str) -> NoReturn:
    raise SvgRejected(reason)


def _parse(data: bytes) -> _Element:
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    stack: list[_Element] = []
    roots: list[_Element] = []
    count = 0

    def doctype(name: str, sysid: str | None, pubid: str | None, internal: bool) -> None:
        if internal:
            _refuse("document type declarations with an internal subset are not allowed")

    def entity(*_: object) -> None:
        _refuse("entity declarations are not allowed")

    def skipped(name: str, is_parameter: bool) -> None:
        _refuse(f"the entity {name!r} is not defined")

    def external(*_: object) -> int:
        _refuse("external entities are not allowed")

    def start(qualified: str, attributes: dict[str, str]) -> None:
        nonlocal count
        count += 1
        if count > MAX_ELEMENTS or len(stack) >= MAX_DEPTH:
            _refuse("the document is nested too deeply or has too many elements")
        namespace, name = _split(qualified)
        element = _Element(
            namespace, name, {_split(key): value for key, value in attributes.items()}
        )
        if stack:
            stack[-1].children.append(element)
        else:
            roots.append(element)
        stack.append(element)

    def end(_: str) -> None:
        stack.pop()

    def characters(text: str) -> None:
        if stack:
            stack[-1].children.append(text)

    parser.StartDoctypeDeclHandler = doctype
    parser.EntityDeclHandler = entity
    parser.UnparsedEntityDeclHandler = entity
    parser.NotationDeclHandler = entity
    parser.SkippedEntityHandler = skipped
    parser.ExternalEntityRefHandler = external
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = characters
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        raise SvgRejected(f"not well-formed XML ({expat.ErrorString(exc.code)})") from exc
    if len(roots) != 1:
        raise SvgRejected("not an XML document")
    return roots[0]


def _split(qualified: str) -> tuple[str, str]:
    namespace, _, name = qualified.rpartition(" ")
    return namespace, name


# -- sanitising ----------------------------------------------------------------------------


def _clean_element(element: _Element, default_ns: str) -> _Element | None:
    if element.namespace != default_ns:
        return None  # editor metadata (Inkscape, Sodipodi, Illustrator) or foreign content
    name = element.name
    if name in UNWRAPPED_ELEMENTS:
        name = "g"
    elif name not in ALLOWED_ELEMENTS:
        return None
    clean = _Element(SVG_NS, name, {})
    for key, value in element.attributes.items():
        kept = _clean_attribute(name, key, value)
        if kept is not None:
            clean.attributes[kept] = value
    for child in element.children:
        if isinstance(child, str):
            clean.children.append(child)
            continue
        cleaned = _clean_element(child, default_ns)
        if cleaned is not None:
            clean.children.append(cleaned)
    if name == "style":
        css = "".join(child for child in clean.children if isinstance(child, str))
        if not _css_is_safe(css):
            return None
    return clean


def _clean_attribute(element: str, key: tuple[str, str], value: str) -> tuple[str, str] | None:
    namespace, name = key
    if namespace == XLINK_NS and name == "href":
        return key if _href_is_safe(element, value) else None
    if namespace == XML_NS and name in ("space", "lang"):
        return key
    if namespace or not _ATTRIBUTE_NAME.match(name):
        return None
    lowered = name.lower()
    if lowered.startswith("on") or lowered in ("xml:base", "formaction"):
        return None
    if lowered == "href":
        return key if _href_is_safe(element, value) else None
    if lowered == "style" and not _css_is_safe(value):
        return None
    if "javascript:" in _squash(value) or not _references_are_local(value):
        return None
    return key


def _squash(value: str) -> str:
    """Lower-cased without whitespace and control characters (``java\\tscript:`` tricks)."""
    return "".join(ch for ch in value.lower() if ch.isprintable() and not ch.isspace())


def _href_is_safe(element: str, value: str) -> bool:
    target = value.strip()
    if target.startswith("#"):
        return True
    return element == "image" and bool(_SAFE_DATA_URL.match(target))


def _references_are_local(value: str) -> bool:
    return all(match.group(2).strip().startswith("#") for match in _URL_REFERENCE.finditer(value))


def _css_is_safe(css: str) -> bool:
    squashed = _squash(css)
    if any(danger in squashed for danger in _CSS_DANGER):
        return False
    return _references_are_local(css)


# -- writing -------------------------------------------------------------------------------


def _uses_xlink(element: _Element) -> bool:
    if any(namespace == XLINK_NS for namespace, _ in element.attributes):
        return True
    return any(isinstance(c, _Element) and _uses_xlink(c) for c in element.children)


def _serialize(element: _Element, out: list[str], *, root: bool, uses_xlink: bool) -> None:
    out.append(f"<{element.name}")
    if root:
        out.append(f" xmlns={quoteattr(SVG_NS)}")
        if uses_xlink:
            out.append(f" xmlns:xlink={quoteattr(XLINK_NS)}")
    for (namespace, name), value in element.attributes.items():
        prefix = {XLINK_NS: "xlink:", XML_NS: "xml:"}.get(namespace, "")
        out.append(f" {prefix}{name}={quoteattr(value)}")
    if not element.children:
        out.append("/>")
        return
    out.append(">")
    for child in element.children:
        if isinstance(child, str):
            out.append(escape(child))
        else:
            _serialize(child, out, root=False, uses_xlink=uses_xlink)
    out.append(f"</{element.name}>")

"""The OpenAPI document as one self-contained HTML page (no scripts, fonts or styles from elsewhere).

Rendered on the server from the same document ``/v1/openapi.json`` serves, so an offline machine sees the
whole reference: every operation with its parameters, request body, responses, schemas and examples.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from html import escape
from typing import Any, Final

METHODS: Final = ("get", "post", "put", "patch", "delete")
_CODE: Final = re.compile(r"`([^`]+)`")
_BOLD: Final = re.compile(r"\*\*([^*]+)\*\*")

STYLE: Final = """
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0; color: #1d2330; }
header { background: #1d2330; color: #fff; padding: 1.5rem 2rem; }
header h1 { margin: 0; }
header a { color: #93c5fd; }
main { display: flex; }
nav { width: 17rem; flex: none; padding: 1rem; border-right: 1px solid #e3e6ec; position: sticky; top: 0;
      align-self: flex-start; max-height: 100vh; overflow: auto; font-size: 14px; }
nav ul { list-style: none; padding-left: 0.5rem; margin: 0.2rem 0 0.8rem; }
nav a { text-decoration: none; color: #1d4ed8; }
article { padding: 1rem 2rem; min-width: 0; flex: 1; }
section.operation { border: 1px solid #e3e6ec; border-radius: 8px; padding: 0.5rem 1.25rem 1rem;
                    margin: 1.25rem 0; }
.method { display: inline-block; min-width: 3.5rem; text-align: center; border-radius: 4px; color: #fff;
          font-weight: 600; font-size: 13px; padding: 0.1rem 0.4rem; text-transform: uppercase; }
.get { background: #2563eb; } .post { background: #059669; } .put, .patch { background: #d97706; }
.delete { background: #dc2626; }
code, pre { font-family: ui-monospace, "SFMono-Regular", Menlo, monospace; font-size: 13px; }
pre { background: #f5f7fa; border: 1px solid #e3e6ec; border-radius: 6px; padding: 0.75rem; overflow: auto; }
table { border-collapse: collapse; width: 100%; margin: 0.5rem 0 1rem; }
th, td { text-align: left; vertical-align: top; border-bottom: 1px solid #e3e6ec; padding: 0.35rem 0.5rem; }
th { font-size: 13px; color: #5b6475; font-weight: 600; }
.required { color: #dc2626; font-size: 12px; }
.status { font-weight: 600; }
h4 { margin: 1rem 0 0.25rem; }
"""


def content_security_policy() -> str:
    """The page's policy: nothing but its own ``<style>`` element (named by hash), no scripts at all."""
    digest = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
    return (
        f"default-src 'none'; style-src 'sha256-{digest}'; frame-ancestors 'none'; base-uri 'none'; "
        "form-action 'none'"
    )


def render_reference(document: dict[str, Any]) -> str:
    """The whole reference page."""
    info = document["info"]
    operations = list(_operations(document))
    body = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(info['title'])} {escape(info['version'])} reference</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<header><h1>{escape(info['title'])}</h1>",
        f"<div>version {escape(info['version'])} &middot; OpenAPI {escape(document['openapi'])} &middot; "
        '<a href="/v1/openapi.json">/v1/openapi.json</a></div></header>',
        "<main>",
        _navigation(document, operations),
        "<article>",
        '<section id="overview"><h2>Overview</h2>',
        _markdown(info.get("description", "")),
        _security(document),
        "</section>",
    ]
    for tag in _tags(document):
        body.append(f'<h2 id="tag-{escape(tag["name"])}">{escape(tag["name"].capitalize())}</h2>')
        if tag.get("description"):
            body.append(f"<p>{_inline(tag['description'])}</p>")
        body.extend(
            _operation(document, path, method, operation)
            for path, method, operation in operations
            if _tag_of(operation) == tag["name"]
        )
    body.append('<h2 id="schemas">Schemas</h2>')
    for name, schema in document["components"]["schemas"].items():
        body.append(f'<section id="schema-{escape(name)}"><h3>{escape(name)}</h3>')
        body.append(_schema_block(document, schema))
        body.append("</section>")
    body.append("</article></main></body></html>")
    return "\n".join(body)


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def _tags(document: dict[str, Any]) -> list[dict[str, Any]]:
    return list(document.get("tags", []))


def _tag_of(operation: dict[str, Any]) -> str:
    return str((operation.get("tags") or ["other"])[0])


def _anchor(operation: dict[str, Any]) -> str:
    return f"op-{escape(operation['operationId'])}"


def _navigation(document: dict[str, Any], operations: list[tuple[str, str, dict[str, Any]]]) -> str:
    parts = ['<nav><a href="#overview"><strong>Overview</strong></a>']
    for tag in _tags(document):
        parts.append(f'<div><a href="#tag-{escape(tag["name"])}"><strong>{escape(tag["name"])}</strong></a>')
        parts.append("<ul>")
        parts.extend(
            f'<li><a href="#{_anchor(operation)}"><span class="method {method}">{method}</span> '
            f"<code>{escape(path)}</code></a></li>"
            for path, method, operation in operations
            if _tag_of(operation) == tag["name"]
        )
        parts.append("</ul></div>")
    parts.append('<a href="#schemas"><strong>Schemas</strong></a><ul>')
    parts.extend(
        f'<li><a href="#schema-{escape(name)}">{escape(name)}</a></li>'
        for name in document["components"]["schemas"]
    )
    parts.append("</ul></nav>")
    return "\n".join(parts)


def _security(document: dict[str, Any]) -> str:
    schemes = document["components"].get("securitySchemes", {})
    rows = "".join(
        f"<tr><td><code>{escape(name)}</code></td><td>{escape(scheme.get('type', ''))} "
        f"{escape(scheme.get('scheme', ''))}</td><td>{_inline(scheme.get('description', ''))}</td></tr>"
        for name, scheme in schemes.items()
    )
    return f"<h3>Authentication</h3><table><tr><th>scheme</th><th>type</th><th></th></tr>{rows}</table>"


def _operation(document: dict[str, Any], path: str, method: str, operation: dict[str, Any]) -> str:
    parts = [
        f'<section class="operation" id="{_anchor(operation)}">',
        f'<h3><span class="method {method}">{method}</span> <code>{escape(path)}</code></h3>',
        f"<p><strong>{escape(operation.get('summary', ''))}</strong></p>",
    ]
    if operation.get("description"):
        parts.append(f"<p>{_inline(operation['description'])}</p>")
    security = operation.get("security", document.get("security", []))
    parts.append(
        "<p>Authentication: <code>Authorization: Bearer sk_...</code></p>"
        if security
        else "<p>No key needed.</p>"
    )
    parameters = [_resolve(document, parameter) for parameter in operation.get("parameters", [])]
    if parameters:
        parts.append(_parameters(document, parameters))
    if "requestBody" in operation:
        parts.append(_request_body(document, _resolve(document, operation["requestBody"])))
    parts.append(_responses(document, operation["responses"]))
    parts.append("</section>")
    return "\n".join(parts)


def _parameters(document: dict[str, Any], parameters: list[dict[str, Any]]) -> str:
    rows = "".join(
        f"<tr><td><code>{escape(p['name'])}</code>{_required(p.get('required', False))}</td>"
        f"<td>{escape(p['in'])}</td><td>{_type(document, p.get('schema', {}))}</td>"
        f"<td>{_inline(p.get('description', ''))}</td>"
        f"<td>{_example_inline(p.get('example'))}</td></tr>"
        for p in parameters
    )
    return (
        "<h4>Parameters</h4><table><tr><th>name</th><th>in</th><th>type</th><th>description</th>"
        f"<th>example</th></tr>{rows}</table>"
    )


def _request_body(document: dict[str, Any], body: dict[str, Any]) -> str:
    parts = [f"<h4>Request body{_required(body.get('required', False))}</h4>"]
    for media_type, media in body.get("content", {}).items():
        parts.append(f"<p><code>{escape(media_type)}</code>: {_type(document, media.get('schema', {}))}</p>")
        parts.append(_schema_block(document, _named_schema(document, media.get("schema", {}))))
        parts.append(_examples(media))
    return "\n".join(parts)


def _responses(document: dict[str, Any], responses: dict[str, Any]) -> str:
    parts = [
        "<h4>Responses</h4><table><tr><th>status</th><th>description</th><th>body</th><th>headers</th></tr>"
    ]
    details = []
    for status, raw in responses.items():
        response = _resolve(document, raw)
        content = response.get("content", {})
        bodies = ", ".join(
            f"<code>{escape(media_type)}</code> {_type(document, media.get('schema', {}))}"
            for media_type, media in content.items()
        )
        headers = ", ".join(f"<code>{escape(name)}</code>" for name in response.get("headers", {}))
        parts.append(
            f'<tr><td class="status">{escape(status)}</td><td>{_inline(response.get("description", ""))}</td>'
            f"<td>{bodies}</td><td>{headers}</td></tr>"
        )
        for media in content.values():
            examples = _examples(media)
            if examples:
                details.append(f"<details><summary>{escape(status)} example</summary>{examples}</details>")
    parts.append("</table>")
    parts.extend(details)
    return "\n".join(parts)


def _examples(media: dict[str, Any]) -> str:
    if "example" in media:
        return _pre(media["example"])
    parts = []
    for name, example in media.get("examples", {}).items():
        title = example.get("summary") or name
        parts.append(f"<p><em>{escape(str(title))}</em></p>{_pre(example.get('value'))}")
    return "\n".join(parts)


def _pre(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, indent=2, ensure_ascii=False)
    return f"<pre>{escape(text)}</pre>"


def _schema_block(document: dict[str, Any], schema: dict[str, Any]) -> str:
    properties = schema.get("properties")
    if not properties:
        return f"<p>{_type(document, schema)}</p>"
    required = set(schema.get("required", []))
    rows = "".join(
        f"<tr><td><code>{escape(name)}</code>{_required(name in required)}</td>"
        f"<td>{_type(document, prop)}</td><td>{_inline(prop.get('description', ''))}</td></tr>"
        for name, prop in properties.items()
    )
    closed = "" if schema.get("additionalProperties", True) else "<p>No other properties are allowed.</p>"
    return f"<table><tr><th>property</th><th>type</th><th>description</th></tr>{rows}</table>{closed}"


def _type(document: dict[str, Any], schema: dict[str, Any]) -> str:
    """A one-line description of a schema: its type, constraints and a link to a named schema."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return f'<a href="#schema-{escape(name)}">{escape(name)}</a>'
    for combinator in ("anyOf", "oneOf", "allOf"):
        if combinator in schema:
            return " | ".join(_type(document, option) for option in schema[combinator])
    kinds = schema.get("type", "any")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    text = " | ".join(escape(str(kind)) for kind in kinds)
    if "array" in kinds and "items" in schema:
        text = text.replace("array", f"array of {_type(document, schema['items'])}", 1)
    constraints = []
    if "format" in schema:
        constraints.append(escape(schema["format"]))
    if "enum" in schema:
        constraints.append(
            "one of " + ", ".join(f"<code>{escape(json.dumps(v))}</code>" for v in schema["enum"])
        )
    for low, high, unit in (("minimum", "maximum", ""), ("minLength", "maxLength", " characters")):
        if low in schema or high in schema:
            constraints.append(f"{schema.get(low, '')}..{schema.get(high, '')}{unit}")
    if "pattern" in schema:
        constraints.append(f"pattern <code>{escape(schema['pattern'])}</code>")
    if "default" in schema:
        constraints.append(f"default <code>{escape(json.dumps(schema['default']))}</code>")
    return text + (f" ({'; '.join(constraints)})" if constraints else "")


def _resolve(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node and node["$ref"].startswith("#/components/") and len(node) == 1:
        _, _, kind, name = node["$ref"].split("/", 3)
        if kind == "schemas":
            break
        node = document["components"][kind][name]
    return node


def _named_schema(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """The schema a ``#/components/schemas/...`` reference names (request bodies are shown in full)."""
    ref = schema.get("$ref", "")
    if ref.startswith("#/components/schemas/"):
        named: dict[str, Any] = document["components"]["schemas"][ref.rsplit("/", 1)[-1]]
        return named
    return schema


def _required(required: bool) -> str:
    return ' <span class="required">required</span>' if required else ""


def _example_inline(value: Any) -> str:
    return "" if value is None else f"<code>{escape(json.dumps(value))}</code>"


def _inline(text: str) -> str:
    html = escape(text)
    html = _CODE.sub(lambda match: f"<code>{match.group(1)}</code>", html)
    return _BOLD.sub(lambda match: f"<strong>{match.group(1)}</strong>", html)


def _markdown(text: str) -> str:
    """Paragraphs and ``*`` bullet lists (continued on indented lines): all the description uses."""
    blocks: list[str] = []
    items: list[str] = []
    paragraph: list[str] = []

    def flush() -> None:
        if paragraph:
            blocks.append(f"<p>{_inline(' '.join(paragraph))}</p>")
            paragraph.clear()
        if items:
            blocks.append("<ul>" + "".join(f"<li>{_inline(item)}</li>" for item in items) + "</ul>")
            items.clear()

    for line in text.splitlines():
        if line.startswith("* "):
            if paragraph:
                flush()
            items.append(line[2:])
        elif line.startswith("  ") and items:
            items[-1] += " " + line.strip()
        elif not line.strip():
            flush()
        else:
            paragraph.append(line.strip())
    flush()
    return "\n".join(blocks)

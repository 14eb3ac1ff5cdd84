"""Write the documentation's generated pages from the code itself.

``docs/conf.py`` calls :func:`write_all` at the start of every Sphinx build, and
``tests/docs/test_docs.py`` calls it on a temporary folder. Nothing here is written by hand:
the theory table comes from ``choicelab.axioms.base.THEORY``, the scenario file reference from
the pydantic models' JSON schema (examples taken from the built-in scenarios), the registry
tables from the registries, and one page per built-in scenario from its TOML file. A page can
therefore not disagree with the checker or the loader.

Layout under the folder given to :func:`write_all` (the ``docs`` folder in a build):

``_generated/theory-table.md``        the expected-verdict table (included by contract.md)
``_generated/theory/<ID>.md``         the expected verdicts of one axiom (included per heading)
``_generated/scenario-file.md``       every key of the scenario schema
``_generated/registries/<name>.md``   estimators, measures, conditions, weightings, figures, axioms
``reference/scenarios/<name>.md``     one page per built-in scenario (whole pages, in the toctree)

Files are rewritten only when their text changes, so incremental builds stay incremental.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

OPEN = "—"  # a cell the contract leaves open
REGISTRIES = ("estimators", "measures", "conditions", "weightings", "figures", "axioms")
SCENARIO_PAGES = Path("reference") / "scenarios"


# ---------------------------------------------------------------------------------------------
# Markdown helpers


def _cell(text) -> str:
    """Text safe inside one cell of a Markdown table (one line, pipes escaped)."""
    return " ".join(str(text).split()).replace("|", "\\|")


_ROLE = re.compile(r":(func|class|mod|meth|data|attr|obj|exc):`~?([^`]+)`")
_DOUBLE = re.compile(r"``([^`]+)``")


def prose(text: str) -> str:
    """A docstring-style description as Markdown: reST roles become MyST roles, ``x`` becomes `x`,
    and Markdown's own specials outside code are escaped (a description is never markup)."""
    text = " ".join(str(text).split())
    out, pos = [], 0
    pieces = []
    for match in re.finditer(r"``[^`]+``|:(?:func|class|mod|meth|data|attr|obj|exc):`~?[^`]+`|`[^`]+`", text):
        pieces.append((match.start(), match.end(), match.group(0)))
    for start, end, code in pieces:
        out.append(_escape(text[pos:start]))
        role = _ROLE.fullmatch(code)
        if role:
            out.append(f"{{py:{role.group(1)}}}`{role.group(2)}`")
        elif code.startswith("``"):
            out.append(f"`{_DOUBLE.fullmatch(code).group(1)}`")
        else:
            out.append(code)
        pos = end
    out.append(_escape(text[pos:]))
    return "".join(out)


def _escape(text: str) -> str:
    return re.sub(r"([\\*_\[\]<>#$])", r"\\\1", text)


def code(text) -> str:
    """Inline code that survives a table cell (backticks chosen around embedded backticks)."""
    text = " ".join(str(text).split())
    fence = "``" if "`" in text else "`"
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def table(header, rows) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def toml_value(value, limit: int = 70) -> str:
    """A value as TOML would write it inline (shortened past ``limit`` characters)."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, (int, float)):
        text = repr(value)
    elif isinstance(value, str):
        if "\n" in value:
            first = value.strip().splitlines()[0]
            text = json.dumps(first[:40] + " …" if len(first) > 40 else first, ensure_ascii=False)
        else:
            text = json.dumps(value, ensure_ascii=False)
    elif isinstance(value, (list, tuple)):
        text = "[" + ", ".join(toml_value(v, limit=10**6) for v in value) + "]"
    elif isinstance(value, dict):
        items = ", ".join(f"{_toml_key(k)} = {toml_value(v, limit=10**6)}" for k, v in value.items())
        text = "{ " + items + " }" if items else "{}"
    elif value is None:
        text = "(none)"
    else:
        text = str(value)
    if len(text) > limit:
        text = text[: limit - 2].rstrip() + " …"
    return text


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key)


def _write(path: Path, text: str, written: list) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists() or path.read_text() != text:
        path.write_text(text)
    written.append(path)


# ---------------------------------------------------------------------------------------------
# The theory table


def theory_columns() -> list[str]:
    """Every registered estimator, then any estimator the theory table names that is not registered."""
    from choicelab.axioms.base import THEORY
    from choicelab.estimators.registry import list_estimators

    names = [e.name for e in list_estimators() if not e.name.startswith("contract-check.")]
    return names + [e for e in dict.fromkeys(e for _, e in THEORY) if e not in names]


def theory_table() -> str:
    from choicelab.axioms.base import THEORY, list_axioms

    columns = theory_columns()
    rows = []
    for axiom in list_axioms():
        rows.append([f"{{ref}}`{axiom.id} <{axiom.id.lower()}>`"] + [THEORY.get((axiom.id, e), OPEN) for e in columns])
    head = ["", *(code(e) for e in columns)]
    n_cells = len(THEORY)
    return (
        f"<!-- generated by docs/_ext/generate.py from choicelab.axioms.base.THEORY; do not edit -->\n\n"
        f"{table(head, rows)}\n"
        f"{n_cells} cells carry an expected verdict; every {OPEN} is a cell the contract leaves open "
        f"(the checker may still measure it, and then reports the measurement without a verdict).\n"
    )


def theory_fragment(axiom_id: str) -> str:
    from choicelab.axioms.base import THEORY, get_axiom

    axiom = get_axiom(axiom_id)
    by_verdict: dict[str, list[str]] = {}
    for (a, e), verdict in THEORY.items():
        if a == axiom_id:
            by_verdict.setdefault(verdict, []).append(e)
    stated = {e for (a, e) in THEORY if a == axiom_id}
    lines = [
        "<!-- generated by docs/_ext/generate.py from choicelab.axioms.base; do not edit -->",
        "",
        f"*In the code:* {code(axiom.name)}; source {prose(axiom.citation)}.",
        "",
    ]
    if by_verdict:
        parts = [f"{verdict}: " + ", ".join(code(e) for e in names) for verdict, names in sorted(by_verdict.items())]
        lines.append("*Expected verdicts (the checker's theory table):* " + "; ".join(parts) + ".")
    else:
        lines.append("*Expected verdicts:* none stated.")
    others = [e for e in theory_columns() if e not in stated]
    if others:
        lines += ["", f"*Left open ({OPEN}):* " + ", ".join(code(e) for e in others) + "."]
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# The scenario file reference (from the pydantic models' JSON schema)


class _Schema:
    def __init__(self, schema: dict):
        self.root = schema
        self.defs = schema.get("$defs", {})

    def resolve(self, s: dict) -> dict:
        while "$ref" in s:
            s = {**self.defs[s["$ref"].rsplit("/", 1)[-1]], **{k: v for k, v in s.items() if k != "$ref"}}
        return s

    def variants(self, s: dict):
        """(discriminator, [(value, model schema)]) of a discriminated union, or None."""
        s = self.resolve(s)
        if "oneOf" in s and "discriminator" in s:
            key = s["discriminator"]["propertyName"]
            out = []
            for option in s["oneOf"]:
                model = self.resolve(option)
                value = model["properties"][key].get("const")
                out.append((value, model))
            return key, out
        for option in s.get("anyOf", []):
            found = self.variants(option) if option.get("type") != "null" else None
            if found:
                return found
        return None

    def model(self, s: dict):
        """The object model (with properties) behind ``s``, or None."""
        s = self.resolve(s)
        if s.get("type") == "object" and "properties" in s:
            return s
        for option in s.get("anyOf", []):
            option = self.resolve(option)
            if option.get("type") == "object" and "properties" in option:
                return option
        return None

    def type_text(self, s: dict) -> str:
        s = self.resolve(s)
        if "anyOf" in s:
            parts = [self.type_text(o) for o in s["anyOf"] if self.resolve(o).get("type") != "null"]
            text = "; or ".join(dict.fromkeys(parts))
            return text + (" (optional)" if any(o.get("type") == "null" for o in s["anyOf"]) else "")
        if "oneOf" in s:
            found = self.variants(s)
            if found:
                return f"table, by `{found[0]}`"
        if "const" in s:
            return "string"
        if "enum" in s:
            return "string"
        kind = s.get("type")
        if kind in ("integer", "number"):
            return ("integer" if kind == "integer" else "number") + _bounds(s)
        if kind == "array":
            items = s.get("items") or {}
            inner = self.variants(items)
            if inner:
                return f"array of tables, by `{inner[0]}`"
            size = f" (≥ {s['minItems']})" if s.get("minItems") else ""
            return f"list{size} of " + (self.type_text(items) if items else "values")
        if kind == "object":
            extra = s.get("additionalProperties")
            if "properties" in s:
                return "table"
            if isinstance(extra, dict) and extra:
                return "table: name → " + self.type_text(extra)
            return "table"
        if kind == "string":
            return "string"
        if kind == "boolean":
            return "boolean"
        return kind or "any"

    def allowed(self, s: dict) -> str:
        s = self.resolve(s)
        if "anyOf" in s:
            parts = [self.allowed(o) for o in s["anyOf"] if self.resolve(o).get("type") != "null"]
            return "; ".join(p for p in dict.fromkeys(parts) if p)
        if "const" in s:
            return "only " + code(json.dumps(s["const"]))
        if "enum" in s:
            return "one of " + ", ".join(code(json.dumps(v)) for v in s["enum"])
        if "pattern" in s:
            return _pattern(s["pattern"])
        if s.get("type") == "array" and isinstance(s.get("items"), dict):
            return self.allowed(s["items"])
        return ""


def _bounds(s: dict) -> str:
    parts = []
    if "minimum" in s:
        parts.append(f"≥ {_num(s['minimum'])}")
    if "exclusiveMinimum" in s:
        parts.append(f"> {_num(s['exclusiveMinimum'])}")
    if "maximum" in s:
        parts.append(f"≤ {_num(s['maximum'])}")
    if "exclusiveMaximum" in s:
        limit = s["exclusiveMaximum"]
        parts.append("< 2⁶³" if limit == 2**63 else f"< {_num(limit)}")
    return (" " + ", ".join(parts)) if parts else ""


def _num(x) -> str:
    return str(int(x)) if isinstance(x, float) and x.is_integer() else str(x)


def _pattern(pattern: str) -> str:
    alternatives = re.fullmatch(r"\^\(([A-Za-z0-9_|]+)\)\$", pattern)
    if alternatives:
        return "one of " + ", ".join(code(json.dumps(v)) for v in alternatives.group(1).split("|"))
    return "matching " + code(pattern)


def _default(prop: dict, required: bool) -> str:
    if required:
        return "required"
    if "default" not in prop:
        return ""
    value = prop["default"]
    if value is None:
        return "(none)"
    return code(toml_value(value))


def _builtins() -> dict[str, dict]:
    from choicelab.scenarios.spec import builtin_path, list_builtin

    return {name: tomllib.loads(builtin_path(name).read_text()) for name in list_builtin()}


def _tables_at(documents: dict, path: tuple) -> list[tuple[str, dict]]:
    """(scenario, table) pairs found at ``path`` in the built-ins (arrays of tables flattened)."""
    found = []
    for name, doc in documents.items():
        level = [doc]
        for key in path:
            nxt = []
            for node in level:
                value = node.get(key) if isinstance(node, dict) else None
                if isinstance(value, list) and all(isinstance(v, dict) for v in value):
                    nxt.extend(value)
                elif value is not None:
                    nxt.append(value)
            level = nxt
        found.extend((name, node) for node in level if isinstance(node, dict))
    return found


# Examples for the few keys no built-in scenario sets (every other example is read from the
# built-ins). A key that leaves the schema simply stops being looked up here.
FALLBACK_EXAMPLES = {
    "scenario.max_runs": 5000,
    "world.region.center": [0.0, 0.0],
    "world.region.radius": 1.0,
    "world.alternatives.per_axis": 4,
    "world.alternatives.X": [[0.1, 0.2], [0.8, 0.4], [0.1, 0.2]],
    "world.alternatives.labels": ["a", "b", "a copy"],
    "world.alternatives.clone_of": [-1, -1, 0],
    "world.alternatives.reader": "alternatives",
    "world.population.types.theta": [1.0, -0.5],
    "world.population.types.values": [0.3, 0.1, 0.9],
    "world.population.types.X_ref": [[0.1, 0.2], [0.8, 0.4], [0.5, 0.9]],
    "world.population.types.centers[reward=rbf_mixture]": [[0.2, 0.2], [0.8, 0.7]],
    "world.population.types.centers[reward=topic_table]": [[0.0, 0.0], [1.0, 1.0]],
    "world.population.types.weights": [1.0, 0.5],
    "world.population.types.bandwidth": 0.3,
    "data.n[kind=rankings]": 500,
    "data.k": 3,
    "data.rankings": "data/votes.soc",
    "data.reader": "comparisons",
    "estimators.quick": True,
    "plugins.modules": ["my_estimator.py"],
}


def _synth(schema: _Schema, prop: dict):
    """A plausible value from the schema alone, for keys no built-in scenario sets."""
    s = schema.resolve(prop)
    if "anyOf" in s:
        for option in s["anyOf"]:
            if schema.resolve(option).get("type") != "null":
                return _synth(schema, option)
    if "const" in s:
        return s["const"]
    if "enum" in s:
        return s["enum"][-1]
    if "pattern" in s:
        found = re.fullmatch(r"\^\(([A-Za-z0-9_|]+)\)\$", s["pattern"])
        return found.group(1).split("|")[0] if found else "name"
    kind = s.get("type")
    low = s.get("minimum", s.get("exclusiveMinimum"))
    if kind == "integer":
        return int(low) + 1 if low is not None else 1
    if kind == "number":
        return 0.5 if s.get("exclusiveMaximum") == 1 else (float(low) + 1.0 if low is not None else 1.0)
    if kind == "boolean":
        return True
    if kind == "string":
        return "text"
    if kind == "array":
        item = _synth(schema, s.get("items") or {"type": "number"})
        return [item, item]
    return {}


class _Reference:
    """Renders the scenario file reference, section by section."""

    def __init__(self):
        from choicelab.estimators.registry import list_estimators
        from choicelab.estimators.weightings import list_weightings
        from choicelab.reports.figures import list_figures
        from choicelab.scenarios.conditions import list_conditions
        from choicelab.scenarios.experiment import ExperimentSpec
        from choicelab.scenarios.measures import list_measures

        self.schema = _Schema(ExperimentSpec.model_json_schema())
        self.docs = _builtins()
        self.out: list[str] = []
        # keys whose values are registry names: the allowed values come from the registries
        self.names = {
            "estimators.names": ("estimators", [e.name for e in list_estimators()]),
            "measures.names": ("measures", [m.name for m in list_measures()]),
            "conditions.names": ("conditions", [c.name for c in list_conditions()]),
            "report.figures": ("figures", list(list_figures())),
            "estimators.weights": ("weightings", [w.name for w in list_weightings()]),
        }
        readers = _readers()
        if readers is not None:
            self.names["world.alternatives.reader"] = (
                "readers",
                [r.name for r in readers if r.produces == "alternatives"],
            )
            self.names["data.reader"] = ("readers", [r.name for r in readers if r.produces != "alternatives"])

    def example(self, path: tuple, key: str, discriminator=None, prop=None):
        for name, found in _tables_at(self.docs, path):
            if discriminator is not None and found.get(discriminator[0]) != discriminator[1]:
                continue
            if key in found:
                return found[key], name
        variant = f"{discriminator[0]}={discriminator[1]}" if discriminator else None
        for candidate in (f"{'.'.join(path)}.{key}[{variant}]", f"{'.'.join(path)}.{key}"):
            if candidate in FALLBACK_EXAMPLES:
                return FALLBACK_EXAMPLES[candidate], None
        return _synth(self.schema, prop or {}), None

    def rows(self, path: tuple, model: dict, discriminator=None):
        rows, nested = [], []
        required = set(model.get("required", []))
        for key, prop in model["properties"].items():
            dotted = ".".join((*path, key))
            resolved = self.schema.resolve(prop)
            array = resolved.get("type") == "array" and isinstance(resolved.get("items"), dict)
            inner = resolved["items"] if array else prop
            sub_variants = self.schema.variants(inner)
            sub_model = self.schema.model(inner)
            if sub_variants or sub_model:
                nested.append((key, prop))
                kind = "array of tables" if array else "table"
                kind += f", by `{sub_variants[0]}`" if sub_variants else ""
                brackets = f"[[{dotted}]]" if array else f"[{dotted}]"
                rows.append(
                    [
                        code(dotted),
                        kind,
                        "required" if key in required else "see below",
                        f"see {{ref}}`{brackets} <{_anchor(dotted)}>`",
                        "",
                    ]
                )
                continue
            allowed = self.schema.allowed(prop)
            if dotted in self.names:
                registry, names = self.names[dotted]
                allowed = f"names from the {{ref}}`{registry} registry <registry-{registry}>`: " + ", ".join(
                    code(n) for n in names
                )
            value, source = self.example(path, key, discriminator, prop)
            shown = f"{_toml_key(key)} = {toml_value(value)}"
            rows.append(
                [
                    code(dotted),
                    self.schema.type_text(prop),
                    _default(prop, key in required),
                    allowed,
                    code(shown) + (f" ({source})" if source else ""),
                ]
            )
        return rows, nested

    def section(self, path: tuple, s: dict, level: int) -> None:
        dotted = ".".join(path)
        heading = "#" * level
        s = self.schema.resolve(s)
        array = s.get("type") == "array" and isinstance(s.get("items"), dict)
        inner = s["items"] if array else s
        found = self.schema.variants(inner)
        brackets = f"[[{dotted}]]" if array else f"[{dotted}]"
        self.out.append(f"({_anchor(dotted)})=\n{heading} `{brackets}`\n")
        if array:
            self.out.append("An array of tables: repeat the section once per entry.\n")
        if found:
            key, options = found
            self.out.append(
                f"A table chosen by its `{key}` key: one of "
                + ", ".join(code(json.dumps(v)) for v, _ in options)
                + ". The keys of each kind follow.\n"
            )
            if s.get("default") is not None:
                self.out.append(f"Default when the section is absent: {code(toml_value(s['default']))}.\n")
            for value, model in options:
                self.out.append(f"{heading}# `{key} = {json.dumps(value)}`\n")
                if model.get("description"):
                    self.out.append(prose(model["description"]) + "\n")
                rows, nested = self.rows(path, model, discriminator=(key, value))
                self.out.append(table(["key", "type", "default", "allowed values", "example"], rows))
                for sub_key, sub in nested:
                    self.section((*path, sub_key), sub, level + 2)
            return
        model = self.schema.model(inner)
        if model is None:  # a free table such as [sweep]
            self.out.append(self.free_table(dotted, s))
            return
        if model.get("description"):
            self.out.append(prose(model["description"]) + "\n")
        rows, nested = self.rows(path, model)
        self.out.append(table(["key", "type", "default", "allowed values", "example"], rows))
        for sub_key, sub in nested:
            self.section((*path, sub_key), sub, level + 1)

    def what(self, prop: dict) -> str:
        """One line on a top-level section: its model's docstring, else what it is made of."""
        s = self.schema.resolve(prop)
        if s.get("description"):
            return prose(s["description"])
        found = self.schema.variants(s)
        if found:
            return f"a table chosen by `{found[0]}`: " + ", ".join(code(json.dumps(v)) for v, _ in found[1])
        model = self.schema.model(s)
        if model:
            return "keys " + ", ".join(code(k) for k in model["properties"])
        return self.schema.type_text(s)

    def free_table(self, dotted: str, s: dict) -> str:
        value = None
        for _, doc in self.docs.items():
            if doc.get(dotted):
                value = doc[dotted]
                break
        lines = [
            f"Type: {self.schema.type_text(s)}; default {code(toml_value(s.get('default', {})))}.",
            "",
        ]
        if value:
            lines += ["Example (from a built-in scenario):", "", "```toml", f"[{dotted}]"]
            lines += [f"{_toml_key(k)} = {toml_value(v, limit=10**6)}" for k, v in value.items()]
            lines += ["```", ""]
        return "\n".join(lines) + "\n"

    def render(self) -> str:
        root = self.schema.root
        required = set(root.get("required", []))
        self.out.append(
            "<!-- generated by docs/_ext/generate.py from ExperimentSpec.model_json_schema(); do not edit -->\n"
        )
        self.out.append(prose(root.get("description", "")) + "\n")
        summary = []
        for key, prop in root["properties"].items():
            summary.append(
                [
                    f"{{ref}}`[{key}] <{_anchor(key)}>`",
                    "required" if key in required else "optional",
                    self.what(prop),
                ]
            )
        self.out.append(table(["section", "", "what it holds"], summary))
        for key, prop in root["properties"].items():
            self.section((key,), prop, 2)
        return "\n".join(self.out)


def _anchor(dotted: str) -> str:
    return "key-" + dotted.replace(".", "-").replace("_", "-").lower()


def scenario_reference() -> str:
    return _Reference().render()


# ---------------------------------------------------------------------------------------------
# Registry tables


def option_names(params) -> str:
    """The option names a pydantic options model declares (``—`` for none)."""
    if params is None:
        return OPEN
    names = list(params.model_json_schema().get("properties", {}))
    return ", ".join(code(n) for n in names) or OPEN


def options_tables(entries, where: str) -> str:
    """One table per distinct options model: option, type, default, allowed values, description.

    ``entries`` are (name, params) pairs; entries sharing one model share one table.
    """
    groups: dict[str, tuple[list[str], object]] = {}
    for name, params in entries:
        if params is None:
            continue
        key = json.dumps(params.model_json_schema(), sort_keys=True)
        groups.setdefault(key, ([], params))[0].append(name)
    out = []
    for names, params in groups.values():
        schema = _Schema(params.model_json_schema())
        required = set(schema.root.get("required", []))
        rows = []
        for key, prop in schema.root.get("properties", {}).items():
            if key in required:
                default = "required"
            elif "default" in prop:
                default = "(none)" if prop["default"] is None else code(toml_value(prop["default"]))
            else:
                default = ""
            rows.append(
                [code(key), schema.type_text(prop), default, schema.allowed(prop), prose(prop.get("description", ""))]
            )
        shown = ", ".join(code(n) for n in names)
        about = schema.root.get("description", "")
        if about.startswith("Options of"):  # the model's docstring repeats what the heading says
            about = about.partition(": ")[2]
        about = about[:1].upper() + about[1:]
        out.append(f"Options of {shown}, {where}." + (f" {prose(about)}" if about else "") + "\n")
        out.append(table(["option", "type", "default", "allowed values", "description"], rows))
    return "\n".join(out)


def registry_estimators() -> str:
    from choicelab.estimators.registry import list_estimators

    entries = [e for e in list_estimators() if not e.name.startswith("contract-check.")]
    rows = [
        [
            code(e.name),
            e.kind,
            ", ".join(e.consumes),
            "yes" if e.weighted else "no",
            option_names(e.params),
            prose(e.description) + (f" (needs the `{e.extra}` extra)" if e.extra else ""),
        ]
        for e in entries
    ]
    return (
        table(["name", "kind", "consumes", "weighted", "options", "description"], rows)
        + "\n"
        + options_tables([(e.name, e.params) for e in entries], "under `[estimators.options.NAME]`")
    )


def registry_measures() -> str:
    from choicelab.scenarios.measures import list_measures

    entries = list_measures()
    rows = [
        [code(m.name), m.per, ", ".join(m.needs) or OPEN, option_names(m.params), prose(m.description)] for m in entries
    ]
    return (
        table(["name", "per", "needs", "options", "description"], rows)
        + "\n"
        + options_tables([(m.name, m.params) for m in entries], "under `[measures.options.NAME]`")
    )


def registry_conditions() -> str:
    from choicelab.scenarios.conditions import list_conditions

    rows = [[code(c.name), "yes" if c.clones else "no", prose(c.description)] for c in list_conditions()]
    return table(["name", "adds clones", "description"], rows)


def registry_weightings() -> str:
    from choicelab.estimators.weightings import list_weightings

    entries = list_weightings()
    rows = [
        [code(w.name), "yes" if w.needs_region else "no", option_names(w.params), prose(w.description)] for w in entries
    ]
    options = options_tables([(w.name, w.params) for w in entries], "beside `name` in `[estimators.weights]`")
    return table(["name", "needs the region", "options", "description"], rows) + "\n" + options


def registry_figures() -> str:
    from choicelab.reports.figures import list_figures

    rows = [
        [
            code(f.name),
            ", ".join(code(m) for m in f.measures) or "(any run)",
            "yes" if f.across_sweep else "no",
            prose(f.description),
        ]
        for f in list_figures().values()
    ]
    return table(["name", "drawn from measures", "across the sweep", "description"], rows)


def _readers():
    """The file-reader registry, where this version of choicelab has one (else None)."""
    try:
        from choicelab.sim.readers import list_readers
    except ImportError:
        return None
    return list_readers()


def registry_readers() -> str:
    rows = [
        [code(r.name), r.produces, ", ".join(code(x) for x in r.suffixes) or OPEN, prose(r.description)]
        for r in _readers() or []
    ]
    return table(["name", "produces", "file suffixes", "description"], rows)


def registry_axioms() -> str:
    from choicelab.axioms.base import list_axioms

    rows = [
        [f"{{ref}}`{a.id} <{a.id.lower()}>`", prose(a.name), prose(a.statement), prose(a.citation)]
        for a in list_axioms()
    ]
    return table(["id", "name", "statement", "citation"], rows)


# ---------------------------------------------------------------------------------------------
# One page per built-in scenario


def scenario_page(name: str) -> str:
    from choicelab.scenarios.spec import builtin_path, load_scenario

    scenario = load_scenario(name)
    text = builtin_path(name).read_text()
    fence = "````" if "```" in text else "```"
    seeds = len(scenario.seeds)
    sweep = ", ".join(f"{code(k)} over {len(v)} values" for k, v in scenario.sweep.items()) or "none"
    lines = [
        "<!-- generated by docs/_ext/generate.py from the built-in scenario; do not edit -->",
        "",
        f"# `{name}`",
        "",
        prose(scenario.description),
        "",
        f"Seeds: {seeds} (base seed {scenario.base_seed}); sweep: {sweep}.",
        "",
        "```bash",
        f"choicelab run {name}",
        "```",
        "",
        f"The file (`choicelab/scenarios/library/{name}.toml`), to copy and change:",
        "",
        f"{fence}toml",
        text.rstrip("\n"),
        fence,
        "",
    ]
    return "\n".join(lines)


def scenario_index() -> str:
    from choicelab.scenarios.spec import list_builtin, load_scenario

    rows = []
    for name in list_builtin():
        first = load_scenario(name).description.strip().splitlines()
        rows.append([f"{{doc}}`{name} </reference/scenarios/{name}>`", prose(first[0] if first else "")])
    return table(["scenario", "what it shows"], rows)


# ---------------------------------------------------------------------------------------------


def write_all(root) -> list[Path]:
    """Write every generated page under ``root`` (the ``docs`` folder); returns the files written."""
    from choicelab.axioms.base import list_axioms
    from choicelab.scenarios.spec import list_builtin

    root = Path(root)
    gen = root / "_generated"
    written: list[Path] = []
    _write(gen / "theory-table.md", theory_table(), written)
    for axiom in list_axioms():
        _write(gen / "theory" / f"{axiom.id}.md", theory_fragment(axiom.id), written)
    _write(gen / "scenario-file.md", scenario_reference(), written)
    for registry in REGISTRIES:
        _write(gen / "registries" / f"{registry}.md", globals()[f"registry_{registry}"](), written)
    readers = registry_readers() if _readers() is not None else "No reader registry in this version.\n"
    _write(gen / "registries" / "readers.md", readers, written)
    _write(gen / "builtin-scenarios.md", scenario_index(), written)
    pages = root / SCENARIO_PAGES
    names = list_builtin()
    for name in names:
        _write(pages / f"{name}.md", scenario_page(name), written)
    for stale in pages.glob("*.md"):
        if stale.stem not in names:
            stale.unlink()
    return written


if __name__ == "__main__":  # python docs/_ext/generate.py [ROOT]
    import sys

    for path in write_all(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parents[1]):
        print(path)

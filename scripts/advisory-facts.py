#!/usr/bin/env python3
"""Extract the facts of a RustSec advisory database for canopy's offline check.

CI cannot reach GitHub, where the database lives, so scripts/test checks the
dependency tree against a snapshot kept in third_party/. The snapshot holds
only what `cargo deny check advisories` matches on: identifiers, package,
dates, kind, affected platforms and functions, and version ranges. The
advisories' titles and texts stay upstream; each entry points at its page.

usage: scripts/advisory-facts.py ADVISORY_DB_CHECKOUT OUT_DIR
"""

import json
import pathlib
import sys
import tomllib

# Front-matter keys that are facts cargo-deny uses or reports.
ADVISORY_KEYS = (
    "id",
    "package",
    "date",
    "url",
    "informational",
    "withdrawn",
    "aliases",
    "related",
    "categories",
    "cvss",
    "license",
    "expect-deleted",
)
AFFECTED_KEYS = ("arch", "os", "functions")
VERSIONS_KEYS = ("patched", "unaffected")


def toml_value(value):
    """One TOML value; JSON string escapes are valid TOML basic strings."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    if isinstance(value, dict):
        pairs = (f"{json.dumps(k)} = {toml_value(v)}" for k, v in sorted(value.items()))
        return "{ " + ", ".join(pairs) + " }"
    raise TypeError(f"unexpected value {value!r}")


def table(name, source, keys):
    lines = [f"[{name}]"]
    for key in keys:
        if key in source:
            lines.append(f"{key} = {toml_value(source[key])}")
    return "\n".join(lines)


def facts(path):
    text = path.read_text(encoding="utf-8")
    if not text.startswith("```toml\n"):
        raise ValueError(f"{path}: no TOML front matter")
    front = text[len("```toml\n") : text.index("\n```", len("```toml"))]
    parsed = tomllib.loads(front)
    advisory = parsed["advisory"]
    tables = [table("advisory", advisory, ADVISORY_KEYS)]
    if "affected" in parsed:
        tables.append(table("affected", parsed["affected"], AFFECTED_KEYS))
    tables.append(table("versions", parsed.get("versions", {}), VERSIONS_KEYS))
    ident = advisory["id"]
    return (
        "```toml\n"
        + "\n\n".join(tables)
        + "\n```\n\n"
        + f"# {ident}\n\n"
        + f"Facts only; the advisory is at https://rustsec.org/advisories/{ident}.html\n"
    )


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    source, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    count = 0
    for top in ("crates", "rust"):
        for path in sorted((source / top).rglob("*.md")):
            target = out / path.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(facts(path), encoding="utf-8")
            count += 1
    # The minimum rustsec version the database format needs.
    support = tomllib.loads((source / "support.toml").read_text(encoding="utf-8"))
    (out / "support.toml").write_text(
        table("rustsec", support["rustsec"], ("version",)) + "\n", encoding="utf-8"
    )
    print(f"{count} advisories", file=sys.stderr)


if __name__ == "__main__":
    main()

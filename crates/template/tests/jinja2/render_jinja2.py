#!/usr/bin/env python3
"""Renders the differential corpus with Python's Jinja2, the reference our engine is held to.

Reads a JSON array of cases from stdin, `[{"name": …, "template": …, "context": {…}}]`, renders each
template string with the environment below and writes one JSON object to stdout:
`{name: {"ok": output} | {"error": "ExceptionType: message"}}`.

The environment is Jinja2's defaults (autoescape off, keep_trailing_newline=False, newline
sequence "\\n", no trim_blocks/lstrip_blocks) with strict undefined and the loop-controls extension,
which is what our engine promises to match. Used by crates/template/tests/jinja2_differential.rs;
the pinned version is in tests/python/requirements.txt.
"""

import json
import sys

import jinja2


def environment() -> jinja2.Environment:
    return jinja2.Environment(
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        extensions=["jinja2.ext.loopcontrols"],
    )


def render(case: dict) -> dict:
    try:
        template = environment().from_string(case["template"])
        return {"ok": template.render(case.get("context") or {})}
    except Exception as error:  # noqa: BLE001 - every failure is an outcome to compare
        return {"error": f"{type(error).__name__}: {error}"}


def main() -> None:
    cases = json.load(sys.stdin)
    results = {case["name"]: render(case) for case in cases}
    # ASCII JSON: the bytes on the pipe do not depend on the locale's encoding.
    sys.stdout.write(json.dumps(results, ensure_ascii=True))
    sys.stdout.write("\n")


if __name__ == "__main__":
    if "--version" in sys.argv:
        print(jinja2.__version__)
    else:
        main()

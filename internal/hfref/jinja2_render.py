"""Renders chat templates the way transformers' apply_chat_template does: Jinja2's immutable
sandbox with trim_blocks and lstrip_blocks, the loopcontrols extension, raise_exception and
strftime_now as globals, and a tojson that keeps non-ASCII text (ensure_ascii off).

stdin: {"templates": {name: source}, "cases": [{"vars": {...}}], "vars": {name: {...}}}.
stdout: {name: [{"text": s} or {"error": s}]}, one entry per case.
"""
import datetime
import json
import sys

import jinja2
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment


def raise_exception(message):
    raise jinja2.exceptions.TemplateError(message)


def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
    return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def strftime_now(fmt):
    return datetime.datetime.now().strftime(fmt)


def main():
    data = json.load(sys.stdin)
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    out = {}
    for name, source in data["templates"].items():
        tmpl = env.from_string(source)
        results = []
        for case in data["cases"]:
            variables = dict(data.get("vars", {}).get(name, {}))
            variables.update(case["vars"])
            try:
                results.append({"text": tmpl.render(**variables)})
            except Exception as e:  # the template's own raise_exception, or a render error
                results.append({"error": str(e)})
        out[name] = results
    json.dump(out, sys.stdout, ensure_ascii=False)


main()

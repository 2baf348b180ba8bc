// Renders chat templates with @huggingface/jinja, the renderer of transformers.js (it applies
// transformers' trim_blocks and lstrip_blocks). stdin: {"templates": {name: source},
// "cases": [{"vars": {...}}], "vars": {name: {...}}}: each case's variables, merged over the
// template's own (bos_token, ...). stdout: {name: [{"text": s} or {"error": s}]}.
"use strict";
const { Template } = require("@huggingface/jinja");

const input = JSON.parse(require("fs").readFileSync(0, "utf8"));
const out = {};
for (const [name, source] of Object.entries(input.templates)) {
  const tmpl = new Template(source);
  out[name] = input.cases.map((c) => {
    try {
      return { text: tmpl.render({ ...(input.vars[name] || {}), ...c.vars }) };
    } catch (e) {
      return { error: String(e && e.message || e) };
    }
  });
}
process.stdout.write(JSON.stringify(out));

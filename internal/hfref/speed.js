// Times Hugging Face's tokenizers (Rust, through the Node bindings) encoding texts without
// special tokens. stdin: {"files": {name: path}, "texts": {label: text}, "minSeconds": s}.
// stdout: {name: {label: {"tokens": n, "seconds": s, "reps": k}}}: the best of k encodes, after
// one warm-up encode, repeating until minSeconds have passed.
"use strict";
const { Tokenizer } = require("tokenizers");

async function main() {
  const input = JSON.parse(require("fs").readFileSync(0, "utf8"));
  const out = {};
  for (const [name, file] of Object.entries(input.files)) {
    const tok = Tokenizer.fromFile(file);
    out[name] = {};
    for (const [label, text] of Object.entries(input.texts)) {
      const n = (await tok.encode(text, null, { addSpecialTokens: false })).getIds().length;
      let best = Infinity, reps = 0;
      const start = process.hrtime.bigint();
      while (reps < 3 || Number(process.hrtime.bigint() - start) / 1e9 < input.minSeconds) {
        const t0 = process.hrtime.bigint();
        await tok.encode(text, null, { addSpecialTokens: false });
        best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e9);
        reps++;
      }
      out[name][label] = { tokens: n, seconds: best, reps };
    }
  }
  process.stdout.write(JSON.stringify(out));
}

main().catch((e) => { console.error(e && e.stack || e); process.exit(1); });

// Encodes and decodes with Hugging Face's tokenizers library (the Rust implementation, through
// its Node bindings). stdin: {"files": {name: path}, "texts": [...], "decode": {name: [[ids]]}}.
// stdout: {name: {"plain": [[ids]], "special": [[ids]], "decoded": [...], "decodedSpecial": [...],
// "extra": [...]}}: ids without and with the post-processor's special tokens, the decodes of
// both (skip_special_tokens false), and the decodes of the extra id sequences.
"use strict";
const { Tokenizer } = require("tokenizers");

async function main() {
  const input = JSON.parse(require("fs").readFileSync(0, "utf8"));
  const out = {};
  for (const [name, file] of Object.entries(input.files)) {
    const tok = Tokenizer.fromFile(file);
    const r = { plain: [], special: [], decoded: [], decodedSpecial: [], extra: [] };
    for (const text of input.texts) {
      const plain = (await tok.encode(text, null, { addSpecialTokens: false })).getIds();
      const special = (await tok.encode(text, null, { addSpecialTokens: true })).getIds();
      r.plain.push(plain);
      r.special.push(special);
      r.decoded.push(await tok.decode(plain, false));
      r.decodedSpecial.push(await tok.decode(special, false));
    }
    for (const ids of (input.decode || {})[name] || []) {
      r.extra.push(await tok.decode(ids, false));
    }
    out[name] = r;
  }
  process.stdout.write(JSON.stringify(out));
}

main().catch((e) => { console.error(e && e.stack || e); process.exit(1); });

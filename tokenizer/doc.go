// Package tokenizer turns text into token ids and back for the trainer, the generator and the
// datasets.
//
// Two kinds live here behind one small interface, Tokenizer:
//
//   - ByteLevel, the default: one token per byte (ids 0-255) plus six special tokens (BOS,
//     EOS, PAD and the role markers of the prompt template). It needs no training and no
//     files, every string round-trips exactly, and tiny models learn over it quickly, which
//     is what the laptop-sized embedded study needs.
//   - BPE, a Hugging Face tokenizer.json (with its tokenizer_config.json) encoded exactly as
//     Hugging Face's tokenizers library encodes it, so that real checkpoints are fed the ids
//     they were trained on: byte-level files (GPT-2, Llama 3.x, SmolLM2, Qwen 2.5/3, Mistral
//     Nemo) and SentencePiece-style ones (Llama 2, TinyLlama, Mistral 7B, Gemma), with their
//     normalizers (NFC, NFKC, Prepend, Replace, ...), pre-tokenizers (Split patterns through
//     a small Oniguruma-compatible regex engine, ByteLevel, Metaspace, Digits, ...), byte
//     fallback, unk, added tokens and their flags, decoders and post-processors. BOS/EOS/PAD
//     come from tokenizer_config.json, which also carries the chat template (package data
//     renders it). The merge loop is a heap, O(n log n) in the length of a piece.
//
// Encode never adds BOS/EOS: the prompt or chat template (package data) decides where special
// tokens go. (*BPE).EncodeSpecial applies the file's post-processor, as Hugging Face's default
// add_special_tokens=True does. Save and Load keep a tokenizer next to a model in a checkpoint
// directory, in the Hugging Face layout (tokenizer.json + tokenizer_config.json), so a model
// directory says by itself how to read its ids; see Save for the file contents.
//
// The reference test (ORDERMERGE_HF_REFERENCE=1, see internal/hfref) compares every family
// with the Rust library on a varied corpus: ids with and without special tokens and decodes.
package tokenizer

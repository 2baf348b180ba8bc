// Package tokenizer turns text into token ids and back for the trainer, the generator and the
// datasets.
//
// Two kinds live here behind one small interface, Tokenizer:
//
//   - ByteLevel, the default: one token per byte (ids 0-255) plus six special tokens (BOS,
//     EOS, PAD and the role markers of the prompt template). It needs no training and no
//     files, every string round-trips exactly, and tiny models learn over it quickly, which
//     is what the laptop-sized embedded study needs.
//   - BPE, a loader for Hugging Face tokenizer.json files of the byte-level BPE family (GPT-2,
//     Llama 3, Qwen 2), so that real checkpoints are fed the ids they were trained on.
//
// Encode never adds BOS/EOS: the prompt template (package data) decides where special tokens
// go, so one template serves every tokenizer. Save and Load keep a tokenizer next to a model in
// a checkpoint directory, in the Hugging Face layout (tokenizer.json + tokenizer_config.json),
// so a model directory says by itself how to read its ids; see Save for the file contents.
package tokenizer

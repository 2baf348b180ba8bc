// Package tensor owns the on-disk side of models: element types (F32, F16, BF16 and the other
// safetensors dtypes), named tensors, the safetensors file format, and Hugging Face-layout
// checkpoint directories (config.json, a single model.safetensors or shards with
// model.safetensors.index.json).
//
// The safetensors reader and writer are our own rather than an existing Go library because the
// project's memory goal needs streaming in both directions: the reader validates the whole
// header up front and then reads one tensor at a time with pread (never the whole file), and
// the writer computes the header from names, dtypes and shapes before any data exists, then
// accepts tensor data in any order at precomputed offsets. Memory therefore stays bounded by
// the tensors in flight, whatever the file size. Every file is written atomically: data goes to
// a temporary file in the destination folder, which is fsynced and renamed into place only when
// complete, so an error or a crash never leaves a partial file or damages an existing one.
//
// The reader never panics on any input; every rejection is a *FormatError that names the file
// and says what is wrong.
package tensor

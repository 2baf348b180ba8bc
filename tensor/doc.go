// Package tensor owns the on-disk side of models: element types (F32, F16, BF16 and the other
// safetensors dtypes), named tensors, the safetensors file format, and Hugging Face-layout
// checkpoint directories (config.json, a single model.safetensors or shards with
// model.safetensors.index.json).
//
// The safetensors reader and writer are our own rather than an existing Go library because the
// project's memory goal needs streaming in both directions: the reader validates the whole
// header up front and then reads one tensor at a time with pread (never the whole file) or
// serves it as a view of the memory-mapped file (MappedData, whose pages the caller gives back
// with ReleaseMapped, so resident memory stays bounded the same way), and
// the writer computes the header from names, dtypes and shapes before any data exists, then
// accepts tensor data in any order at precomputed offsets. Memory therefore stays bounded by
// the tensors in flight, whatever the file size. Every file is written atomically: data goes to
// a temporary file in the destination folder, which is fsynced and renamed into place only when
// complete, so an error or a crash never leaves a partial file or damages an existing one.
//
// A checkpoint folder is written the same way, beside its destination, and replaces an
// existing one by an atomic exchange of the two folders (renameat2 RENAME_EXCHANGE), so at any
// instant, a kill or a power loss included, the destination is the old version or the new one.
// On file systems without the exchange (NFS, some FUSE ones) the old folder is set aside first,
// and the next writer puts it back if the process died before the new one was in place. Every
// writer of a folder holds its lock (LockFolder: flock on a file beside it, released by the
// kernel however the process ends), so a second run into the same output is refused with the
// holder's PID; taking the lock also removes the temporaries of processes that are no longer
// running (their names carry host, PID and start time), never those of live ones. Each step
// of a commit is a fault point at which crash tests kill the process (fault.go).
//
// The reader never panics on any input; every rejection is a *FormatError that names the file
// and says what is wrong. Only regular files are opened: a named pipe or a device given as a
// model is refused at once instead of hanging the run. (model/llama's CheckCheckpoint checks a
// config.json against the tensors beside it from the headers alone.) CheckHostMemory checks an
// estimate of what a job will allocate, before anything is allocated.
package tensor

// Package merge merges models: the paper's parameter-selection merging (Ju et al., EMNLP 2024)
// with resampling, and the standard baselines (linear, task arithmetic, TIES, DARE, SLERP,
// model stock), on in-memory models (Merge) or streamed over checkpoint folders of any size
// (Run, Config). It owns the methods, their mergekit-compatible YAML configuration, the
// streaming engine and the merge report. It works on named tensors only and never imports the
// training code, so it merges any checkpoint, however it was trained.
//
// # Methods
//
// Each method is a small type behind one interface (Method), registered under its mergekit
// name; its parameters are declared once (Methods, LookupMethod) and every value is checked for every
// tensor before any tensor data is read. Notation: base b, models x_1..x_K, task vectors
// d_i = x_i - b, weights w_i. Semantics follow mergekit 0.1.4 (commit a6e4028, 2026-06),
// checked against its outputs in the mergekit-reference corpus. In float32 the arithmetic is
// float32 in, float64 accumulation, float32 out, then rounded to the output dtype (round to
// nearest even). In a 16-bit compute dtype (the config's dtype, or bf16 inputs without one),
// linear and the task-vector methods round after every operation as mergekit's torch code
// does (RoundTo; sums accumulate in float32); the other methods compute in float32 and round
// once. The in-memory Merge computes in float32 unless Options.DType says otherwise.
//
//   - linear: sum w_i x_i, divided by sum w_i when normalize (default true). weight defaults to 1.
//     With a base, the base is one more input, weighted by the weight under its own models
//     entry, else the top-level weight, else 1 (mergekit 0.1.4); include_base false leaves it
//     out (ordermerge's rule before issue 14, which the study's weighted average uses).
//   - parameter_selection: each element is copied from model i drawn with probability
//     w_i / sum w (uniform by default). granularity "row" draws once per slice along the first
//     dimension (a 1-D tensor is one row) and "tensor" once per tensor.
//     With resample (needs a base): where the drawn element equals the base's (d_i = 0),
//     resample_n 0 (default) redraws once among the models whose element differs from the
//     base (probability proportional to weight; zero-weight models never), keeping the base
//     value only when none differs, so no base-equal element is kept while some model differs;
//     resample_n n > 0 redraws up to n times among all models (the paper's "up to n times")
//     and keeps the base value if every draw equals it. At row or tensor granularity, a unit
//     counts as equal to the base when all its elements are.
//   - task_arithmetic: b + lambda * sum w_i d_i (divided by sum w_i only with normalize,
//     default false; a sum under 1e-8 in magnitude counts as 1).
//   - ties: each d_i keeps its floor(density * n) largest magnitudes; among equal magnitudes
//     at the threshold, those mergekit keeps: the first of torch's CPU sort, libstdc++'s
//     introsort, which torchsort.go repeats (tensors over 4M elements keep them in element
//     order); the elected sign is that of sum w_i d_i rounded as mergekit's float32 (or
//     compute dtype) arithmetic rounds it (0 counts as +);
//     only the w_i d_i of that sign are added; with normalize (default true) divided by the
//     sum of their w_i (0 becomes 1); times lambda; plus b.
//   - dare_linear, dare_ties: each element of d_i is kept with probability density; kept
//     elements are rescaled so that the L1 norm of d_i is unchanged (rescale_mode l1, the
//     default, as mergekit 0.1.4 does; skipped when either norm is under 1e-7, and at density
//     1) or by 1/density (rescale_mode inverse_density, the DARE paper's rule and ordermerge's
//     default before issue 14); rescale false keeps them as they are.
//     Then as task_arithmetic (dare_linear) or ties without trimming (dare_ties); normalize
//     defaults to false for both, as in mergekit.
//   - breadcrumbs, breadcrumbs_ties: each d_i drops its int(gamma*n) largest magnitudes
//     (gamma default 0.01) and then its smallest, keeping int(density*n); in ascending order
//     of magnitude the kept positions are [n - int(density*n) - int(gamma*n), n - int(gamma*n))
//     equal magnitudes ordered by torch's sort (see ties), as mergekit 0.1.4; as mergekit,
//     when int(gamma*n) is 0 nothing is kept (its slice [n_bot:-0] is empty). Then as
//     task_arithmetic or ties (sign election), normalize default false.
//   - della, della_linear: DELLA's MAGPRUNE (mergekit 0.1.4's della_magprune), then as ties
//     without trimming (sign election; normalize default true) or task_arithmetic (normalize
//     default false), times lambda (default 1). With density 1 (the default) the task vectors
//     are unchanged; density 0 drops them. With 0 < density < 1, each d_i is read as a 2-D
//     tensor (a 1-D one as one row; more dimensions rank along dimension 1, as torch's
//     argsort(dim=1)): within each row, element j gets its rank r_j in 0..B-1 by ascending
//     magnitude (B the row length; equal magnitudes in torch's CPU sort order, see ties) and
//     is kept with probability p_j = (density - epsilon) + r_j/(B-1) * 2 epsilon (epsilon
//     default 0.15; density - epsilon and density + epsilon must lie in (0, 1), and B must be
//     at least 2, or it is an error, as in mergekit), computed in float32 (in bf16 compute,
//     each operation rounded to bf16 as torch 1.13 does, Python scalars rounded first). With
//     rescale (default true) the kept elements are multiplied by sum|d_i| / sum|kept d_i|,
//     skipped when either is under 1e-7 (mergekit's L1 rule, not the DELLA paper's 1/p_j).
//     The keep draws are ordermerge's (see Random numbers).
//   - nearswap: base and one model; w = clamp(t / |b - x|, 0, 1) per element (1 where equal);
//     w x + (1 - w) b.
//   - nuslerp: two models (or their task vectors, added back to a base) interpolated
//     spherically at t = w_2 / (w_1 + w_2) (0.5 when |w_1 + w_2| < 1e-6): one angle for the
//     tensor (nuslerp_flatten, default), per row, or with nuslerp_row_wise per column; norms
//     floored at 1e-7, linear where sin(theta) < 1e-8.
//   - ram, ramplus_tl: per element the task vectors with |d_i| > epsilon (1e-5) count: one
//     alone is taken whole (ramplus_tl: times 1 + r clamp(shared_i / unique_i, 0, alpha), r 0.1,
//     alpha 0.2, from each model's counts of shared and unique elements in the tensor), several
//     are averaged; plus b.
//   - arcee_fusion: base and one model; importance |x - b| times the row's (last dimension)
//     KL(softmax(x) + 1e-8 || softmax(b) + 1e-8); x where the importance reaches
//     median + 1.5 (q3 - q1) (order statistics at floor(q (n - 1))), else b. mergekit samples
//     10^6 importances with torch's RNG for larger tensors; ordermerge uses them all.
//   - slerp: between the base and one model, or two models without a base; each tensor is one
//     flat vector; theta = arccos(v0.v1 / |v0||v1|); when |cos| > 0.9995 or a vector is zero,
//     linear interpolation; else sin((1-t)theta)/sin(theta) v0 + sin(t theta)/sin(theta) v1.
//   - model_stock: K >= 2 models and a base; cos is the mean pairwise cosine of the d_i (norm
//     products floored at 1e-6, cosines clamped to [-1, 1]); t = K cos / (1 + (K-1) cos)
//     (0 when the denominator vanishes); result t * mean(x_i) + (1 - t) b. filter_wise: one
//     cos and t per row (the last dimension), as mergekit.
//   - karcher: no base; the Karcher mean on the unit sphere of the models' directions (equal
//     weights, models with norm <= tol left out, max_iter 10, tol 1e-5, mergekit 0.1.4's
//     iteration), times the mean norm. The iterates are combinations of the models, so the
//     iteration runs on K coefficients from their Gram matrix (one pass).
//   - multislerp: weights normalised (normalize_weights, default); the unit vectors u_i of the
//     models (or, with a base, of the task vectors: |v| + eps, eps 1e-8), their weighted mean
//     normalised, times sum w_i |v_i| (plus the base). mergekit's tangent-space step adds the
//     weighted tangents at that mean, which sum to zero, so this is its result (to rounding).
//     When the mean vanishes: two inputs fall back to sum w_i v_i; more are an error.
//   - sce: with select_topk < 1, only the int(select_topk * m) elements of largest variance of
//     the task vectors across models are kept (m: elements with non-zero variance); weights
//     w_i = mean of the kept d_i^2, normalised (uniform when they sum under 1e-6); per element
//     the d_i of the elected sign (that of sum d_i) are averaged with weights w_i (divisor
//     floored at 1e-6) and added to b.
//
// # Your own methods
//
// Methods are an extension point: a Method (Info and NewKernel) returns a Kernel per tensor,
// which the streaming engine feeds Blocks of decoded float32 elements, statistics passes
// first, under the same memory budget as the built-in methods. NewRegistry holds the built-in
// methods; Registry.Register adds one, from a package or from a notebook cell (the interfaces
// have no generics, so interpreted types implement them). Options.Registry, Config.Registry,
// Registry.ParseConfig and Registry.LoadConfig say which registry a merge looks its method up
// in; there is no package-level registry.
//
// # Random numbers
//
// Randomised methods (parameter_selection, dare_linear, dare_ties, della, della_linear) derive
// every random number
// from the seed, the tensor name and a counter, so a merge gives the same bytes whatever the
// tensor order, the number of goroutines, the memory budget or the chunking. With all
// arithmetic modulo 2^64:
//
//	mix(z)      = SplitMix64's output function:
//	              z = (z ^ z>>30) * 0xbf58476d1ce4e5b9; z = (z ^ z>>27) * 0x94d049bb133111eb; z ^ z>>31
//	γ           = 0x9e3779b97f4a7c15
//	h           = 64-bit FNV-1a of the tensor name's UTF-8 bytes
//	              (offset 14695981039346656037, prime 1099511628211)
//	tensorKey   = mix(mix(seed) ^ h)
//	streamKey_s = mix(tensorKey + (s+1)·γ)
//	x_s(c)      = mix(streamKey_s + (c+1)·γ)   (the (c+1)-th SplitMix64 output from streamKey_s)
//	u_s(j)      = x_s(j/2) >> 32 for even j, x_s(j/2) & (2^32-1) for odd j (j/2 rounded down)
//
// so each output serves two counters, and u_s(j) / 2^32 is uniform in [0, 1).
// parameter_selection draws with stream 0 at counter j = the element index (row index at
// row granularity, 0 at tensor granularity): it takes the first model i whose cumulative
// share (w_1 + ... + w_i) / sum w, computed in float64 left to right, exceeds u_0(j) / 2^32.
// Resampling with resample_n 0 uses u_1(j) over the eligible models the same way (their
// cumulative share of the eligible weight); with resample_n n, attempt a uses u_a(j) over all
// models. DARE keeps element j of model m (m = the model's 0-based position in the models
// list) when u_m(j) / 2^32 < density; DELLA keeps it when u_m(j) / 2^32 < p_j, its rank's
// probability (the float32, or bf16, value above). mergekit draws both masks with
// torch.bernoulli from torch's global generator, which ordermerge does not reproduce: at
// density < 1 the same config gives a different (equally distributed) mask, and the corpus
// checks DARE and DELLA only at density 1.
//
// # Streaming
//
// Run reads the tensors of checkpoint files through read-only memory maps of the files
// (tensor.Reader.MappedData; elsewhere, and for LoRA and vocabulary-permuted inputs, with
// positioned reads into buffers), a chunk at a time, and writes the output through tensor's
// streaming writer at precomputed offsets: no tensor file, input or output, is ever held
// whole. Float32 inputs are handed to the kernels in place; the pages of a mapped input are
// given back (madvise) every 4 MiB, so re-reading a tensor in a later pass costs minor page
// faults, not copies or disk reads, and a file truncated during the merge makes it fail with
// an error instead of a crash. Memory is bounded by the budget (RunOptions.MaxMemory,
// DefaultMaxMemory): each of W workers (one tensor each, W = GOMAXPROCS or fewer; the largest
// tensors first) holds `chunk` elements of every input (read buffers, or at most the same of
// mapped pages) and two of the output (one is written by the worker's writer goroutine while
// the next is computed, so computing overlaps the disk), float32 blocks of 65536 elements
// per input, and the methods' per-tensor state (top-k's count tables and tie order, DELLA's
// ranking and keep bits), kept in a per-worker arena from tensor to tensor; chunk =
// what remains of budget/W divided by the bytes per element of all inputs and two outputs.
// Element-wise methods process any tensor in one pass, in chunks of at most 2^20 elements (so
// the buffers stay in cache; their memory use is far below the budget). Methods that need
// statistics of a whole tensor first make statistics passes over it — ties 2 (an exact top-k
// by a two-level radix count of the magnitudes' float bits), slerp 1, model_stock 1, DARE
// with l1 rescaling 1, DELLA at density < 1 with rescale or with rows that straddle
// 65536-element blocks 1, parameter_selection with resampling at row/tensor granularity 1 —
// then the output pass. DELLA ranks each row inside a block when it sees the block; a row
// that straddles a block boundary is collected and ranked in the statistics pass, and its
// keep bits (1 bit per element) are held until it is written; with rescale (mergekit's
// default) the statistics pass ranks every row anyway and keeps every keep bit, so the output
// pass does not rank again. A row (the elements after dimension 0) may have at most 2^20
// elements. Statistics are summed per 65536-element block in element order, so results do
// not depend on the budget.
//
// The output folder is built under a hidden temporary name and renamed into place when
// complete; an error or cancellation (checked between chunks) removes it, and an existing
// output is replaced only with Force. config.json (torch_dtype set to the output dtype,
// num_hidden_layers and vocab_size to what was written, every other key kept),
// generation_config.json and the tokenizer files are copied from the base (or the first model;
// tokenizer_source can name another input), and merge_config.yaml records the merge for
// reproduction.
//
// # Configuration
//
// Config follows mergekit's YAML schema, with the semantics of mergekit 0.1.4 (commit
// a6e4028, 2026-06; the reference corpus's version): merge_method, base_model, models[].model
// and models[].parameters or slices, parameters, dtype, out_dtype, tokenizer_source or
// tokenizer, chat_template; seed goes under parameters. Parsing is strict: an unknown key or
// parameter is an error naming it, its path and its line, and so is every mergekit feature
// ordermerge does not support (modules, per-slice base_model and residual_weight, DoRA
// adapters, named chat templates other than chatml...). A model entry naming the base's
// folder is the base (mergekit configs often list it). A per-model parameter (weight, density) is looked up in
// the model's parameters, then its slice's, then the top-level ones, then its default. A
// value is a scalar; a list of numbers, a gradient over the layers, interpolated
// piecewise-linearly at t = layer/(L-1) (L from config.json's num_hidden_layers, else the
// tensor names; within a slice, L is the slice's layer count, and t = 1 for a one-layer
// slice); or a list of {filter, value}: the first entry whose filter is a substring of the
// tensor name applies, an entry without filter matches all, and when none matches the next
// level is used. Tensors outside the layers (embed_tokens, model.norm, lm_head) take t = 0, a
// gradient's first value, as mergekit does since fd5eb19 (2025-03); ordermerge_compat:
// mergekit-pre-2025-03 (Config.Compat) gives the tensors after the layers t = 1, as before.
// dtype is the compute dtype, as in mergekit: without it a tensor is computed in its inputs'
// dtype when they all have the same one, else in float32; it also sets the output dtype when
// out_dtype is absent (see Methods for what a 16-bit compute dtype does).
//
// # Slices
//
// slices: [{sources: [{model, layer_range: [from, to], parameters}], parameters}] builds the
// output layer by layer: each slice's sources have the same number of layers, merged layer by
// layer (source layer from+k becomes the next output layer); the slices stack, and
// config.json's num_hidden_layers is their total. embed_tokens comes from the first slice's
// sources and model.norm/lm_head from the last slice's, with those sources' parameters. A
// source that is the base_model is the base of its slice's tensors. passthrough copies the one
// source of each tensor (times its scale parameter, default 1) and ignores base_model: with
// slices it stacks layer ranges of several models.
//
// # Vocabularies, tied embeddings and tokenizers
//
// When the inputs' embed_tokens/lm_head have different numbers of rows (a fine-tune that
// added tokens) and no tokenizer source is set, the output keeps the rows every input has
// (mergekit's largest common submatrix, the first rows). With tokenizer_source (base, union
// or one of the models) or a tokenizer block ({source, pad_to_multiple_of}), every input's
// embedding rows are mapped by token to the output vocabulary (tokenizer.json's vocabulary
// and added tokens, ids below the config's vocab_size) before merging, as mergekit's
// PermutedEmbeddings does: a model's own row for a token it has; for a token it lacks, the
// row of the only model that has it, else the base's row when the base has it, else the mean
// of the rows of the models that have it; zeros when no model has it and for padding rows.
// The tokenizer block's tokens rules (source: a model, {kind: zero} or {kind: model_token,
// model, token or token_id}; force) replace that default row for their token, added to the
// vocabulary when missing; a model that has the token keeps its own row unless forced. A
// model without tokenizer.json shares the first one's vocabulary. The union keeps the base's
// ids and appends, model by model in id order, the ordinary tokens and then the added tokens
// the base lacks (as added tokens in the output tokenizer.json). config.json's vocab_size
// follows the rows written. A model with tie_word_embeddings and no lm_head tensor contributes
// its embed_tokens as lm_head when another input has an lm_head. chat_template: auto (the
// template most inputs have, the first of those tied), chatml, or a Jinja template; it is
// written into tokenizer_config.json.
//
// # LoRA references and multi-merge files
//
// A model path MODEL+ADAPTER names a PEFT LoRA adapter folder (adapter_config.json: r,
// lora_alpha, target_modules, fan_in_fan_out, use_rslora, rank_pattern, alpha_pattern;
// adapter_model.safetensors): W + (lora_alpha/r) B A is applied to each targeted weight as its
// chunks are read (transposed with fan_in_fan_out), summed in float64 and rounded once to the
// weight's dtype; nothing is written or held whole. A file of several YAML documents is a
// multi-merge (mergekit-multimerge, ParseConfigs and RunAll): every document but the final one
// has a name, its output goes to an intermediate folder, and a later merge uses the name as a
// model path.
//
// # Missing tensors and non-float tensors
//
// A tensor that not every input has is an error listing the first mismatches, unless
// AllowMissing: then it is merged over the inputs that have it when that is a valid merge for
// the method (enough models, the base where needed; weights and probabilities are those of the
// models present), and otherwise copied from the base, or the first model that has it; the
// report notes which. Non-float tensors (integer buffers, masks) must have the same dtype and
// shape everywhere and are copied byte for byte from the base (or the first model).
//
// # Report
//
// Every merge returns a Report: per tensor, the fraction of elements taken from each model
// (selecting methods), the fraction of each model's elements equal to the base's (where
// resampling acts), each model's L2 distance to the stored result, and totals. It renders
// itself in a notebook (HTML, Markdown) and as text (String), and writes JSON. In-memory
// merges can also keep, per element, which model it came from (Options.KeepSources), the
// data of a selection map.
package merge

// Package llama is the Llama-style decoder that ordermerge fine-tunes: configured by a Hugging
// Face LlamaConfig (tensor.Config), with the tensor names and layouts of transformers'
// LlamaForCausalLM so its checkpoints load in that ecosystem and Hugging Face Llama
// checkpoints load here.
//
// The model is token embedding; per layer RMSNorm -> causal grouped-query attention with
// rotary embeddings -> residual -> RMSNorm -> SwiGLU MLP -> residual; final RMSNorm; LM head
// (tied to the embedding or not). Forward and backward passes are the operations of a
// compute.Device (the CPU, or a GPU) on buffers in the device's memory, allocated once per
// batch shape and reused: parameters, gradients and activations never leave the device, and
// the host sends token ids and reads back per-sample losses or next tokens. A Model
// implements compute.Model for the trainer, and adds what evaluation needs: logits for every
// position, the last position's logits for a batch of prefixes, and an incremental forward
// with a KV cache for generation (greedy decoding picks the next token on the device).
//
// A Model is not safe for concurrent use (its buffers are shared between calls); Clone gives
// an independent one.
package llama

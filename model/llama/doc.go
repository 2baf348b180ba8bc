// Package llama is the Llama-style decoder that ordermerge fine-tunes: configured by a Hugging
// Face LlamaConfig (tensor.Config), with the tensor names and layouts of transformers'
// LlamaForCausalLM so its checkpoints load in that ecosystem and Hugging Face Llama
// checkpoints load here.
//
// The model is token embedding; per layer RMSNorm -> causal grouped-query attention with
// rotary embeddings -> residual -> RMSNorm -> SwiGLU MLP -> residual; final RMSNorm; LM head
// (tied to the embedding or not). Forward and backward passes are the hand-written
// operations of compute/cpu on buffers allocated once per batch shape and reused. A Model
// implements compute.Model for the trainer, and adds what evaluation needs: logits for every
// position, the last position's logits for a batch of prefixes, and an incremental forward
// with a KV cache for generation.
//
// A Model is not safe for concurrent use (its buffers are shared between calls); Clone gives
// an independent one.
package llama

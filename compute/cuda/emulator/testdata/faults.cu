// faults.cu: kernels with the bugs the emulator must catch. Each launch fails with an error
// (never a hang), and the test checks what the message says.

#ifndef DYNAMIC_SHARED
#define DYNAMIC_SHARED(type, name) extern __shared__ type name[]
#endif

#define FULL 0xffffffffu

// half_barrier: only half the block reaches the barrier; the rest return.
extern "C" __global__ void half_barrier(float* out) {
  if (threadIdx.x < blockDim.x / 2) {
    __syncthreads();
    out[threadIdx.x] = 1.0f;
  }
}

// late_return: threads return before a barrier the others wait at.
extern "C" __global__ void late_return(float* out, int n) {
  if ((int)threadIdx.x >= n) return;
  __syncthreads();
  out[threadIdx.x] = 1.0f;
}

// two_barriers: odd and even threads wait at different barriers.
extern "C" __global__ void two_barriers(float* out) {
  if (threadIdx.x & 1) {
    __syncthreads();
  } else {
    __syncthreads();
  }
  out[threadIdx.x] = 1.0f;
}

// mixed_warp_ops: the lanes of a warp meet at a shuffle and a __syncwarp with one mask.
extern "C" __global__ void mixed_warp_ops(float* out) {
  float v = (float)threadIdx.x;
  if ((threadIdx.x & 31) < 16) {
    v = __shfl_xor_sync(FULL, v, 1);
  } else {
    __syncwarp();
  }
  out[threadIdx.x] = v;
}

// shuffle_vs_barrier: lanes 0-15 shuffle with the whole warp while lanes 16-31 wait at a
// barrier: no thread can go on.
extern "C" __global__ void shuffle_vs_barrier(float* out) {
  float v = (float)threadIdx.x;
  if ((threadIdx.x & 31) < 16) {
    v = __shfl_down_sync(FULL, v, 1);
  } else {
    __syncthreads();
  }
  out[threadIdx.x] = v;
}

// wrong_mask: a lane calls a shuffle with a mask that leaves it out.
extern "C" __global__ void wrong_mask(float* out) {
  float v = (float)threadIdx.x;
  if (threadIdx.x == 5) v = __shfl_sync(0x1u, v, 0);
  out[threadIdx.x] = v;
}

// trap_at traps in one thread of one block.
extern "C" __global__ void trap_at(float* out, int block, int thread) {
  if ((int)blockIdx.x == block && (int)threadIdx.x == thread) __trap();
  out[blockIdx.x * blockDim.x + threadIdx.x] = 1.0f;
}

// overrun writes one element past n.
extern "C" __global__ void overrun(float* out, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i <= n) out[i] = 1.0f;
}

// underrun writes one element before the start.
extern "C" __global__ void underrun(float* out) {
  if (threadIdx.x == 0) out[-1] = 1.0f;
}

// dyn_overrun writes one float past its dynamic shared memory (blockDim.x floats).
extern "C" __global__ void dyn_overrun(float* out) {
  DYNAMIC_SHARED(float, buf);
  buf[threadIdx.x + 1] = 1.0f;
  __syncthreads();
  out[threadIdx.x] = buf[threadIdx.x];
}

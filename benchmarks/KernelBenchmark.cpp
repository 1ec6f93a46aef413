// KernelBenchmark.cpp - the generated kernels of gemma-3-1b on their own.
//
// kernels/gemma-3-1b.mlir, compiled at build time by `gemmac compile-ir`
// through the cpu target's pipelines (tile-size policy, vectorization,
// OpenMP), exactly as inside a model:
//
//   build/bin/kernel-benchmark [--benchmark_filter=...]
//
// Matvec/<name>/<threads>: one token's projection; bytes_per_second counts
// the weight bytes read (N x K bf16), to set against the machine's read
// bandwidth (../shared/anchors/stream.c). Matmul/<name>/<threads>: 512
// tokens; FLOPS is 2 x 512 x N x K per second, to set against the measured
// vdpbf16ps peak (../shared/anchors/bf16_peak.c). Attention/<layer>/<depth>/
// <threads>: one decode step's attention at context depth <depth> of a local
// (window 512) or global layer; bytes_per_second counts the K and V bytes a
// step must read (min(depth, window) x 256 x 2 x 2), from DRAM as in a
// model (the calls cycle through arenas that outgrow the L3).

#include "runtime/EntryPoints.h"

#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>
#include <random>
#include <vector>

#include <sys/mman.h>

extern "C" void omp_set_num_threads(int);

namespace {

using gemma::MemRefDescriptor;

// Memory in 2 MiB pages where the kernel grants them, like the weights of a
// generated executable (runtime/Payload.h): in 4 KiB pages a matvec that
// streams hundreds of MB measures the TLB, not the kernel.
template <typename T> struct HugePageAllocator {
  using value_type = T;
  static constexpr size_t kPage = 2 << 20;
  HugePageAllocator() = default;
  template <typename U> HugePageAllocator(const HugePageAllocator<U> &) {}
  T *allocate(size_t count) {
    size_t bytes = (count * sizeof(T) + kPage - 1) / kPage * kPage;
    void *p = std::aligned_alloc(kPage, bytes);
    if (!p)
      throw std::bad_alloc();
    ::madvise(p, bytes, MADV_HUGEPAGE);
    return static_cast<T *>(p);
  }
  void deallocate(T *p, size_t) { std::free(p); }
  template <typename U> bool operator==(const HugePageAllocator<U> &) const {
    return true;
  }
  template <typename U> bool operator!=(const HugePageAllocator<U> &) const {
    return false;
  }
};
template <typename T> using HugeVector = std::vector<T, HugePageAllocator<T>>;

template <typename T, int N> struct Buffer {
  HugeVector<T> data;
  MemRefDescriptor<T, N> desc{};

  explicit Buffer(std::vector<int64_t> sizes) {
    int64_t count = 1;
    for (int64_t s : sizes)
      count *= s;
    data.resize(static_cast<size_t>(count));
    desc.allocated = desc.aligned = data.data();
    int64_t stride = 1;
    for (int d = N - 1; d >= 0; --d) {
      desc.sizes[d] = sizes[static_cast<size_t>(d)];
      desc.strides[d] = stride;
      stride *= sizes[static_cast<size_t>(d)];
    }
  }
};

// bf16 values in [-1, 1), as raw bits.
void fillBf16(HugeVector<uint16_t> &data, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  for (uint16_t &x : data) {
    float f = uniform(rng);
    uint32_t bits;
    std::memcpy(&bits, &f, sizeof bits);
    x = static_cast<uint16_t>(bits >> 16);
  }
}

void fillF32(HugeVector<float> &data, uint32_t seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  for (float &x : data)
    x = uniform(rng);
}

using ContractionFn = void (*)(MemRefDescriptor<uint16_t, 2> *,
                               MemRefDescriptor<uint16_t, 2> *,
                               MemRefDescriptor<float, 2> *);

void contraction(benchmark::State &state, ContractionFn fn, int64_t m,
                 int64_t n, int64_t k) {
  omp_set_num_threads(static_cast<int>(state.range(0)));
  Buffer<uint16_t, 2> x({m, k});
  Buffer<uint16_t, 2> w({n, k});
  Buffer<float, 2> y({m, n});
  fillBf16(x.data, 1);
  fillBf16(w.data, 2);
  for (auto _ : state) {
    fn(&x.desc, &w.desc, &y.desc);
    benchmark::ClobberMemory();
  }
  if (m == 1)
    state.SetBytesProcessed(state.iterations() * n * k * 2);
  else
    state.counters["FLOPS"] = benchmark::Counter(
        2.0 * double(m) * double(n) * double(k) * double(state.iterations()),
        benchmark::Counter::kIsRate, benchmark::Counter::kIs1000);
}

using AttentionFn = void (*)(MemRefDescriptor<float, 3> *out,
                             MemRefDescriptor<uint8_t, 1> *weights,
                             MemRefDescriptor<uint8_t, 1> *kvArena,
                             MemRefDescriptor<float, 3> *q,
                             MemRefDescriptor<float, 3> *k,
                             MemRefDescriptor<float, 3> *v, int64_t position);

// gemma-plan-kv-cache puts @local (2 x 512 x 256 bf16) then @global
// (2 x 16448 x 256 bf16) in the arena.
constexpr int64_t kArenaBytes = 2 * 512 * 256 * 2 + 2 * 16448 * 256 * 2;

// A decode step's K and V come from DRAM: four global layers of 16 MB at
// depth 16K outgrow the L3 between two steps. The benchmark cycles through
// kArenaCopies arenas (133 MB) so that each call finds its own cold, not
// left in the L3 by the call before, as one arena reused would be.
constexpr int kArenaCopies = 4;

void attention(benchmark::State &state, AttentionFn fn, int64_t window) {
  int64_t depth = state.range(0);
  omp_set_num_threads(static_cast<int>(state.range(1)));
  Buffer<uint8_t, 1> weights({64});
  std::vector<Buffer<uint8_t, 1>> arenas;
  // Keys and values of the earlier positions: small bf16 values.
  HugeVector<uint16_t> cache(static_cast<size_t>(kArenaBytes / 2));
  fillBf16(cache, 6);
  for (int i = 0; i < kArenaCopies; ++i) {
    arenas.emplace_back(std::vector<int64_t>{kArenaBytes});
    std::memcpy(arenas.back().data.data(), cache.data(), kArenaBytes);
  }
  Buffer<float, 3> q({1, 4, 256}), k({1, 1, 256}), v({1, 1, 256});
  fillF32(q.data, 3);
  fillF32(k.data, 4);
  fillF32(v.data, 5);
  size_t call = 0;
  for (auto _ : state) {
    MemRefDescriptor<float, 3> out{};
    fn(&out, &weights.desc, &arenas[call++ % kArenaCopies].desc, &q.desc,
       &k.desc, &v.desc, depth);
    std::free(out.allocated);
  }
  int64_t keys = window > 0 ? std::min(depth, window) : depth;
  state.SetBytesProcessed(state.iterations() * keys * 256 * 2 * 2);
}

} // namespace

#define GEMMA_KERNEL(name)                                                     \
  extern "C" void _mlir_ciface_matvec_##name(MemRefDescriptor<uint16_t, 2> *,  \
                                             MemRefDescriptor<uint16_t, 2> *,  \
                                             MemRefDescriptor<float, 2> *);    \
  extern "C" void _mlir_ciface_matmul_##name(MemRefDescriptor<uint16_t, 2> *,  \
                                             MemRefDescriptor<uint16_t, 2> *,  \
                                             MemRefDescriptor<float, 2> *);
GEMMA_KERNEL(q_proj)
GEMMA_KERNEL(kv_proj)
GEMMA_KERNEL(o_proj)
GEMMA_KERNEL(gate_proj)
GEMMA_KERNEL(down_proj)
GEMMA_KERNEL(lm_head)
#undef GEMMA_KERNEL

extern "C" void _mlir_ciface_gemma_attention_local(
    MemRefDescriptor<float, 3> *, MemRefDescriptor<uint8_t, 1> *,
    MemRefDescriptor<uint8_t, 1> *, MemRefDescriptor<float, 3> *,
    MemRefDescriptor<float, 3> *, MemRefDescriptor<float, 3> *, int64_t);
extern "C" void _mlir_ciface_gemma_attention_global(
    MemRefDescriptor<float, 3> *, MemRefDescriptor<uint8_t, 1> *,
    MemRefDescriptor<uint8_t, 1> *, MemRefDescriptor<float, 3> *,
    MemRefDescriptor<float, 3> *, MemRefDescriptor<float, 3> *, int64_t);

int main(int argc, char **argv) {
  struct Shape {
    const char *name;
    ContractionFn matvec, matmul;
    int64_t n, k;
  };
  const Shape shapes[] = {
      {"q_proj", _mlir_ciface_matvec_q_proj, _mlir_ciface_matmul_q_proj, 1024,
       1152},
      {"kv_proj", _mlir_ciface_matvec_kv_proj, _mlir_ciface_matmul_kv_proj, 256,
       1152},
      {"o_proj", _mlir_ciface_matvec_o_proj, _mlir_ciface_matmul_o_proj, 1152,
       1024},
      {"gate_proj", _mlir_ciface_matvec_gate_proj,
       _mlir_ciface_matmul_gate_proj, 6912, 1152},
      {"down_proj", _mlir_ciface_matvec_down_proj,
       _mlir_ciface_matmul_down_proj, 1152, 6912},
      {"lm_head", _mlir_ciface_matvec_lm_head, _mlir_ciface_matmul_lm_head,
       262144, 1152},
  };
  for (const Shape &s : shapes) {
    benchmark::RegisterBenchmark(
        (std::string("Matvec/") + s.name).c_str(),
        [s](benchmark::State &st) { contraction(st, s.matvec, 1, s.n, s.k); })
        ->Arg(1)
        ->Arg(2)
        ->UseRealTime()
        ->Unit(benchmark::kMicrosecond);
    if (s.n <= 6912) // the LM head runs for one row per prefill
      benchmark::RegisterBenchmark((std::string("Matmul/") + s.name).c_str(),
                                   [s](benchmark::State &st) {
                                     contraction(st, s.matmul, 512, s.n, s.k);
                                   })
          ->Arg(1)
          ->Arg(2)
          ->UseRealTime()
          ->Unit(benchmark::kMillisecond);
  }
  struct Layer {
    const char *name;
    AttentionFn fn;
    int64_t window; // 0: a global layer's whole cache
  };
  const Layer layers[] = {
      {"Attention/local", _mlir_ciface_gemma_attention_local, 512},
      {"Attention/global", _mlir_ciface_gemma_attention_global, 0},
  };
  for (int64_t depth : {512, 4096, 16384})
    for (const Layer &layer : layers)
      benchmark::RegisterBenchmark(layer.name,
                                   [layer](benchmark::State &st) {
                                     attention(st, layer.fn, layer.window);
                                   })
          ->Args({depth, 1})
          ->Args({depth, 2})
          ->UseRealTime()
          ->Unit(benchmark::kMicrosecond);
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

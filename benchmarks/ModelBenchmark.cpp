// ModelBenchmark.cpp - whole-model prefill and decode speed of a compiled
// model, with Google Benchmark.
//
// Linked by `gemmac compile MODEL -o BENCH --main benchmark` in place of the
// command-line main, so the benchmark runs the generated code and the
// weights packed into BENCH itself:
//
//   BENCH [--benchmark_filter=...] [--benchmark_repetitions=N] ...
//
// Prefill/N: N prompt tokens in one prefill call from position 0, returning
// the last token's logits as generation does.
// Decode/D: one-token decode steps at context depth D (D tokens already in
// the cache, as llama.cpp's tg at depth D). items_per_second is tokens/s.

#include "runtime/Model.h"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdio>
#include <memory>
#include <vector>

namespace {

std::unique_ptr<gemma::Model> model;

// Deterministic ids spread over the vocabulary; the model's speed does not
// depend on which tokens it reads.
std::vector<int32_t> tokens(int64_t n) {
  std::vector<int32_t> ids(static_cast<size_t>(n));
  uint64_t state = 0x9E3779B97F4A7C15ull;
  int64_t vocab = model->info().vocabSize;
  for (auto &id : ids) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    id = static_cast<int32_t>((state >> 33) % static_cast<uint64_t>(vocab));
  }
  ids[0] = static_cast<int32_t>(model->info().bosTokenId);
  return ids;
}

void prefill(benchmark::State &state) {
  std::vector<int32_t> ids = tokens(state.range(0));
  for (auto _ : state) {
    model->reset();
    benchmark::DoNotOptimize(
        model->prefillLast(ids.data(), static_cast<int64_t>(ids.size())));
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}

void decode(benchmark::State &state) {
  int64_t depth = state.range(0);
  std::vector<int32_t> ids = tokens(depth + 1);
  auto fill = [&] {
    model->reset();
    if (depth > 0)
      model->prefillLast(ids.data(), depth);
  };
  fill();
  for (auto _ : state) {
    if (model->position() + 1 > model->info().maxContext) {
      state.PauseTiming();
      fill();
      state.ResumeTiming();
    }
    benchmark::DoNotOptimize(model->decode(ids[static_cast<size_t>(depth)]));
  }
  state.SetItemsProcessed(state.iterations());
}

} // namespace

int main(int argc, char **argv) {
  benchmark::Initialize(&argc, argv);
  try {
    model = std::make_unique<gemma::Model>(gemma::MappedPayload::openSelf());
  } catch (const std::exception &e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  int64_t context = model->info().maxContext;
  for (int64_t n : {16, 64, 256})
    if (n <= context)
      benchmark::RegisterBenchmark("Prefill", prefill)
          ->Arg(n)
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
  for (int64_t depth : {0, 256, 1024})
    if (depth + 1 < context)
      benchmark::RegisterBenchmark("Decode", decode)
          ->Arg(depth)
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

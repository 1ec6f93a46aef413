// ModelBenchmark.cpp - whole-model prefill and decode speed of a compiled
// model, with Google Benchmark.
//
// Linked by `gemmac compile MODEL -o BENCH --main benchmark` in place of the
// command-line main, so the benchmark runs the generated code and the
// weights packed into BENCH itself:
//
//   BENCH [--threads=1,2] [--benchmark_filter=...] [--benchmark_repetitions=N]
//
// Prefill/N/T: N prompt tokens in one prefill call from position 0 on T
// threads, returning the last token's logits as generation does (llama-bench's
// ppN). Decode/D/T: 64 one-token decode steps from context depth D (llama-
// bench's tg64 at depth D); the caches are filled by a prompt of D tokens
// once, untimed, and each repetition starts at D again (Model::skipTo).
// EncodeImage/T (multimodal models): one image through encode_image.
// items_per_second is tokens/s (images/s for EncodeImage). --threads takes a
// list of thread counts (default: the device's default, all CPUs this process
// may use).
//
// Before measuring, every page of the weight blob is read once: the first
// calls would otherwise fault gigabytes of mapped weights in and measure the
// disk. After Google Benchmark's own output comes a table in llama-bench's
// columns (model, size, params, backend, threads, test, t/s), one row per
// test: the median of the repetitions, with the standard deviation when
// there are several (--benchmark_repetitions=N).

#include "runtime/CommandLine.h"
#include "runtime/Model.h"
#include "runtime/Progress.h"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
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

constexpr int64_t kDecodeSteps = 64;

void prefill(benchmark::State &state) {
  std::vector<int32_t> ids = tokens(state.range(0));
  model->setThreads(static_cast<int>(state.range(1)));
  for (auto _ : state) {
    model->reset();
    benchmark::DoNotOptimize(
        model->prefillLast(ids.data(), static_cast<int64_t>(ids.size())));
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}

// Positions [0, cacheFilledTo) of the caches hold a real prompt's keys and
// values (decode steps from a depth D write only positions >= D, and a
// new sequence does not clear the arena).
int64_t cacheFilledTo = 0;

void decode(benchmark::State &state) {
  int64_t depth = state.range(0);
  std::vector<int32_t> ids = tokens(kDecodeSteps);
  model->setThreads(static_cast<int>(state.range(1)));
  if (depth > cacheFilledTo) {
    // Fill the caches up to the depth once, untimed: never-written arena
    // pages all map the kernel's zero page, which stays in cache, so a step
    // would read its keys and values from cache instead of memory.
    std::vector<int32_t> prompt = tokens(depth);
    model->skipTo(cacheFilledTo);
    model->prefillLast(prompt.data() + cacheFilledTo, depth - cacheFilledTo);
    cacheFilledTo = depth;
  }
  for (auto _ : state) {
    model->skipTo(depth);
    for (int32_t id : ids)
      benchmark::DoNotOptimize(model->decode(id));
  }
  state.SetItemsProcessed(state.iterations() * kDecodeSteps);
}

// Multiply-adds x 2 of one encode_image: the patch embedding, per layer
// the four attention projections, q.k and p.v over all patches and the MLP,
// then the projector. `linearOnly` leaves out q.k and p.v (the count
// quoted for SigLIP so400m at 896, about 3.4 TFLOP).
double encodeImageFlops(const gemma::ModelInfo &info, bool linearOnly) {
  const gemma::ModelInfo::VisionInfo &v = *info.vision;
  double side = static_cast<double>(v.imageSize / v.patchSize);
  double patches = side * side, h = static_cast<double>(v.hiddenSize);
  double perLayer = 4 * patches * h * h +
                    2 * patches * h * static_cast<double>(v.intermediateSize);
  if (!linearOnly)
    perLayer += 2 * patches * patches * h;
  double macs =
      patches * h * 3 * static_cast<double>(v.patchSize * v.patchSize) +
      static_cast<double>(v.numLayers) * perLayer +
      static_cast<double>(v.mmTokensPerImage) * h *
          static_cast<double>(info.hiddenSize);
  return 2 * macs;
}

// EncodeImage/T: one image's pixels [3, S, S] (fixed pseudo-random values in
// [-1, 1]) through encode_image on T threads; items are images, and the
// counters give the FLOP rate with and without attention's q.k and p.v.
void encodeImage(benchmark::State &state) {
  const int64_t size = model->info().vision->imageSize;
  std::vector<float> pixels(static_cast<size_t>(3 * size * size));
  uint64_t seed = 0x2545F4914F6CDD1Dull;
  for (float &p : pixels) {
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    p = static_cast<float>(seed >> 40) / static_cast<float>(1 << 23) - 1.0f;
  }
  model->setThreads(static_cast<int>(state.range(0)));
  for (auto _ : state)
    benchmark::DoNotOptimize(model->encodeImage(pixels));
  state.SetItemsProcessed(state.iterations());
  double images = static_cast<double>(state.iterations());
  state.counters["FLOP/s"] =
      benchmark::Counter(images * encodeImageFlops(model->info(), false),
                         benchmark::Counter::kIsRate);
  state.counters["linear_FLOP/s"] =
      benchmark::Counter(images * encodeImageFlops(model->info(), true),
                         benchmark::Counter::kIsRate);
}

// The thread counts of --threads=1,2 (removed from argv), or the device's
// default.
std::vector<int64_t> threadCounts(int &argc, char **argv) {
  std::vector<int64_t> counts;
  int kept = 1;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--threads=", 0) != 0) {
      argv[kept++] = argv[i];
      continue;
    }
    std::string list = arg.substr(10);
    size_t at = 0;
    while (at <= list.size()) {
      size_t comma = std::min(list.find(',', at), list.size());
      std::optional<uint64_t> n =
          gemma::parseUnsigned64(list.substr(at, comma - at));
      if (!n || *n < 1 || *n > 1024)
        throw std::runtime_error("--threads takes thread counts in [1, 1024] "
                                 "separated by commas, got '" +
                                 list + "'");
      counts.push_back(static_cast<int64_t>(*n));
      at = comma + 1;
    }
  }
  argc = kept;
  if (counts.empty())
    counts.push_back(model->threads());
  return counts;
}

// Reads one byte of every page of the weight blob, then runs a short
// prefill and a decode step (code and caches warm too).
void warmUp() {
  auto start = std::chrono::steady_clock::now();
  const gemma::MappedPayload &payload = model->payload();
  volatile uint8_t sink = 0;
  for (uint64_t at = 0; at < payload.blobSize(); at += 4096)
    sink = sink + payload.blob()[at];
  std::vector<int32_t> ids =
      tokens(std::min<int64_t>(16, model->info().maxContext - 1));
  model->reset();
  model->prefillLast(ids.data(), static_cast<int64_t>(ids.size()));
  model->decode(ids.back());
  model->reset();
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  std::fprintf(stderr, "warm-up: read %.2f GiB of weights in %.1f s\n",
               static_cast<double>(payload.blobSize()) / (1u << 30), seconds);
}

// Google Benchmark's console output, then llama-bench's table.
class LlamaBenchTable : public benchmark::ConsoleReporter {
public:
  void ReportRuns(const std::vector<Run> &runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run &run : runs) {
      auto rate = run.counters.find("items_per_second");
      if (run.error_occurred || rate == run.counters.end())
        continue;
      Row &row = rowOf(testOf(run.run_name));
      double value = rate->second.value;
      if (run.run_type != Run::RT_Aggregate)
        row.samples.push_back(value);
      else if (run.aggregate_name == "median")
        row.median = value;
      else if (run.aggregate_name == "stddev")
        row.stddev = value;
    }
  }

  void Finalize() override {
    ConsoleReporter::Finalize();
    const gemma::ModelInfo &info = model->info();
    double bytesPerWeight = info.weightDtype == "f32" ? 4 : 2;
    char model[64], params[32];
    std::snprintf(model, sizeof model, "%s %lldL %s", info.modelType.c_str(),
                  static_cast<long long>(info.numLayers),
                  info.weightDtype.c_str());
    std::string size =
        gemma::Progress::formatBytes(static_cast<double>(info.weightBytes));
    double count = static_cast<double>(info.weightBytes) / bytesPerWeight;
    if (count >= 1e9)
      std::snprintf(params, sizeof params, "%.2f B", count / 1e9);
    else
      std::snprintf(params, sizeof params, "%.2f M", count / 1e6);
    std::printf("\n| model | size | params | backend | threads | test | t/s "
                "|\n| --- | ---: | ---: | --- | ---: | ---: | ---: |\n");
    for (const auto &[test, row] : rows) {
      std::vector<double> samples = row.samples;
      std::sort(samples.begin(), samples.end());
      double median = row.median >= 0   ? row.median
                      : samples.empty() ? 0
                                        : samples[samples.size() / 2];
      char rate[64];
      if (row.stddev >= 0)
        std::snprintf(rate, sizeof rate, "%.2f ± %.2f", median, row.stddev);
      else
        std::snprintf(rate, sizeof rate, "%.2f", median);
      std::printf("| %s | %s | %s | %s | %s | %s | %s |\n", model, size.c_str(),
                  params, info.target.c_str(), test.threads.c_str(),
                  test.name.c_str(), rate);
    }
  }

private:
  struct Row {
    std::vector<double> samples;
    double median = -1, stddev = -1;
  };

  struct Test {
    std::string name, threads;
    bool operator==(const Test &other) const {
      return name == other.name && threads == other.threads;
    }
  };

  // Prefill/N/T is llama-bench's ppN on T threads; Decode/D/T its tg64 at
  // depth D.
  static Test testOf(const benchmark::BenchmarkName &name) {
    std::string args = name.args;
    size_t slash = args.find('/');
    std::string first = args.substr(0, slash);
    std::string threads =
        slash == std::string::npos ? "" : args.substr(slash + 1);
    if (name.function_name == "Prefill")
      return {"pp" + first, threads};
    if (name.function_name == "EncodeImage")
      return {"image " + std::to_string(model->info().vision->imageSize) + "²",
              first};
    return {"tg" + std::to_string(kDecodeSteps) + " @ d" + first, threads};
  }

  Row &rowOf(const Test &test) {
    for (auto &entry : rows)
      if (entry.first == test)
        return entry.second;
    rows.emplace_back(test, Row());
    return rows.back().second;
  }

  std::vector<std::pair<Test, Row>> rows; // in the order run
};

} // namespace

int main(int argc, char **argv) {
  benchmark::Initialize(&argc, argv);
  try {
    model = std::make_unique<gemma::Model>(gemma::MappedPayload::openSelf());
  } catch (const std::exception &e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  std::vector<int64_t> threads;
  try {
    threads = threadCounts(argc, argv);
  } catch (const std::exception &e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 2;
  }
  int64_t context = model->info().maxContext;
  for (int64_t t : threads)
    for (int64_t n : {64, 512})
      if (n <= context)
        benchmark::RegisterBenchmark("Prefill", prefill)
            ->Args({n, t})
            ->Unit(benchmark::kMillisecond)
            ->UseRealTime();
  for (int64_t t : threads)
    for (int64_t depth : {0, 4096, 16384})
      if (depth + kDecodeSteps <= context)
        benchmark::RegisterBenchmark("Decode", decode)
            ->Args({depth, t})
            ->Unit(benchmark::kMillisecond)
            ->UseRealTime();
  if (model->info().vision)
    for (int64_t t : threads)
      benchmark::RegisterBenchmark("EncodeImage", encodeImage)
          ->Arg(t)
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
  warmUp();
  LlamaBenchTable reporter;
  benchmark::RunSpecifiedBenchmarks(&reporter);
  benchmark::Shutdown();
  return 0;
}

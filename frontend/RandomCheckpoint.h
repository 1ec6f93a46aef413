// RandomCheckpoint.h - seeded random weights for any Gemma 3 config, so that
// benchmarks and tests can run real-size models without downloading them.

#ifndef GEMMA_FRONTEND_RANDOMCHECKPOINT_H
#define GEMMA_FRONTEND_RANDOMCHECKPOINT_H

#include "frontend/Checkpoint.h"
#include "frontend/ModelConfig.h"
#include "runtime/RandomWeights.h"

#include <cstdint>
#include <functional>
#include <string>

namespace gemma {

// Writes outDir/config.json (a verbatim copy of configPath) and
// outDir/model.safetensors, or, when shardBytes > 0 and the tensors exceed
// it, shards model-0000N-of-0000M.safetensors plus
// model.safetensors.index.json. Every tensor expectedTensors() implies is
// written, generated and streamed one chunk at a time; multimodal configs use
// the hub's multimodal names (language_model.model.…,
// vision_tower.vision_model.…, multi_modal_projector.…).
//
// The values keep a forward pass sane (logits with a standard deviation near
// 1, nothing near the bf16 range limits): linear weights ~ N(0, 1/in),
// embeddings ~ N(0, 1/hidden), Gemma RMSNorm weights (used as 1 + w) ~
// N(0, 0.1²), LayerNorm weights ~ 1 + N(0, 0.1²), biases ~ N(0, 0.02²). The
// bytes depend only on the config, seed and dtype.
//
// `onBytes(bytes, total)` is told of every chunk written: `bytes` more of
// `total` tensor bytes.
void writeRandomCheckpoint(
    const std::string &configPath, const std::string &outDir, uint64_t seed,
    DType dtype, int64_t shardBytes = 0,
    const std::function<void(uint64_t, uint64_t)> &onBytes = {});

// The distribution of tensor `t` in a random checkpoint (the scales
// above); its elements come from fillRandom (runtime/RandomWeights.h).
RandomInit randomInitFor(const ExpectedTensor &t);

} // namespace gemma

#endif // GEMMA_FRONTEND_RANDOMCHECKPOINT_H

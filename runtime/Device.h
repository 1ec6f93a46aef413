// Device.h - where the generated code runs, seen from the model loop.
//
// A Device owns the memory the generated code uses (the weights as it reads
// them, the KV arena, the results) and calls the entry points of the
// payload's table (ModelInfo::entryPoints), resolved and checked when it is
// created. The model loop (Model: prefill, decode; Generator, Chat) sees
// only this interface, so a second device (a GPU) is a new implementation
// here, in its own folder, and one line in createDevice().

#ifndef GEMMA_RUNTIME_DEVICE_H
#define GEMMA_RUNTIME_DEVICE_H

#include "runtime/ModelInfo.h"
#include "runtime/Payload.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace gemma {

// Finds a generated function by its symbol; null when there is none.
using SymbolResolver = std::function<void *(const std::string &symbol)>;

// How many CPUs this process may run on (its affinity mask), at least 1:
// the CPU device's default thread count, and the threads that assemble a
// weight blob.
int usableCpus();

// The symbols of the running executable (dlsym): generated executables
// export their entry points' symbols for this.
SymbolResolver selfSymbols();

// What a prompt's image soft tokens take (Device::runTokens).
struct ImageTokens {
  const float *features = nullptr; // [featureRows, hidden], row-major
  int64_t featureRows = 0;         // the image soft tokens among the ids
  const int32_t *groups = nullptr; // [n]: an image number per token, -1 text
};

class Device {
public:
  virtual ~Device();

  // "cpu", ...
  virtual std::string name() const = 0;
  // Whether the executable has the entry point `entry`.
  virtual bool hasEntry(const std::string &entry) const = 0;
  // Runs a token entry point (prefill, prefill_last, decode): ids[0..n)
  // take positions position .. position + n - 1 in the caches. Returns its
  // logits, `rows` rows of vocab_size, on the host. Throws
  // std::runtime_error when the generated code returns another shape. The
  // caller has checked ids, n and position: the generated code trusts them.
  //
  // With `images`, the entry is prefill_images or prefill_images_last:
  // the image soft tokens of ids take images->features in order, and the
  // tokens of one image (images->groups[i] >= 0, equal) see each other.
  virtual std::vector<float> runTokens(const std::string &entry,
                                       const int32_t *ids, int64_t n,
                                       int64_t position, int64_t rows,
                                       const ImageTokens *images = nullptr) = 0;
  // Runs decode_argmax: the decode step of `id` at `position`, returning
  // the next token of greedy decoding (the first index of decode's largest
  // logit, NaN never it; vocab_size when they are all NaN). Throws
  // std::logic_error when the executable has no decode_argmax (the caller
  // checks hasEntry). The caller has checked id and position.
  virtual int32_t decodeArgmax(int32_t id, int64_t position) = 0;
  // Runs encode_image on one image's normalised pixels [3, S, S] (S =
  // info.vision->imageSize) and returns its features [mm_tokens_per_image,
  // hidden], row-major. Throws std::logic_error when the executable has no
  // vision tower (the caller checks info.vision first).
  virtual std::vector<float> encodeImage(const float *pixels) = 0;
  // The host threads the generated code runs on (1 for a device whose code
  // does not use host threads).
  virtual int threads() const { return 1; }
  // Runs the generated code on `n` host threads from now on. Throws
  // std::invalid_argument when n < 1.
  virtual void setThreads(int n);
};

// Checks, cheaply and before anything large is read or generated, that this
// machine can run info.target's code: for `cuda`, that the NVIDIA driver
// loads and finds a GPU. Throws std::runtime_error in one line otherwise.
void checkDeviceAvailable(const ModelInfo &info);

// The device for the target that generated the executable (info.target),
// with its entry points resolved through `symbols` and checked against the
// calling convention, running on the weights at `weights`
// (info.weightBytes: the payload's blob or a WeightBlob). `payload` and the
// weights must outlive the device. Throws
// std::runtime_error naming payload.path() and the entry point that is
// missing or mistyped, or the target this runtime has no device for.
std::unique_ptr<Device> createDevice(const MappedPayload &payload,
                                     const ModelInfo &info,
                                     const SymbolResolver &symbols,
                                     const uint8_t *weights);

} // namespace gemma

#endif // GEMMA_RUNTIME_DEVICE_H

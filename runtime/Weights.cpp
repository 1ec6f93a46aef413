// Weights.cpp - the weight blob the generated code reads.

#include "runtime/Weights.h"

#include "runtime/Device.h"
#include "runtime/Progress.h"
#include "runtime/RandomWeights.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <functional>
#include <mutex>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace gemma {
namespace {

// Runs `work(i)` for i in [0, count) on every usable CPU (fewer when
// threads cannot be had); the first exception a call throws is rethrown
// once every thread has stopped.
void parallelFor(size_t count, const std::function<void(size_t)> &work) {
  std::atomic<size_t> next{0};
  std::exception_ptr error;
  std::mutex errorMutex;
  auto worker = [&] {
    try {
      for (size_t i = next++; i < count; i = next++)
        work(i);
    } catch (...) {
      std::lock_guard<std::mutex> lock(errorMutex);
      if (!error)
        error = std::current_exception();
      next = count; // the others stop at their next item
    }
  };
  std::vector<std::thread> threads;
  try {
    for (int i = 1; i < usableCpus(); ++i)
      threads.emplace_back(worker);
  } catch (const std::system_error &) {
    // No more threads: those started and this one do the work.
  }
  worker();
  for (std::thread &thread : threads)
    thread.join();
  if (error)
    std::rethrow_exception(error);
}

// Fills `blob` with the random tensors, in pieces of 16 MiB handed out to
// one thread per CPU.
void generate(const ModelInfo::RandomWeights &random, uint8_t *blob,
              uint64_t totalBytes) {
  struct Piece {
    const ModelInfo::RandomTensor *tensor;
    uint64_t first;
    size_t count;
  };
  std::vector<Piece> pieces;
  constexpr size_t kPieceElements = size_t{8} << 20;
  for (const ModelInfo::RandomTensor &tensor : random.tensors)
    for (uint64_t first = 0; first < static_cast<uint64_t>(tensor.elements);
         first += kPieceElements)
      pieces.push_back({&tensor, first,
                        static_cast<size_t>(std::min<uint64_t>(
                            kPieceElements,
                            static_cast<uint64_t>(tensor.elements) - first))});
  Progress progress("generating random weights", totalBytes);
  std::mutex progressMutex;
  parallelFor(pieces.size(), [&](size_t i) {
    const Piece &piece = pieces[i];
    const ModelInfo::RandomTensor &t = *piece.tensor;
    size_t elementBytes = t.dtype == "f32" ? 4 : 2;
    fillRandom({t.mean, t.std},
               randomTensorKey(static_cast<uint64_t>(random.seed), t.name),
               t.dtype, piece.first, piece.count,
               blob + t.offset + piece.first * elementBytes);
    std::lock_guard<std::mutex> lock(progressMutex);
    progress.advance(piece.count * elementBytes);
  });
  progress.finish();
}

// A checkpoint file, mapped read-only for as long as the copy takes.
struct MappedFile {
  const uint8_t *data = nullptr;
  size_t size = 0;
  ~MappedFile() {
    if (data)
      ::munmap(const_cast<uint8_t *>(data), size);
  }
};

// Copies the tensors of the checkpoint's files into `blob`, widening
// bf16/f16 to f32 where the blob stores f32, after checking that the files
// are those the executable was compiled against.
void copyExternal(const ModelInfo::ExternalWeights &external, uint8_t *blob,
                  const std::string &executable) {
  const char *moved = std::getenv("GEMMA_WEIGHTS_DIR");
  std::string dir = moved && *moved ? moved : external.dir;
  std::vector<MappedFile> files(external.files.size());
  for (size_t i = 0; i < external.files.size(); ++i) {
    const ModelInfo::ExternalFile &expected = external.files[i];
    std::string path = dir + "/" + expected.name;
    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    struct stat st;
    bool opened = fd >= 0, stated = opened && ::fstat(fd, &st) == 0;
    if (!stated || !S_ISREG(st.st_mode)) {
      std::string reason =
          !stated ? std::strerror(errno) : std::string("not a regular file");
      if (fd >= 0)
        ::close(fd);
      throw std::runtime_error(
          path + ": cannot read the weights " + executable +
          " was compiled to read (--external-weights): " + reason +
          "; put the checkpoint back, or set GEMMA_WEIGHTS_DIR to where it "
          "moved");
    }
    if (static_cast<int64_t>(st.st_size) != expected.bytes) {
      ::close(fd);
      throw std::runtime_error(
          path + ": is " + std::to_string(st.st_size) + " bytes, but was " +
          std::to_string(expected.bytes) + " when " + executable +
          " was compiled: the checkpoint changed; recompile");
    }
    void *map = ::mmap(nullptr, static_cast<size_t>(st.st_size), PROT_READ,
                       MAP_PRIVATE, fd, 0);
    ::close(fd);
    if (map == MAP_FAILED)
      throw std::runtime_error(path + ": cannot map: " + std::strerror(errno));
    files[i].data = static_cast<const uint8_t *>(map);
    files[i].size = static_cast<size_t>(st.st_size);
    std::string hash = safetensorsHeaderHash(files[i].data, files[i].size);
    if (hash != expected.headerHash)
      throw std::runtime_error(path + ": its header changed since " +
                               executable + " was compiled (hash " +
                               (hash.empty() ? "none" : hash) + ", expected " +
                               expected.headerHash +
                               "): the checkpoint changed; recompile");
  }
  uint64_t total = 0;
  for (const ModelInfo::ExternalTensor &t : external.tensors)
    total += static_cast<uint64_t>(t.bytes);
  Progress progress("reading weights", total);
  std::mutex progressMutex;
  parallelFor(external.tensors.size(), [&](size_t i) {
    const ModelInfo::ExternalTensor &t = external.tensors[i];
    const uint8_t *source =
        files[static_cast<size_t>(t.file)].data + t.dataOffset;
    uint8_t *target = blob + t.offset;
    if (t.dtype == t.storedDtype) {
      std::memcpy(target, source, static_cast<size_t>(t.bytes));
    } else {
      size_t count = static_cast<size_t>(t.bytes / 2);
      bool bf16 = t.storedDtype == "bf16";
      for (size_t e = 0; e < count; ++e) {
        uint16_t h;
        std::memcpy(&h, source + 2 * e, 2);
        float f = bf16 ? bf16ToFloat(h) : f16ToFloat(h);
        std::memcpy(target + 4 * e, &f, 4);
      }
    }
    std::lock_guard<std::mutex> lock(progressMutex);
    progress.advance(static_cast<uint64_t>(t.bytes));
  });
  progress.finish();
}

} // namespace

std::string safetensorsHeaderHash(const uint8_t *file, size_t size) {
  if (size < 8)
    return "";
  uint64_t length;
  std::memcpy(&length, file, 8);
  if (length > size - 8)
    return "";
  uint64_t hash = 0xcbf29ce484222325ull; // FNV-1a over length and JSON
  for (size_t i = 0; i < 8 + length; ++i)
    hash = (hash ^ file[i]) * 0x100000001b3ull;
  char text[17];
  std::snprintf(text, sizeof text, "%016llx",
                static_cast<unsigned long long>(hash));
  return text;
}

WeightBlob::WeightBlob(const MappedPayload &payload, const ModelInfo &info) {
  if (!info.randomWeights && !info.externalWeights) {
    bytes = payload.blob();
    return;
  }
  mappingBytes = std::max<size_t>(static_cast<size_t>(info.weightBytes), 1);
  // Without MAP_NORESERVE: every page will be written, so a blob larger
  // than memory should be refused here rather than killed half way.
  mapping = ::mmap(nullptr, mappingBytes, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mapping == MAP_FAILED) {
    mapping = nullptr;
    throw std::runtime_error(
        payload.path() + ": cannot allocate " +
        std::to_string(info.weightBytes) +
        " bytes for the random weights: " + std::strerror(errno));
  }
  ::madvise(mapping, mappingBytes, MADV_HUGEPAGE);
  try {
    if (info.randomWeights)
      generate(*info.randomWeights, static_cast<uint8_t *>(mapping),
               static_cast<uint64_t>(info.weightBytes));
    else
      copyExternal(*info.externalWeights, static_cast<uint8_t *>(mapping),
                   payload.path());
  } catch (...) {
    ::munmap(mapping, mappingBytes);
    mapping = nullptr;
    throw;
  }
  // The generated code never writes its weights: a stray write faults.
  // (Best effort: the weights are right either way.)
  (void)::mprotect(mapping, mappingBytes, PROT_READ);
  bytes = static_cast<const uint8_t *>(mapping);
}

WeightBlob::~WeightBlob() {
  if (mapping)
    ::munmap(mapping, mappingBytes);
}

} // namespace gemma

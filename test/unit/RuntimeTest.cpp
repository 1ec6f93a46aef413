// RuntimeTest.cpp - the runtime's payload, metadata, Model loop and main.
//
// Built twice. With GEMMA_FAKE_MODEL_OBJECT it is the stand-in for the
// compiler's model object: it defines the two entry points, and CMake links
// it with libgemma_main.a and libgemma_runtime.a the way the driver links a
// real model. Otherwise it is the GoogleTest suite, which drives the same
// fake through Model directly and packs and runs the fake executable.

#include "runtime/EntryPoints.h"

#include <cstdint>
#include <cstdlib>
#include <optional>
#include <vector>

namespace {

constexpr int64_t kVocab = 16;
// The vocabulary the fake's logits have: kVocab, except in the in-process
// tests that drive it with the real tokenizer's ids.
int64_t fakeVocab = kVocab;
// The fake returns its logits inside a larger malloc'ed buffer, with an
// offset, padded rows (7 floats) and allocated != aligned, so that a reader
// ignoring the descriptor reads wrong values. kSlack makes a leaked buffer
// obvious.
constexpr int64_t kRowPadding = 7;
constexpr int64_t kOffset = 5;
constexpr int64_t kSlack = 1 << 20;

// What the fake saw, for the tests.
struct FakeCall {
  char kind; // 'p' or 'd'
  int64_t n;
  int64_t position;
  std::vector<int32_t> ids;
  const uint8_t *weights;
  int64_t weightBytes;
  uint8_t *arena;
  int64_t arenaBytes;
};
std::vector<FakeCall> fakeCalls;
// When set, the fake returns logits of a wrong shape.
bool fakeWrongShape = false;

// Logits row of token `id` at `position`:
//   [0] the id, [1] the position, [2] how many earlier positions the arena
//   remembers (it stores id + 1 per position, so it must start zeroed and
//   persist between calls), [3] weights byte number id, [4] the blob size,
//   [j >= 5] j + id / 2.
void fakeEntry(char kind, gemma::MemRefDescriptor<float, 2> *logits,
               gemma::MemRefDescriptor<uint8_t, 1> *weights,
               gemma::MemRefDescriptor<uint8_t, 1> *kvArena,
               gemma::MemRefDescriptor<int32_t, 1> *ids, int64_t position) {
  int64_t n = ids->sizes[0];
  const int32_t *idData = ids->aligned + ids->offset;
  fakeCalls.push_back({kind, n, position,
                       std::vector<int32_t>(idData, idData + n),
                       weights->aligned, weights->sizes[0], kvArena->aligned,
                       kvArena->sizes[0]});
  const int64_t rowStride = fakeVocab + kRowPadding;
  auto *buffer = static_cast<float *>(
      std::malloc(sizeof(float) * (3 + kOffset + n * rowStride + kSlack)));
  logits->allocated = buffer;
  logits->aligned = buffer + 3;
  logits->offset = kOffset;
  logits->sizes[0] = fakeWrongShape ? n + 1 : n;
  logits->sizes[1] = fakeVocab;
  logits->strides[0] = rowStride;
  logits->strides[1] = 1;
  auto *slots = reinterpret_cast<int32_t *>(kvArena->aligned);
  for (int64_t i = 0; i < n; ++i) {
    int64_t pos = position + i;
    int32_t id = ids->aligned[ids->offset + i];
    slots[pos] = id + 1;
    int64_t remembered = 0;
    for (int64_t p = 0; p < pos; ++p)
      remembered += slots[p] != 0;
    float *row = logits->aligned + logits->offset + i * rowStride;
    row[0] = static_cast<float>(id);
    row[1] = static_cast<float>(pos);
    row[2] = static_cast<float>(remembered);
    row[3] = weights->aligned[id % weights->sizes[0]];
    row[4] = static_cast<float>(weights->sizes[0]);
    for (int64_t j = 5; j < fakeVocab; ++j)
      row[j] = static_cast<float>(j) + 0.5f * static_cast<float>(id);
    // Garbage in the padding: a reader using vocab as the row stride fails.
    for (int64_t j = fakeVocab; j < rowStride; ++j)
      row[j] = -1000.0f;
  }
}

void fakePrefill(gemma::MemRefDescriptor<float, 2> *logits,
                 gemma::MemRefDescriptor<uint8_t, 1> *weights,
                 gemma::MemRefDescriptor<uint8_t, 1> *kvArena,
                 gemma::MemRefDescriptor<int32_t, 1> *ids, int64_t position) {
  fakeEntry('p', logits, weights, kvArena, ids, position);
}

// Like the generated prefill_last: runs every token, returns the last row
// (at an offset into the same buffer, as a strided view would).
void fakePrefillLast(gemma::MemRefDescriptor<float, 2> *logits,
                     gemma::MemRefDescriptor<uint8_t, 1> *weights,
                     gemma::MemRefDescriptor<uint8_t, 1> *kvArena,
                     gemma::MemRefDescriptor<int32_t, 1> *ids,
                     int64_t position) {
  fakeEntry('l', logits, weights, kvArena, ids, position);
  logits->offset += (ids->sizes[0] - 1) * logits->strides[0];
  logits->sizes[0] = fakeWrongShape ? 2 : 1;
}

void fakeDecode(gemma::MemRefDescriptor<float, 2> *logits,
                gemma::MemRefDescriptor<uint8_t, 1> *weights,
                gemma::MemRefDescriptor<uint8_t, 1> *kvArena,
                gemma::MemRefDescriptor<int32_t, 1> *ids, int64_t position) {
  fakeEntry('d', logits, weights, kvArena, ids, position);
}

// When set, decode_argmax returns this token instead of the argmax (a row
// of NaN returns the vocabulary size).
std::optional<int32_t> fakeArgmaxToken;

// Like the generated decode_argmax: decode's row, reduced to the index of
// its first largest value, in a malloc'ed [1] i32 at an offset.
void fakeDecodeArgmax(gemma::MemRefDescriptor<int32_t, 1> *token,
                      gemma::MemRefDescriptor<uint8_t, 1> *weights,
                      gemma::MemRefDescriptor<uint8_t, 1> *kvArena,
                      gemma::MemRefDescriptor<int32_t, 1> *ids,
                      int64_t position) {
  gemma::MemRefDescriptor<float, 2> logits{};
  fakeEntry('a', &logits, weights, kvArena, ids, position);
  const float *row = logits.aligned + logits.offset;
  int32_t best = 0;
  for (int32_t j = 1; j < fakeVocab; ++j)
    if (row[j] > row[best])
      best = j;
  std::free(logits.allocated);
  auto *buffer = static_cast<int32_t *>(std::malloc(sizeof(int32_t) * 4));
  *token = {buffer, buffer, 2, {fakeWrongShape ? 2 : 1}, {1}};
  buffer[2] = fakeArgmaxToken.value_or(best);
}

} // namespace

#ifdef GEMMA_FAKE_MODEL_OBJECT

extern "C" void
_mlir_ciface_gemma_prefill(gemma::MemRefDescriptor<float, 2> *logits,
                           gemma::MemRefDescriptor<uint8_t, 1> *weights,
                           gemma::MemRefDescriptor<uint8_t, 1> *kvArena,
                           gemma::MemRefDescriptor<int32_t, 1> *ids,
                           int64_t position) {
  fakePrefill(logits, weights, kvArena, ids, position);
}

extern "C" void
_mlir_ciface_gemma_prefill_last(gemma::MemRefDescriptor<float, 2> *logits,
                                gemma::MemRefDescriptor<uint8_t, 1> *weights,
                                gemma::MemRefDescriptor<uint8_t, 1> *kvArena,
                                gemma::MemRefDescriptor<int32_t, 1> *ids,
                                int64_t position) {
  fakePrefillLast(logits, weights, kvArena, ids, position);
}

extern "C" void
_mlir_ciface_gemma_decode(gemma::MemRefDescriptor<float, 2> *logits,
                          gemma::MemRefDescriptor<uint8_t, 1> *weights,
                          gemma::MemRefDescriptor<uint8_t, 1> *kvArena,
                          gemma::MemRefDescriptor<int32_t, 1> *ids,
                          int64_t position) {
  if (ids->sizes[0] != 1)
    std::abort(); // decode takes exactly one token
  fakeDecode(logits, weights, kvArena, ids, position);
}

extern "C" void
_mlir_ciface_gemma_decode_argmax(gemma::MemRefDescriptor<int32_t, 1> *token,
                                 gemma::MemRefDescriptor<uint8_t, 1> *weights,
                                 gemma::MemRefDescriptor<uint8_t, 1> *kvArena,
                                 gemma::MemRefDescriptor<int32_t, 1> *ids,
                                 int64_t position) {
  if (ids->sizes[0] != 1)
    std::abort();
  fakeDecodeArgmax(token, weights, kvArena, ids, position);
}

#else // the tests

#include "runtime/Chat.h"
#include "runtime/CommandLine.h"
#include "runtime/Device.h"
#include "runtime/Generator.h"
#include "runtime/Model.h"
#include "runtime/ModelInfo.h"
#include "runtime/Npy.h"
#include "runtime/Payload.h"
#include "runtime/Sampler.h"
#include "runtime/Tokenizer.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <malloc.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

namespace fs = std::filesystem;
using namespace gemma;

namespace {

// One directory per process, removed at exit: ctest runs every test case as
// its own process in parallel, and a file rewritten under another test's
// mapping would fault.
struct TempDirectory {
  fs::path path = fs::path(::testing::TempDir()) /
                  ("runtime_tests_" + std::to_string(::getpid()));
  TempDirectory() { fs::create_directories(path); }
  ~TempDirectory() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
};

std::string tempPath(const std::string &name) {
  static TempDirectory directory;
  return (directory.path / name).string();
}

std::string readFile(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

void writeFile(const std::string &path, const std::string &bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

uint64_t footerField(const std::string &bytes, int index) {
  uint64_t value;
  std::memcpy(&value, bytes.data() + bytes.size() - 32 + 8 * index, 8);
  return value;
}

std::string blobPattern(uint64_t size) {
  std::string blob(size, '\0');
  for (uint64_t i = 0; i < size; ++i)
    blob[i] = static_cast<char>((i * 7 + 3) % 251);
  return blob;
}

// Appends `blob` in uneven chunks, as a streaming writer would.
void appendBlob(const std::string &path, const std::string &blob,
                const std::string &meta) {
  PayloadWriter::append(
      path,
      [&](std::ostream &out) {
        for (size_t at = 0; at < blob.size(); at += 1000)
          out.write(blob.data() + at,
                    static_cast<std::streamsize>(
                        std::min<size_t>(1000, blob.size() - at)));
      },
      blob.size(), meta);
}

template <typename F> std::string errorOf(F &&f) {
  try {
    f();
  } catch (const std::exception &e) {
    return e.what();
  }
  return "(no error)";
}

// The fake model's description: 3 layers (2 local with a window of 3, 1
// global), `vocab` logits, the fake's entry points.
ModelInfo fakeInfo(int64_t maxContext = 8, int64_t weightBytes = 100,
                   int64_t vocab = kVocab, bool withPrefillLast = false,
                   bool withDecodeArgmax = false) {
  ModelInfo info;
  info.modelType = "gemma3_text";
  info.target = "cpu";
  info.cpu = "host";
  info.vocabSize = vocab;
  info.hiddenSize = 4;
  info.numLayers = 3;
  info.numLocalLayers = 2;
  info.numGlobalLayers = 1;
  info.slidingWindow = 3;
  info.maxContext = maxContext;
  // Calls of any length: the local rings hold every position (4 bytes a
  // position over both local layers).
  info.prefillChunk = maxContext;
  info.localCacheSlots = maxContext;
  info.weightDtype = "bf16";
  info.weightBytes = weightBytes;
  info.kvDtype = "bf16";
  info.kvArenaBytes = maxContext * 6;
  info.kvBytesLocal = maxContext * 4;
  info.kvBytesGlobal = maxContext * 2;
  info.bosTokenId = 2;
  info.eosTokenIds = {1, 15};
  std::vector<std::string> entries = {"prefill", "decode"};
  if (withPrefillLast)
    entries.push_back("prefill_last");
  for (const std::string &name : entries)
    info.entryPoints.push_back({name, "_mlir_ciface_gemma_" + name,
                                gemma::tokenEntryOperands(name),
                                gemma::tokenEntryResults(name, vocab)});
  if (withDecodeArgmax)
    info.entryPoints.push_back({"decode_argmax",
                                "_mlir_ciface_gemma_decode_argmax",
                                gemma::tokenEntryOperands("decode"),
                                {{"token", "i32", {1}}}});
  return info;
}

nlohmann::json fakeMetadata(int64_t maxContext = 8, int64_t weightBytes = 100) {
  return nlohmann::json::parse(fakeInfo(maxContext, weightBytes).toJson());
}

// A "packed executable" with the fake's metadata and a 100-byte blob.
std::string packedFile(const std::string &name,
                       const nlohmann::json &meta = fakeMetadata(),
                       uint64_t blobSize = 100) {
  std::string path = tempPath(name);
  writeFile(path, std::string(777, 'x'));
  appendBlob(path, blobPattern(blobSize), meta.dump());
  return path;
}

// --- payload ---------------------------------------------------------------

TEST(Payload, RoundTripsBlobAndMetadata) {
  std::string path = tempPath("roundtrip");
  std::string exe = blobPattern(5000);
  writeFile(path, exe);
  std::string blob = blobPattern(10007);
  std::string meta = R"({"format": 1, "note": "ünïcode"})";
  appendBlob(path, blob, meta);

  std::string bytes = readFile(path);
  EXPECT_EQ(bytes.compare(0, exe.size(), exe), 0) << "executable intact";
  uint64_t blobOffset = footerField(bytes, 0);
  // The next 2 MiB boundary: aligned 2 MiB folios for the mapping.
  EXPECT_EQ(blobOffset, gemma::kPayloadBlobPlacement);
  EXPECT_EQ(bytes.substr(exe.size(), blobOffset - exe.size()),
            std::string(blobOffset - exe.size(), '\0'));
  EXPECT_EQ(bytes.compare(bytes.size() - 40, 8, "GEMMAWB1"), 0);
  EXPECT_EQ(bytes.size(), blobOffset + blob.size() + meta.size() + 40);

  MappedPayload payload = MappedPayload::open(path);
  ASSERT_EQ(payload.blobSize(), blob.size());
  EXPECT_EQ(reinterpret_cast<uintptr_t>(payload.blob()) % 4096, 0u);
  EXPECT_EQ(std::memcmp(payload.blob(), blob.data(), blob.size()), 0);
  EXPECT_EQ(payload.metadata(), meta);
  EXPECT_EQ(payload.path(), path);

  // Moving hands the mapping over; the moved-from object lets go of it.
  MappedPayload moved = std::move(payload);
  EXPECT_EQ(payload.blob(), nullptr);
  EXPECT_EQ(std::memcmp(moved.blob(), blob.data(), blob.size()), 0);
}

// A cuda executable needs the NVIDIA driver and nothing else, loaded when
// the device is created: without it, or with a library that is not it, the
// device says so in one line (the executable prints it and exits 1).
TEST(CudaDevice, WithoutTheDriverSaysSoInOneLine) {
  std::string path = tempPath("cuda");
  writeFile(path, "exe");
  appendBlob(path, blobPattern(200), "{}");
  MappedPayload payload = MappedPayload::open(path);
  ModelInfo info = fakeInfo();
  info.target = "cuda";
  auto create = [&] {
    createDevice(payload, info, selfSymbols(), payload.blob());
  };

  ::setenv("GEMMA_LIBCUDA", "/nonexistent/libcuda.so.1", 1);
  std::string error = errorOf(create);
  EXPECT_EQ(error.rfind("no NVIDIA driver: cannot load "
                        "/nonexistent/libcuda.so.1 (",
                        0),
            0u)
      << error;
  EXPECT_NE(error.find("this executable runs on an NVIDIA GPU"),
            std::string::npos)
      << error;
  EXPECT_EQ(error.find('\n'), std::string::npos) << error;

  ::setenv("GEMMA_LIBCUDA", "libm.so.6", 1);
  EXPECT_EQ(errorOf(create),
            "libm.so.6 is not a usable NVIDIA driver: it has no cuInit");
  ::unsetenv("GEMMA_LIBCUDA");
}

TEST(Payload, AlignedExecutableGetsNoPaddingAndEmptyBlobWorks) {
  std::string path = tempPath("aligned");
  writeFile(path, std::string(gemma::kPayloadBlobPlacement, 'e'));
  appendBlob(path, "", "{}");
  EXPECT_EQ(footerField(readFile(path), 0), gemma::kPayloadBlobPlacement);
  MappedPayload payload = MappedPayload::open(path);
  EXPECT_EQ(payload.blobSize(), 0u);
  EXPECT_EQ(payload.metadata(), "{}");
}

TEST(Payload, ReadsABlobPlacedOnlyAt4096) {
  // The format promises 4096; executables packed before the 2 MiB placement
  // keep working.
  std::string path = tempPath("placed4096");
  std::string blob = blobPattern(3000), meta = "{}";
  std::string bytes = std::string(5000, 'e') + std::string(8192 - 5000, '\0') +
                      blob + meta + "GEMMAWB1";
  for (uint64_t field : {uint64_t(8192), uint64_t(blob.size()),
                         uint64_t(8192 + blob.size()), uint64_t(meta.size())})
    for (int i = 0; i < 8; ++i)
      bytes += static_cast<char>(field >> (8 * i));
  writeFile(path, bytes);
  MappedPayload payload = MappedPayload::open(path);
  ASSERT_EQ(payload.blobSize(), blob.size());
  EXPECT_EQ(std::memcmp(payload.blob(), blob.data(), blob.size()), 0);
  EXPECT_EQ(payload.metadata(), meta);
}

TEST(Payload, FileWithoutFooterIsNamed) {
  std::string path = tempPath("plain");
  writeFile(path, std::string(10000, 'p'));
  EXPECT_EQ(errorOf([&] { MappedPayload::open(path); }),
            path + ": no weight payload (footer missing)");
  writeFile(path, "tiny");
  EXPECT_EQ(errorOf([&] { MappedPayload::open(path); }),
            path + ": no weight payload (footer missing)");
  EXPECT_EQ(errorOf([&] {
              MappedPayload::open(path + ".missing");
            }).find(path + ".missing: cannot open"),
            0u);
}

TEST(Payload, TruncatedFilesAreRejected) {
  std::string path = packedFile("truncated");
  std::string bytes = readFile(path);
  // Cut at the end: the footer is gone.
  writeFile(path, bytes.substr(0, bytes.size() - 100));
  EXPECT_EQ(errorOf([&] { MappedPayload::open(path); }),
            path + ": no weight payload (footer missing)");
  // Bytes lost before an intact footer: the footer promises more than there
  // is.
  writeFile(path, bytes.substr(0, 4100) + bytes.substr(4110));
  std::string error = errorOf([&] { MappedPayload::open(path); });
  EXPECT_EQ(error.find(path + ": truncated weight payload"), 0u) << error;
}

TEST(Payload, BadOffsetsAreRejected) {
  std::string path = packedFile("badoffsets");
  std::string good = readFile(path);
  auto patched = [&](int field, uint64_t value) {
    std::string bytes = good;
    std::memcpy(bytes.data() + bytes.size() - 32 + 8 * field, &value, 8);
    writeFile(path, bytes);
    return errorOf([&] { MappedPayload::open(path); });
  };
  std::string unaligned = patched(0, 4095);
  EXPECT_EQ(unaligned.find(path + ": bad weight payload offsets"), 0u)
      << unaligned;
  EXPECT_NE(unaligned.find("multiple of 4096"), std::string::npos);
  EXPECT_EQ(patched(1, ~0ull).find(path + ": bad weight payload offsets"), 0u);
  EXPECT_EQ(patched(2, 5).find(path + ": bad weight payload offsets"), 0u);
  EXPECT_EQ(patched(3, ~0ull).find(path + ": bad weight payload offsets"), 0u);
  EXPECT_EQ(patched(3, 1).find(path + ": bad weight payload offsets"), 0u);
  writeFile(path, good);
  EXPECT_NO_THROW(MappedPayload::open(path));
}

TEST(Payload, WriterRestoresTheFileOnFailure) {
  std::string path = tempPath("shortblob");
  writeFile(path, "executable");
  std::string error = errorOf([&] {
    PayloadWriter::append(
        path, [](std::ostream &out) { out.write("abc", 3); }, 4, "{}");
  });
  EXPECT_EQ(error.find(path + ": the weight blob writer produced 3 bytes, "
                              "expected 4"),
            0u)
      << error;
  EXPECT_EQ(readFile(path), "executable");

  appendBlob(path, "abcd", "{}");
  error = errorOf([&] { appendBlob(path, "abcd", "{}"); });
  EXPECT_EQ(error, path + ": already carries a weight payload");
  EXPECT_EQ(MappedPayload::open(path).blobSize(), 4u);
}

TEST(Payload, WriteErrorIsNamedAndTheFileRestored) {
  // A disk that fills up mid-blob: the file-size limit makes the writer's
  // pwrite fail (EFBIG) past 3 MiB, inside the blob.
  std::string path = tempPath("diskfull");
  writeFile(path, "executable");
  struct rlimit saved;
  ASSERT_EQ(::getrlimit(RLIMIT_FSIZE, &saved), 0);
  struct rlimit limited = saved;
  limited.rlim_cur = 3 << 20;
  auto previous = std::signal(SIGXFSZ, SIG_IGN);
  ASSERT_EQ(::setrlimit(RLIMIT_FSIZE, &limited), 0);
  std::string error =
      errorOf([&] { appendBlob(path, blobPattern(4 << 20), "{}"); });
  ::setrlimit(RLIMIT_FSIZE, &saved);
  std::signal(SIGXFSZ, previous);
  EXPECT_EQ(error.find(path + ": write failed while appending the weight "
                              "blob: File too large"),
            0u)
      << error;
  EXPECT_EQ(readFile(path), "executable");
}

// --- metadata --------------------------------------------------------------

TEST(ModelInfo, RoundTripsEveryField) {
  ModelInfo written = fakeInfo(8, 100, kVocab, /*withPrefillLast=*/true);
  written.tokenizer = ModelInfo::ByteRange{128, 4096};
  ModelInfo info = parseModelInfo(written.toJson(), "m");
  EXPECT_EQ(info.format, gemma::kMetadataFormat);
  EXPECT_EQ(info.modelType, "gemma3_text");
  EXPECT_EQ(info.target, "cpu");
  EXPECT_EQ(info.vocabSize, kVocab);
  EXPECT_EQ(info.hiddenSize, 4);
  EXPECT_EQ(info.numLayers, 3);
  EXPECT_EQ(info.numLocalLayers, 2);
  EXPECT_EQ(info.numGlobalLayers, 1);
  EXPECT_EQ(info.slidingWindow, 3);
  EXPECT_EQ(info.maxContext, 8);
  EXPECT_EQ(info.prefillChunk, 8);
  EXPECT_EQ(info.localCacheSlots, 8);
  EXPECT_EQ(info.kvDtype, "bf16");
  EXPECT_EQ(info.kvArenaBytes, 48);
  EXPECT_EQ(info.kvBytesLocal, 32);
  EXPECT_EQ(info.kvBytesGlobal, 16);
  EXPECT_EQ(info.weightBytes, 100);
  EXPECT_EQ(info.bosTokenId, 2);
  EXPECT_EQ(info.eosTokenIds, (std::vector<int32_t>{1, 15}));
  ASSERT_TRUE(info.tokenizer.has_value());
  EXPECT_EQ(info.tokenizer->offset, 128);
  EXPECT_EQ(info.tokenizer->bytes, 4096);
  ASSERT_EQ(info.entryPoints.size(), 3u);
  const gemma::EntryPointInfo *decode = info.entryPoint("decode");
  ASSERT_NE(decode, nullptr);
  EXPECT_EQ(decode->symbol, "_mlir_ciface_gemma_decode");
  EXPECT_EQ(decode->operands, gemma::tokenEntryOperands("decode"));
  EXPECT_EQ(decode->results, gemma::tokenEntryResults("decode", kVocab));
  EXPECT_EQ(parseModelInfo(fakeInfo().toJson(), "m").tokenizer, std::nullopt);
}

TEST(ModelInfo, MissingFieldIsNamed) {
  const nlohmann::json complete = fakeMetadata();
  for (const auto &item : complete.items()) {
    nlohmann::json meta = fakeMetadata();
    meta.erase(item.key());
    EXPECT_EQ(errorOf([&] { parseModelInfo(meta.dump(), "exe"); }),
              "exe: payload metadata field '" + item.key() + "': is missing");
  }
}

TEST(ModelInfo, UnknownFieldIsNamed) {
  nlohmann::json meta = fakeMetadata();
  meta["context"] = 8;
  EXPECT_EQ(errorOf([&] { parseModelInfo(meta.dump(), "exe"); }),
            "exe: payload metadata field 'context': is not a field this "
            "reader knows");
  meta = fakeMetadata();
  meta["entry_points"][0]["stream"] = 0;
  EXPECT_NE(errorOf([&] {
              parseModelInfo(meta.dump(), "exe");
            }).find("'entry_points[0].stream'"),
            std::string::npos);
}

TEST(ModelInfo, OtherFormatsSayWhichSideIsNewer) {
  nlohmann::json meta = fakeMetadata();
  meta["format"] = gemma::kMetadataFormat + 1;
  EXPECT_NE(errorOf([&] {
              parseModelInfo(meta.dump(), "exe");
            }).find("written by a newer gemmac"),
            std::string::npos);
  meta["format"] = 1;
  EXPECT_NE(errorOf([&] {
              parseModelInfo(meta.dump(), "exe");
            }).find("written by an older gemmac; recompile the model"),
            std::string::npos);
}

TEST(ModelInfo, InvalidFieldsAreNamed) {
  auto errorWith = [](const char *key, const nlohmann::json &value) {
    nlohmann::json meta = fakeMetadata();
    meta[key] = value;
    return errorOf([&] { parseModelInfo(meta.dump(), "exe"); });
  };
  EXPECT_NE(errorWith("vocab_size", "16")
                .find("'vocab_size': expected an "
                      "integer"),
            std::string::npos);
  EXPECT_NE(errorWith("max_context", 0).find("'max_context'"),
            std::string::npos);
  EXPECT_NE(errorWith("kv_dtype", "int4").find("'kv_dtype'"),
            std::string::npos);
  EXPECT_NE(errorWith("bos_token_id", kVocab).find("'bos_token_id'"),
            std::string::npos);
  EXPECT_NE(errorWith("eos_token_ids", {1, -1}).find("'eos_token_ids'"),
            std::string::npos);
  EXPECT_NE(errorWith("kv_arena_bytes", 8).find("'kv_bytes_local'"),
            std::string::npos);
  // A ring that cannot hold a window (3) and a call (8 tokens) besides.
  EXPECT_NE(errorWith("local_cache_slots", 4)
                .find("'local_cache_slots': 4 slots cannot hold a window of "
                      "3 and calls of 8 tokens"),
            std::string::npos);
  EXPECT_NE(errorWith("tokenizer", {{"offset", -64}, {"bytes", 4}})
                .find("'tokenizer.offset'"),
            std::string::npos);
  EXPECT_NE(errorWith("entry_points", "prefill").find("'entry_points'"),
            std::string::npos);
  EXPECT_EQ(errorOf([] {
              parseModelInfo("{not json", "exe");
            }).find("exe: payload metadata is not valid JSON"),
            0u);
}

// The entry table is resolved and checked when the model starts: a missing
// or mistyped entry, or one whose symbol is not there, is named before any
// generated code runs.
TEST(ModelInfo, EntryTableIsCheckedAtStart) {
  auto start = [](ModelInfo info, gemma::SymbolResolver symbols) {
    std::string path =
        packedFile("entries", nlohmann::json::parse(info.toJson()));
    return errorOf([&] { Model(MappedPayload::open(path), symbols); });
  };
  auto none = [](const std::string &) -> void * { return nullptr; };
  auto any = [](const std::string &) -> void * {
    return reinterpret_cast<void *>(&fakeDecode);
  };
  ModelInfo info = fakeInfo();
  info.entryPoints.pop_back(); // decode
  EXPECT_NE(start(info, any).find("the payload's entry table has no 'decode' "
                                  "entry point"),
            std::string::npos);
  info = fakeInfo();
  info.entryPoints[1].operands[2].shape = {-1};
  EXPECT_NE(start(info, any).find("entry point 'decode' takes (weights: "
                                  "i8[?], kv_arena: i8[?], ids: i32[?], "
                                  "position: index[]) -> (logits: f32[1, 16]) "
                                  "but this runtime calls it with "),
            std::string::npos);
  EXPECT_NE(start(fakeInfo(), none)
                .find("entry point 'prefill' (symbol "
                      "_mlir_ciface_gemma_prefill) is not "
                      "in the executable"),
            std::string::npos);
  info = fakeInfo();
  info.target = "tpu";
  EXPECT_NE(start(info, any).find("compiled for target 'tpu'"),
            std::string::npos);
  // decode_argmax is optional, but checked when the table has it.
  info = fakeInfo(8, 100, kVocab, false, /*withDecodeArgmax=*/true);
  info.entryPoints.back().results[0].dtype = "f32";
  EXPECT_NE(start(info, any).find("entry point 'decode_argmax' takes "
                                  "(weights: i8[?], kv_arena: i8[?], ids: "
                                  "i32[1], position: index[]) -> (token: "
                                  "f32[1]) but this runtime calls it with "),
            std::string::npos);
}

// --- the model loop --------------------------------------------------------

class ModelTest : public ::testing::Test {
protected:
  void SetUp() override {
    fakeCalls.clear();
    fakeWrongShape = false;
    fakeArgmaxToken.reset();
  }
  // The fake's functions by symbol, as dlsym finds them in an executable.
  static void *fakeSymbol(const std::string &symbol) {
    if (symbol == "_mlir_ciface_gemma_prefill")
      return reinterpret_cast<void *>(&fakePrefill);
    if (symbol == "_mlir_ciface_gemma_prefill_last")
      return reinterpret_cast<void *>(&fakePrefillLast);
    if (symbol == "_mlir_ciface_gemma_decode")
      return reinterpret_cast<void *>(&fakeDecode);
    if (symbol == "_mlir_ciface_gemma_decode_argmax")
      return reinterpret_cast<void *>(&fakeDecodeArgmax);
    return nullptr;
  }
  Model makeModel(const nlohmann::json &meta = fakeMetadata()) {
    return Model(MappedPayload::open(packedFile("model", meta)), fakeSymbol);
  }
  static std::vector<float> expectedRow(int32_t id, int64_t pos) {
    std::string blob = blobPattern(100);
    std::vector<float> row(kVocab);
    row[0] = static_cast<float>(id);
    row[1] = static_cast<float>(pos);
    row[2] = static_cast<float>(pos); // every earlier position was written
    row[3] = static_cast<uint8_t>(blob[id % 100]);
    row[4] = 100;
    for (int64_t j = 5; j < kVocab; ++j)
      row[j] = static_cast<float>(j) + 0.5f * static_cast<float>(id);
    return row;
  }
  static std::vector<float> rowOf(const std::vector<float> &logits, int64_t i) {
    return std::vector<float>(logits.begin() + i * kVocab,
                              logits.begin() + (i + 1) * kVocab);
  }
};

TEST_F(ModelTest, PrefillLastReturnsTheLastRowThroughItsEntryPoint) {
  Model model = makeModel(nlohmann::json::parse(
      fakeInfo(8, 100, kVocab, /*withPrefillLast=*/true).toJson()));
  ASSERT_TRUE(model.hasPrefillLast());
  std::vector<int32_t> ids = {2, 7, 11};
  EXPECT_EQ(model.prefillLast(ids.data(), 3), expectedRow(11, 2));
  EXPECT_EQ(model.position(), 3);
  ASSERT_EQ(fakeCalls.size(), 1u);
  EXPECT_EQ(fakeCalls[0].kind, 'l');
  EXPECT_EQ(fakeCalls[0].n, 3);

  fakeWrongShape = true;
  EXPECT_THROW(model.prefillLast(ids.data(), 1), std::runtime_error)
      << "two rows back from prefill_last is an error";
}

TEST_F(ModelTest, PrefillIsCutIntoCallsOfAtMostTheChunk) {
  // A local ring holds a window and one call's tokens: 7 tokens with a
  // chunk of 3 are three calls, at the right positions, and the rows come
  // back as if from one.
  nlohmann::json meta = fakeMetadata(/*maxContext=*/16);
  meta["prefill_chunk"] = 3;
  meta["local_cache_slots"] = 5;
  Model model = makeModel(meta);
  std::vector<int32_t> ids = {2, 7, 11, 3, 5, 1, 9};
  std::vector<float> logits = model.prefill(ids.data(), 7);
  ASSERT_EQ(fakeCalls.size(), 3u);
  EXPECT_EQ(fakeCalls[0].n, 3);
  EXPECT_EQ(fakeCalls[1].position, 3);
  EXPECT_EQ(fakeCalls[2].n, 1);
  EXPECT_EQ(fakeCalls[2].position, 6);
  ASSERT_EQ(logits.size(), 7u * kVocab);
  for (int64_t i = 0; i < 7; ++i)
    EXPECT_EQ(rowOf(logits, i), expectedRow(ids[i], i)) << "row " << i;
  EXPECT_EQ(model.position(), 7);
}

TEST_F(ModelTest, PrefillLastIsCutIntoCallsToo) {
  nlohmann::json meta =
      nlohmann::json::parse(fakeInfo(16, 100, kVocab, true).toJson());
  meta["prefill_chunk"] = 4;
  meta["local_cache_slots"] = 6;
  Model model = makeModel(meta);
  std::vector<int32_t> ids = {2, 7, 11, 3, 5, 1};
  EXPECT_EQ(model.prefillLast(ids.data(), 6), expectedRow(1, 5));
  ASSERT_EQ(fakeCalls.size(), 2u);
  EXPECT_EQ(fakeCalls[0].kind, 'l');
  EXPECT_EQ(fakeCalls[1].n, 2);
  EXPECT_EQ(fakeCalls[1].position, 4);
}

TEST_F(ModelTest, PrefillLastFallsBackToPrefill) {
  Model model = makeModel();
  ASSERT_FALSE(model.hasPrefillLast());
  std::vector<int32_t> ids = {2, 7, 11};
  EXPECT_EQ(model.prefillLast(ids.data(), 3), expectedRow(11, 2));
  ASSERT_EQ(fakeCalls.size(), 1u);
  EXPECT_EQ(fakeCalls[0].kind, 'p');
}

TEST_F(ModelTest, DecodeArgmaxReturnsTheTokenOfDecodesLogits) {
  Model model = makeModel(nlohmann::json::parse(
      fakeInfo(8, 100, kVocab, false, /*withDecodeArgmax=*/true).toJson()));
  ASSERT_TRUE(model.hasDecodeArgmax());
  std::vector<int32_t> ids = {2, 7};
  model.prefill(ids.data(), 2);
  std::vector<float> row = expectedRow(13, 2);
  EXPECT_EQ(model.decodeArgmax(13), gemma::argmax(row.data(), kVocab));
  EXPECT_EQ(model.position(), 3);
  ASSERT_EQ(fakeCalls.size(), 2u);
  EXPECT_EQ(fakeCalls[1].kind, 'a');
  EXPECT_EQ(fakeCalls[1].position, 2);
  EXPECT_EQ(fakeCalls[1].ids, (std::vector<int32_t>{13}));

  // Checked as decode is, before the call.
  EXPECT_NE(errorOf([&] {
              model.decodeArgmax(kVocab);
            }).find("token id 16 (index 0) is outside the vocabulary"),
            std::string::npos);
  EXPECT_EQ(fakeCalls.size(), 2u);
  // Logits all NaN: the entry returns the vocabulary size, which is an
  // error, not a token.
  fakeArgmaxToken = kVocab;
  EXPECT_NE(errorOf([&] { model.decodeArgmax(1); })
                .find("decode_argmax returned token 16 at position 3, "
                      "outside the vocabulary: the logits were all NaN"),
            std::string::npos);
  fakeArgmaxToken.reset();
  fakeWrongShape = true;
  EXPECT_NE(errorOf([&] {
              model.decodeArgmax(1);
            }).find("returned a token of shape [2], expected [1]"),
            std::string::npos);
}

TEST_F(ModelTest, WithoutDecodeArgmaxTheEntryIsAbsent) {
  Model model = makeModel();
  EXPECT_FALSE(model.hasDecodeArgmax());
  EXPECT_THROW(model.decodeArgmax(1), std::logic_error);
}

TEST_F(ModelTest, PrefillThenDecodeReturnsEveryRowAndAdvances) {
  Model model = makeModel();
  EXPECT_EQ(model.position(), 0);
  std::vector<int32_t> ids = {2, 7, 11};
  std::vector<float> logits = model.prefill(ids.data(), 3);
  ASSERT_EQ(logits.size(), 3u * kVocab);
  for (int64_t i = 0; i < 3; ++i)
    EXPECT_EQ(rowOf(logits, i), expectedRow(ids[i], i)) << "row " << i;
  EXPECT_EQ(model.position(), 3);

  EXPECT_EQ(model.decode(13), expectedRow(13, 3));
  EXPECT_EQ(model.decode(0), expectedRow(0, 4));
  EXPECT_EQ(model.position(), 5);

  ASSERT_EQ(fakeCalls.size(), 3u);
  EXPECT_EQ(fakeCalls[0].kind, 'p');
  EXPECT_EQ(fakeCalls[0].n, 3);
  EXPECT_EQ(fakeCalls[0].position, 0);
  EXPECT_EQ(fakeCalls[1].kind, 'd');
  EXPECT_EQ(fakeCalls[1].position, 3);
  EXPECT_EQ(fakeCalls[2].position, 4);
  for (const FakeCall &call : fakeCalls) {
    EXPECT_EQ(call.weights, model.payload().blob());
    EXPECT_EQ(call.weightBytes, 100);
    EXPECT_EQ(call.arenaBytes, 48);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(call.arena) % 64, 0u);
    EXPECT_EQ(call.arena, fakeCalls[0].arena) << "one arena for all calls";
  }
}

TEST_F(ModelTest, RefusesToPassTheContextBeforeCalling) {
  Model model = makeModel(); // max_context 8
  std::vector<int32_t> ids(6, 3);
  model.prefill(ids.data(), 6);
  std::string error = errorOf([&] { model.prefill(ids.data(), 3); });
  EXPECT_NE(error.find("compiled context of 8"), std::string::npos) << error;
  EXPECT_NE(error.find("--max-context"), std::string::npos) << error;
  EXPECT_EQ(fakeCalls.size(), 1u);
  EXPECT_EQ(model.position(), 6);
  model.decode(1);
  model.decode(1);
  EXPECT_EQ(model.position(), 8);
  EXPECT_THROW(model.decode(1), std::runtime_error);
  EXPECT_EQ(fakeCalls.size(), 3u);

  // A prefill longer than the whole context fails even at position 0.
  model.reset();
  std::vector<int32_t> tooMany(9, 1);
  EXPECT_THROW(model.prefill(tooMany.data(), 9), std::runtime_error);
  EXPECT_EQ(fakeCalls.size(), 3u);
}

TEST_F(ModelTest, RefusesBadIdsAndEmptyPrefillBeforeCalling) {
  Model model = makeModel();
  std::vector<int32_t> ids = {1, kVocab, 2};
  std::string error = errorOf([&] { model.prefill(ids.data(), 3); });
  EXPECT_NE(error.find("token id 16 (index 1)"), std::string::npos) << error;
  EXPECT_THROW(model.decode(-1), std::runtime_error);
  EXPECT_THROW(model.prefill(ids.data(), 0), std::runtime_error);
  EXPECT_TRUE(fakeCalls.empty());
  EXPECT_EQ(model.position(), 0);
  EXPECT_EQ(model.decode(kVocab - 1), expectedRow(kVocab - 1, 0));
}

TEST_F(ModelTest, ResetStartsAgainAtPositionZero) {
  Model model = makeModel();
  std::vector<int32_t> ids = {4, 5};
  model.prefill(ids.data(), 2);
  model.reset();
  EXPECT_EQ(model.position(), 0);
  EXPECT_EQ(model.decode(9)[1], 0.0f);
  EXPECT_EQ(fakeCalls.back().position, 0);
}

TEST_F(ModelTest, FreesTheLogitsBuffer) {
  Model model = makeModel(fakeMetadata(/*maxContext=*/64));
  auto inUse = [] {
    struct mallinfo2 info = mallinfo2();
    return info.uordblks + info.hblkhd;
  };
  model.decode(1); // warm up the allocator and the test's own vectors
  size_t before = inUse();
  for (int i = 0; i < 20; ++i)
    model.decode(1);
  size_t after = inUse();
  // Each call mallocs over 4 MB; 20 leaked buffers would be 80 MB.
  EXPECT_LT(after, before + (1u << 20)) << "logits buffers leaked";
}

TEST_F(ModelTest, WrongLogitsShapeIsAnErrorAndStillFreed) {
  Model model = makeModel(fakeMetadata(/*maxContext=*/64));
  fakeWrongShape = true;
  std::string error = errorOf([&] { model.decode(1); });
  EXPECT_NE(error.find("shape [2, 16], expected [1, 16]"), std::string::npos)
      << error;
  size_t before = mallinfo2().uordblks + mallinfo2().hblkhd;
  for (int i = 0; i < 10; ++i)
    EXPECT_THROW(model.decode(1), std::runtime_error);
  EXPECT_LT(mallinfo2().uordblks + mallinfo2().hblkhd, before + (1u << 20));
}

TEST_F(ModelTest, ChecksTheBlobAgainstTheMetadata) {
  std::string error =
      errorOf([&] { makeModel(fakeMetadata(8, /*weightBytes=*/101)); });
  EXPECT_NE(error.find("the weight blob has 100 bytes but the model reads "
                       "101"),
            std::string::npos)
      << error;
}

TEST_F(ModelTest, KvBytesInUseIsExactWithTheWindow) {
  // Local caches: a ring of 3 positions (the window, one-token calls), 4
  // bytes each over all local layers; global: 2 bytes per position.
  nlohmann::json meta = fakeMetadata();
  meta["prefill_chunk"] = 1;
  meta["local_cache_slots"] = 3;
  meta["kv_bytes_local"] = 12;
  Model model = makeModel(meta);
  std::vector<int64_t> expected = {0, 4 + 2, 8 + 4, 12 + 6, 12 + 8, 12 + 10};
  for (int64_t pos = 0; pos < 6; ++pos) {
    EXPECT_EQ(model.kvBytesInUse(), expected[pos]) << "position " << pos;
    model.decode(1);
  }
  model.reset();
  EXPECT_EQ(model.kvBytesInUse(), 0);
}

// --- generation over the fake ----------------------------------------------

// The fake's greedy choice after `id` at `pos` (see fakeEntry): index 3
// (a blob byte) or 4 (100), whichever is larger, for kVocab = 16.
int32_t fakeGreedyAfter(int32_t id) {
  int blobByte = (id % 100 * 7 + 3) % 251;
  return blobByte > 100 ? 3 : 4;
}

class GeneratorTest : public ModelTest {
protected:
  void TearDown() override { fakeVocab = kVocab; }
  Sampler greedy{SamplingOptions{0, 0, 1.0, 0}};
};

TEST_F(GeneratorTest, PrefillsThenFeedsBackEachSampledToken) {
  Model model = makeModel();
  Generator generator(model, greedy);
  std::vector<int32_t> streamed;
  GenerationResult result = generator.generate(
      {2, 7, 15}, {/*maxTokens=*/4, /*stopIds=*/{1}}, [&](int32_t id) {
        streamed.push_back(id);
        return true;
      });
  // 15 -> 3 (blob byte 108 > 100), then 3 -> 4, 4 -> 4.
  std::vector<int32_t> expected = {fakeGreedyAfter(15)};
  while (expected.size() < 4)
    expected.push_back(fakeGreedyAfter(expected.back()));
  ASSERT_EQ(expected, (std::vector<int32_t>{3, 4, 4, 4}));
  EXPECT_EQ(result.ids, expected);
  EXPECT_EQ(streamed, expected);
  EXPECT_EQ(result.stopReason, StopReason::MaxTokens);

  // One prefill of the prompt, then the first three generated tokens fed
  // back one at a time; the fourth is never fed.
  ASSERT_EQ(fakeCalls.size(), 4u);
  EXPECT_EQ(fakeCalls[0].kind, 'p');
  EXPECT_EQ(fakeCalls[0].ids, (std::vector<int32_t>{2, 7, 15}));
  for (int i = 1; i < 4; ++i) {
    EXPECT_EQ(fakeCalls[i].kind, 'd');
    EXPECT_EQ(fakeCalls[i].position, 2 + i);
    EXPECT_EQ(fakeCalls[i].ids, (std::vector<int32_t>{expected[i - 1]}));
  }
  const GenerationStats &stats = result.stats;
  EXPECT_EQ(stats.promptTokens, 3);
  EXPECT_EQ(stats.promptStart, 0);
  EXPECT_EQ(stats.generatedTokens, 4);
  EXPECT_EQ(stats.decodeSteps, 3);
  EXPECT_EQ(stats.position, 6);
  EXPECT_EQ(stats.kvBytesInUse, 4 * 6 + 2 * 6);
  EXPECT_GT(stats.prefillTokensPerSecond(), 0);
  EXPECT_GT(stats.decodeTokensPerSecond(), 0);
}

TEST_F(GeneratorTest, GreedyDecodingTakesItsTokensFromDecodeArgmax) {
  Model model = makeModel(nlohmann::json::parse(
      fakeInfo(8, 100, kVocab, false, /*withDecodeArgmax=*/true).toJson()));
  Generator generator(model, greedy);
  GenerationResult result = generator.generate({2, 7, 15}, {4, {1}});
  EXPECT_EQ(result.ids, (std::vector<int32_t>{3, 4, 4, 4}));
  // The first token from the prefill's logits, the others decode_argmax's.
  ASSERT_EQ(fakeCalls.size(), 4u);
  EXPECT_EQ(fakeCalls[0].kind, 'p');
  for (int i = 1; i < 4; ++i) {
    EXPECT_EQ(fakeCalls[i].kind, 'a');
    EXPECT_EQ(fakeCalls[i].position, 2 + i);
    EXPECT_EQ(fakeCalls[i].ids, (std::vector<int32_t>{result.ids[i - 1]}));
  }
  EXPECT_EQ(result.stats.decodeSteps, 3);

  // Sampling needs the logits: decode, even with decode_argmax there.
  fakeCalls.clear();
  model.reset();
  Sampler topOne{SamplingOptions{1.0, 1, 1.0, 0}};
  Generator sampling(model, topOne);
  EXPECT_EQ(sampling.generate({2, 7, 15}, {4, {1}}).ids, result.ids);
  ASSERT_EQ(fakeCalls.size(), 4u);
  for (int i = 1; i < 4; ++i)
    EXPECT_EQ(fakeCalls[i].kind, 'd');
}

TEST_F(GeneratorTest, StopsAtAStopIdWithoutStreamingOrFeedingIt) {
  Model model = makeModel();
  Generator generator(model, greedy);
  std::vector<int32_t> streamed;
  GenerationResult result = generator.generate(
      {2, 15}, {/*maxTokens=*/5, /*stopIds=*/{1, 4}}, [&](int32_t id) {
        streamed.push_back(id);
        return true;
      });
  EXPECT_EQ(result.ids, (std::vector<int32_t>{3, 4}));
  EXPECT_EQ(result.stopReason, StopReason::StopToken);
  EXPECT_EQ(streamed, (std::vector<int32_t>{3}));
  EXPECT_EQ(fakeCalls.size(), 2u); // the prefill and decode(3)
  EXPECT_EQ(model.position(), 3);
}

TEST_F(GeneratorTest, TheCallbackCanCancel) {
  Model model = makeModel();
  Generator generator(model, greedy);
  GenerationResult result =
      generator.generate({2}, {5, {}}, [](int32_t) { return false; });
  EXPECT_EQ(result.ids.size(), 1u);
  EXPECT_EQ(result.stopReason, StopReason::Cancelled);
  EXPECT_EQ(fakeCalls.size(), 1u);
}

TEST_F(GeneratorTest, RefusesPromptAndBudgetBeyondTheContextBeforeRunning) {
  Model model = makeModel(); // max_context 8
  Generator generator(model, greedy);
  std::vector<int32_t> prompt = {2, 7, 11, 3, 15};
  std::string error = errorOf([&] { generator.generate(prompt, {4, {}}); });
  EXPECT_NE(error.find("the prompt (5 tokens) plus --max-tokens 4 need 9 "
                       "positions, but the compiled context of 8 tokens "
                       "cannot hold them"),
            std::string::npos)
      << error;
  EXPECT_THROW(generator.generate(prompt, {4, {}}), ContextOverflow);
  EXPECT_TRUE(fakeCalls.empty());
  EXPECT_EQ(model.position(), 0);

  // Exactly full is fine: 5 + 3 = 8 tokens, the last never fed.
  GenerationResult result = generator.generate(prompt, {3, {}});
  EXPECT_EQ(result.ids.size(), 3u);
  EXPECT_EQ(model.position(), 7);

  // Behind earlier tokens the message says what is left.
  model.reset();
  model.prefill(prompt.data(), 5);
  error = errorOf([&] { generator.generate({1, 1}, {2, {}}); });
  EXPECT_NE(error.find("only 3 of the compiled context of 8 tokens are left"),
            std::string::npos)
      << error;
}

TEST_F(GeneratorTest, WithoutABudgetItStopsWhenTheContextIsFull) {
  Model model = makeModel(); // max_context 8
  Generator generator(model, greedy);
  GenerationResult result = generator.generate({2, 7, 11, 3, 15}, {0, {}});
  EXPECT_EQ(result.ids.size(), 3u); // prompt + generated = 8
  EXPECT_EQ(result.stopReason, StopReason::ContextFull);
  EXPECT_EQ(model.position(), 7);
  // A prompt that leaves no room for one token is refused.
  model.reset();
  std::vector<int32_t> eight(8, 1);
  EXPECT_THROW(generator.generate(eight, {0, {}}), ContextOverflow);
}

TEST_F(GeneratorTest, LongPromptsArePrefilledInChunks) {
  fakeVocab = 262144; // 1 MiB of logits a row: 64 rows a call
  Model model = makeModel(nlohmann::json::parse(
      fakeInfo(/*maxContext=*/200, 100, fakeVocab).toJson()));
  Generator generator(model, greedy);
  EXPECT_EQ(generator.prefillChunk(), 64);
  std::vector<int32_t> prompt(130);
  for (int i = 0; i < 130; ++i)
    prompt[i] = i;
  GenerationResult result = generator.generate(prompt, {1, {}});
  ASSERT_EQ(fakeCalls.size(), 3u);
  EXPECT_EQ(fakeCalls[0].n, 64);
  EXPECT_EQ(fakeCalls[1].n, 64);
  EXPECT_EQ(fakeCalls[1].position, 64);
  EXPECT_EQ(fakeCalls[2].n, 2);
  EXPECT_EQ(fakeCalls[2].ids, (std::vector<int32_t>{128, 129}));
  // Sampled from the last row: argmax of j + id / 2 is the last index.
  EXPECT_EQ(result.ids, (std::vector<int32_t>{262143}));
  EXPECT_EQ(result.stats.promptTokens, 130);
}

// --- a chat kept in the caches ---------------------------------------------

const Tokenizer &gemmaTokenizer() {
  static const Tokenizer tokenizer(
      readFile(std::string(GEMMA_SHARED_DIR) +
               "/fixtures/tokenizer/gemma3-tokenizer.model"),
      "gemma3-tokenizer.model");
  return tokenizer;
}

class ChatSessionTest : public GeneratorTest {
protected:
  void SetUp() override {
    GeneratorTest::SetUp();
    // Gemma 3's vocabulary: the tokenizer's ids fit, and the fake's greedy
    // choice is the last (padding) id, which decodes to nothing.
    fakeVocab = 262208;
  }
  Model makeChatModel() {
    return makeModel(nlohmann::json::parse(
        fakeInfo(/*maxContext=*/64, 100, fakeVocab).toJson()));
  }
  static constexpr int32_t kLast = 262207;
};

TEST_F(ChatSessionTest, LaterTurnsPrefillOnlyWhatTheCachesLack) {
  Model model = makeChatModel();
  Generator generator(model, greedy);
  const Tokenizer &tokenizer = gemmaTokenizer();
  Conversation conversation(tokenizer, 2, "Be brief.");
  ChatSession session(model, generator, conversation);
  GenerationOptions options{/*maxTokens=*/3, defaultStopIds(model.info())};

  std::vector<int32_t> turn1 = conversation.userTurnIds("Hi");
  EXPECT_EQ(session.pendingIds("Hi"), turn1);
  GenerationResult reply1 = session.send("Hi", options);
  EXPECT_EQ(reply1.ids, (std::vector<int32_t>(3, kLast)));
  const int64_t n1 = static_cast<int64_t>(turn1.size());
  ASSERT_EQ(fakeCalls.size(), 3u);
  EXPECT_EQ(fakeCalls[0].ids, turn1);
  EXPECT_EQ(model.position(), n1 + 2);

  // The conversation is the template's: reply ids, then <end_of_turn> "\n".
  std::vector<int32_t> expected = turn1;
  expected.insert(expected.end(), {kLast, kLast, kLast, 106, 107});
  EXPECT_EQ(conversation.ids(), expected);

  // Turn two prefills the unfed last reply token, the closing tokens and
  // its own turn, at the position where turn one ended.
  std::vector<int32_t> turn2 = conversation.userTurnIds("Thanks!");
  EXPECT_EQ(turn2.front(), 105) << "no second <bos>";
  std::vector<int32_t> pending = {kLast, 106, 107};
  pending.insert(pending.end(), turn2.begin(), turn2.end());
  EXPECT_EQ(session.pendingIds("Thanks!"), pending);
  fakeCalls.clear();
  GenerationResult reply2 = session.send("Thanks!", options);
  ASSERT_FALSE(fakeCalls.empty());
  EXPECT_EQ(fakeCalls[0].kind, 'p');
  EXPECT_EQ(fakeCalls[0].position, n1 + 2);
  EXPECT_EQ(fakeCalls[0].ids, pending);
  EXPECT_EQ(reply2.stats.promptStart, n1 + 2);
  EXPECT_EQ(reply2.stats.promptTokens, static_cast<int64_t>(pending.size()));

  // The caches hold exactly the conversation but its last reply token and
  // closing.
  expected.insert(expected.end(), turn2.begin(), turn2.end());
  expected.insert(expected.end(), {kLast, kLast, kLast, 106, 107});
  EXPECT_EQ(conversation.ids(), expected);
  EXPECT_EQ(model.position(), static_cast<int64_t>(expected.size()) - 3);
}

TEST_F(ChatSessionTest, AReplyEndedByAStopTokenIsClosedOnce) {
  Model model = makeChatModel();
  Generator generator(model, greedy);
  const Tokenizer &tokenizer = gemmaTokenizer();
  Conversation conversation(tokenizer, 2, "");
  ChatSession session(model, generator, conversation);
  // Pretend the padding id ends the turn, like <end_of_turn>.
  GenerationOptions options{/*maxTokens=*/3, {kLast}};
  std::vector<int32_t> turn1 = conversation.userTurnIds("Hi");
  GenerationResult reply = session.send("Hi", options);
  EXPECT_EQ(reply.stopReason, StopReason::StopToken);
  std::vector<int32_t> expected = turn1;
  expected.insert(expected.end(), {106, 107});
  EXPECT_EQ(conversation.ids(), expected);
  EXPECT_EQ(model.position(), static_cast<int64_t>(turn1.size()));
  std::vector<int32_t> pending = session.pendingIds("Again");
  EXPECT_EQ(std::vector<int32_t>(pending.begin(), pending.begin() + 3),
            (std::vector<int32_t>{106, 107, 105}));
}

TEST_F(ChatSessionTest, ATurnThatDoesNotFitChangesNothing) {
  Model model = makeChatModel(); // 64 positions
  Generator generator(model, greedy);
  const Tokenizer &tokenizer = gemmaTokenizer();
  Conversation conversation(tokenizer, 2, "");
  ChatSession session(model, generator, conversation);
  GenerationOptions options{/*maxTokens=*/8, defaultStopIds(model.info())};
  session.send("Hi", options);
  const std::vector<int32_t> before = conversation.ids();
  const int64_t position = model.position();
  fakeCalls.clear();

  std::string longText;
  for (int i = 0; i < 15; ++i) // 43 tokens as a turn
    longText += " word" + std::to_string(i);
  ASSERT_EQ(conversation.userTurnIds(longText).size(), 43u);
  EXPECT_FALSE(session.problem(longText, options).empty());
  EXPECT_THROW(session.send(longText, options), ContextOverflow);
  EXPECT_TRUE(fakeCalls.empty());
  EXPECT_EQ(conversation.ids(), before);
  EXPECT_EQ(model.position(), position);

  // A fresh conversation has room for it.
  session.restart();
  EXPECT_EQ(model.position(), 0);
  EXPECT_TRUE(conversation.empty());
  EXPECT_EQ(session.problem(longText, options), "");
  GenerationResult reply = session.send(longText, options);
  EXPECT_EQ(reply.stats.promptStart, 0);
  EXPECT_EQ(fakeCalls[0].ids.front(), 2) << "<bos> again";
}

// --- command line ----------------------------------------------------------

TEST(ArgParser, ParsesOptionsAndRejectsTheRest) {
  auto parser = [] {
    ArgParser args("EXE");
    args.option("--ids", "F", "ids")
        .option("-n", "N", "count")
        .flag("--info", "info");
    return args;
  };
  ArgParser args = parser();
  const char *argv[] = {"exe", "--ids", "a.npy", "-n=12", "--info"};
  args.parse(5, argv);
  EXPECT_EQ(args.value("--ids"), "a.npy");
  EXPECT_EQ(args.integer("-n"), 12);
  EXPECT_TRUE(args.has("--info"));
  EXPECT_NE(args.usage().find("--ids F"), std::string::npos);

  auto errorFor = [&](std::vector<const char *> argv) {
    ArgParser args = parser();
    argv.insert(argv.begin(), "exe");
    try {
      args.parse(static_cast<int>(argv.size()), argv.data());
      if (args.has("-n"))
        args.integer("-n");
    } catch (const UsageError &e) {
      return std::string(e.what());
    }
    return std::string("(no error)");
  };
  EXPECT_EQ(errorFor({"--bogus"}), "unknown option '--bogus'");
  EXPECT_EQ(errorFor({"stray"}), "unexpected argument 'stray'");
  EXPECT_EQ(errorFor({"--ids"}), "option '--ids' needs a value F");
  EXPECT_EQ(errorFor({"-n", "1", "-n", "2"}), "option '-n' given twice");
  EXPECT_EQ(errorFor({"--info=1"}), "option '--info' takes no value");
  EXPECT_EQ(errorFor({"-n", "3x"}), "option '-n' needs an integer, got '3x'");
}

TEST(Npy, Int64IdsOutsideInt32AreRejected) {
  NpyArray array;
  array.dtype = "<i8";
  array.shape = {2};
  int64_t values[2] = {5, int64_t(1) << 32 | 5};
  array.data.assign(reinterpret_cast<char *>(values),
                    reinterpret_cast<char *>(values) + 16);
  EXPECT_THROW(array.toInt32(), std::runtime_error);
  values[1] = -7;
  std::memcpy(array.data.data(), values, 16);
  EXPECT_EQ(array.toInt32(), (std::vector<int32_t>{5, -7}));
}

// --- the packed executable, end to end -------------------------------------

struct RunResult {
  int status;
  std::string out, err;
};

RunResult runExe(const std::string &exe, const std::string &args) {
  std::string out = tempPath("stdout"), err = tempPath("stderr");
  int raw = std::system(
      ("'" + exe + "' " + args + " >'" + out + "' 2>'" + err + "'").c_str());
  return {WIFEXITED(raw) ? WEXITSTATUS(raw) : -1, readFile(out), readFile(err)};
}

// Writes ids as .npy int64 (NumPy's default integer), which --input-ids
// accepts besides int32.
void writeInt64Ids(const std::string &path, const std::vector<int64_t> &ids) {
  std::string header = "{'descr': '<i8', 'fortran_order': False, 'shape': (" +
                       std::to_string(ids.size()) + ",), }";
  header.append(64 - (10 + header.size() + 1) % 64, ' ');
  header += '\n';
  std::string bytes = std::string("\x93NUMPY\x01\x00", 8);
  uint16_t length = static_cast<uint16_t>(header.size());
  bytes.append(reinterpret_cast<char *>(&length), 2);
  bytes += header;
  bytes.append(reinterpret_cast<const char *>(ids.data()), ids.size() * 8);
  writeFile(path, bytes);
}

class PackedExe : public ::testing::Test {
protected:
  void SetUp() override {
    exe = tempPath("fake_model_exe");
    fs::copy_file(GEMMA_FAKE_MODEL_EXE, exe,
                  fs::copy_options::overwrite_existing);
    appendBlob(exe, blobPattern(100), fakeMetadata().dump());
    ids = {2, 7, 11, 3, 15};
    idsPath = tempPath("ids.npy");
    writeNpy(idsPath, ids.data(), {5});
    outPath = tempPath("logits.npy");
    fs::remove(outPath);
  }
  void expectLogits() {
    NpyArray logits = readNpy(outPath);
    ASSERT_EQ(logits.shape, (std::vector<int64_t>{5, kVocab}));
    std::vector<float> values = logits.toFloat();
    for (int64_t i = 0; i < 5; ++i) {
      EXPECT_EQ(values[i * kVocab + 0], ids[i]) << "row " << i;
      EXPECT_EQ(values[i * kVocab + 1], i) << "row " << i;
      EXPECT_EQ(values[i * kVocab + 2], i) << "arena persists, row " << i;
      EXPECT_EQ(values[i * kVocab + 4], 100) << "row " << i;
    }
  }
  std::string exe, idsPath, outPath;
  std::vector<int32_t> ids;
};

TEST_F(PackedExe, DumpsLogitsOfPrefillAndDecode) {
  RunResult run = runExe(exe, "--input-ids '" + idsPath + "' --dump-logits '" +
                                  outPath + "' --prefill 2");
  ASSERT_EQ(run.status, 0) << run.err;
  expectLogits();

  run = runExe(exe,
               "--input-ids '" + idsPath + "' --dump-logits '" + outPath + "'");
  ASSERT_EQ(run.status, 0) << run.err;
  expectLogits();

  writeInt64Ids(idsPath, {2, 7, 11, 3, 15});
  run = runExe(exe, "--input-ids='" + idsPath + "' --dump-logits '" + outPath +
                        "' --prefill 1");
  ASSERT_EQ(run.status, 0) << run.err;
  expectLogits();
}

TEST_F(PackedExe, InfoPrintsTheMetadata) {
  RunResult run = runExe(exe, "--info");
  ASSERT_EQ(run.status, 0) << run.err;
  EXPECT_EQ(nlohmann::json::parse(run.out), fakeMetadata());
}

TEST_F(PackedExe, UsageErrorsExitWith2) {
  RunResult run = runExe(exe, "--input-ids '" + idsPath + "' --bogus");
  EXPECT_EQ(run.status, 2);
  EXPECT_NE(run.err.find("error: unknown option '--bogus'"), std::string::npos)
      << run.err;
  EXPECT_NE(run.err.find("usage:"), std::string::npos);
  EXPECT_EQ(runExe(exe, "--help").status, 0);

  auto expectUsageError = [&](const std::string &args,
                              const std::string &what) {
    RunResult run = runExe(exe, args);
    EXPECT_EQ(run.status, 2) << args;
    EXPECT_EQ(run.err.rfind("error: " + what + "\n", 0), 0u) << run.err;
    EXPECT_TRUE(run.out.empty()) << run.out;
  };
  std::string ids = " --input-ids '" + idsPath + "'";
  expectUsageError("--dump-logits x.npy", "--dump-logits needs --input-ids");
  expectUsageError(ids + " --prefill 2", "--prefill needs --dump-logits");
  expectUsageError(ids + " -p hi", "-p and --input-ids cannot be used "
                                   "together");
  expectUsageError(ids + " --chat", "--chat and --input-ids cannot be used "
                                    "together");
  expectUsageError(ids + " --dump-logits x.npy --stats",
                   "--dump-logits and --stats cannot be used together");
  expectUsageError("-p hi --system s", "--system needs --chat");
  expectUsageError(ids + " --print-ids --temperature -1",
                   "temperature must be >= 0, got -1.000000");
  expectUsageError(ids + " --print-ids --top-p 1.5",
                   "top-p must lie in (0, 1], got 1.500000");
  expectUsageError(ids + " --print-ids --max-tokens 0",
                   "--max-tokens must be at least 1");
  expectUsageError(ids + " --print-ids --temperature warm",
                   "option '--temperature' needs a number, got 'warm'");
}

// Without a tokenizer, text in or out is refused; ids in and out work.
TEST_F(PackedExe, WithoutATokenizerOnlyIdsWork) {
  const std::string message =
      std::string("error: ") + kNoTokenizerMessage + "\n";
  for (const char *args : {"-p hi", "-p hi --chat", "--tokenize hi",
                           "--tokenize hi --chat --system s", "</dev/null"}) {
    RunResult run = runExe(exe, args);
    EXPECT_EQ(run.status, 1) << args;
    EXPECT_EQ(run.err, message) << args;
  }
  RunResult run = runExe(exe, "--input-ids '" + idsPath + "' --max-tokens 2");
  EXPECT_EQ(run.status, 1);
  EXPECT_EQ(run.err, message);

  // ids {2, 7, 11, 3, 15}: greedy continues 3, 4, 4.
  run = runExe(exe, "--input-ids '" + idsPath +
                        "' --max-tokens 3 --temperature 0 --print-ids");
  ASSERT_EQ(run.status, 0) << run.err;
  EXPECT_EQ(run.out, "3 4 4\n");
  EXPECT_EQ(run.err, "");
}

TEST_F(PackedExe, PrintIdsEndsWithTheStopIdAndStatsAreCounted) {
  nlohmann::json meta = fakeMetadata();
  meta["eos_token_ids"] = {1, 4};
  exe = tempPath("fake_model_exe_stop4");
  fs::copy_file(GEMMA_FAKE_MODEL_EXE, exe,
                fs::copy_options::overwrite_existing);
  appendBlob(exe, blobPattern(100), meta.dump());
  RunResult run = runExe(exe, "--input-ids '" + idsPath +
                                  "' --max-tokens 3 --temperature 0 "
                                  "--print-ids --stats");
  ASSERT_EQ(run.status, 0) << run.err;
  EXPECT_EQ(run.out, "3 4\n");
  EXPECT_NE(run.err.find("[stats] prompt tokens: 5 (positions 0-4), prefill: "),
            std::string::npos)
      << run.err;
  EXPECT_NE(run.err.find("[stats] generated tokens: 2, decode: "),
            std::string::npos)
      << run.err;
  EXPECT_NE(run.err.find("stopped by: stop token\n"), std::string::npos)
      << run.err;
  // 6 positions: 4 local and 2 global bytes each (the fake's rings hold
  // every position).
  EXPECT_NE(run.err.find("[stats] position: 6 of 8, KV cache in use: 36 "
                         "bytes"),
            std::string::npos)
      << run.err;
}

TEST_F(PackedExe, PromptPlusMaxTokensBeyondTheContextIsRefusedUpFront) {
  RunResult run = runExe(exe, "--input-ids '" + idsPath +
                                  "' --max-tokens 4 --temperature 0 "
                                  "--print-ids");
  EXPECT_EQ(run.status, 1);
  EXPECT_EQ(run.out, "");
  EXPECT_EQ(run.err,
            "error: the prompt (5 tokens) plus --max-tokens 4 need 9 "
            "positions, but the compiled context of 8 tokens cannot hold "
            "them; shorten the prompt, lower --max-tokens or recompile with "
            "`gemmac compile ... --max-context N`\n");
}

// The fake executable with the real tokenizer packed behind its weights,
// as gemmac packs it: --tokenize needs no model compute.
class PackedExeWithTokenizer : public PackedExe {
protected:
  void SetUp() override {
    PackedExe::SetUp();
    tokenizerBytes = readFile(std::string(GEMMA_SHARED_DIR) +
                              "/fixtures/tokenizer/gemma3-tokenizer.model");
    exe = tempPath("fake_model_exe_tokenizer");
    fs::copy_file(GEMMA_FAKE_MODEL_EXE, exe,
                  fs::copy_options::overwrite_existing);
    std::string blob = blobPattern(100) + std::string(28, '\0');
    nlohmann::json meta = fakeMetadata();
    meta["tokenizer"] = {{"offset", blob.size()},
                         {"bytes", tokenizerBytes.size()}};
    appendBlob(exe, blob + tokenizerBytes, meta.dump());
  }
  std::string tokenizerBytes;
};

TEST_F(PackedExeWithTokenizer, TokenizePrintsTheIds) {
  nlohmann::json cases = nlohmann::json::parse(readFile(
      std::string(GEMMA_SHARED_DIR) + "/fixtures/tokenizer/cases.json"));
  int checked = 0;
  for (const auto &item : cases["cases"]) {
    std::string text = item["text"];
    if (text.find_first_of("'\\\t\x01") != std::string::npos)
      continue; // keep the shell quoting simple
    std::string expected;
    for (int32_t id : item["ids"].get<std::vector<int32_t>>())
      expected += (expected.empty() ? "" : " ") + std::to_string(id);
    RunResult run = runExe(exe, "--tokenize '" + text + "'");
    ASSERT_EQ(run.status, 0) << run.err;
    EXPECT_EQ(run.out, expected + "\n") << text;
    if (++checked == 5)
      break;
  }
  EXPECT_EQ(checked, 5);
}

TEST_F(PackedExeWithTokenizer, TokenizeChatPrintsTheTemplatedIds) {
  nlohmann::json generation = nlohmann::json::parse(
      readFile(std::string(GEMMA_SHARED_DIR) + "/fixtures/generation.json"));
  std::vector<int32_t> ids = generation["chat"][0]["ids"];
  std::string expected;
  for (int32_t id : ids)
    expected += (expected.empty() ? "" : " ") + std::to_string(id);
  RunResult run =
      runExe(exe, "--tokenize 'What is the capital of France?' --chat");
  ASSERT_EQ(run.status, 0) << run.err;
  EXPECT_EQ(run.out, expected + "\n");

  // With a system text: "{system}\n\n" ("\n\n" = 108) opens the user turn.
  Tokenizer tokenizer(tokenizerBytes, "gemma3-tokenizer.model");
  std::vector<int32_t> withSystem(ids.begin(), ids.begin() + 4);
  for (int32_t id : tokenizer.encode("Answer in one word."))
    withSystem.push_back(id);
  withSystem.push_back(108);
  withSystem.insert(withSystem.end(), ids.begin() + 4, ids.end());
  expected.clear();
  for (int32_t id : withSystem)
    expected += (expected.empty() ? "" : " ") + std::to_string(id);
  run = runExe(exe, "--tokenize 'What is the capital of France?' --chat "
                    "--system 'Answer in one word.'");
  ASSERT_EQ(run.status, 0) << run.err;
  EXPECT_EQ(run.out, expected + "\n");
}

TEST_F(PackedExeWithTokenizer, ATokenizerOutsideTheBlobIsNamed) {
  exe = tempPath("fake_model_exe_bad_tokenizer");
  fs::copy_file(GEMMA_FAKE_MODEL_EXE, exe,
                fs::copy_options::overwrite_existing);
  nlohmann::json meta = fakeMetadata();
  meta["tokenizer"] = {{"offset", 64}, {"bytes", 100}};
  appendBlob(exe, blobPattern(100), meta.dump());
  RunResult run = runExe(exe, "--tokenize hi");
  EXPECT_EQ(run.status, 1);
  EXPECT_NE(run.err.find("payload metadata places the tokenizer at bytes "
                         "[64, 164) of a 100-byte blob"),
            std::string::npos)
      << run.err;
}

TEST_F(PackedExeWithTokenizer, PromptIdsBeyondTheVocabularyAreNamed) {
  // The fake's vocabulary (16) is smaller than the tokenizer's.
  RunResult run = runExe(exe, "-p 'Hello world' --max-tokens 1");
  EXPECT_EQ(run.status, 1);
  EXPECT_NE(run.err.find("the prompt: id "), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("is outside the vocabulary [0, 16)"),
            std::string::npos)
      << run.err;
}

TEST_F(PackedExe, InvalidInputsExitWith1) {
  auto expectError = [&](const std::string &args, const std::string &what) {
    RunResult run = runExe(exe, args);
    EXPECT_EQ(run.status, 1) << args;
    EXPECT_EQ(run.err.rfind("error: ", 0), 0u) << run.err;
    EXPECT_NE(run.err.find(what), std::string::npos) << run.err;
    EXPECT_FALSE(fs::exists(outPath)) << args;
  };
  std::string out = " --dump-logits '" + outPath + "'";
  expectError("--input-ids '" + idsPath + "'" + out + " --prefill 0",
              "--prefill 0 is outside [1, 5]");
  expectError("--input-ids '" + idsPath + "'" + out + " --prefill 6",
              "--prefill 6 is outside [1, 5]");
  expectError("--input-ids /nonexistent.npy" + out,
              "/nonexistent.npy: cannot open");

  std::vector<int32_t> tooLong(9, 1);
  writeNpy(idsPath, tooLong.data(), {9});
  expectError("--input-ids '" + idsPath + "'" + out,
              "exceed the compiled context of 8 tokens; recompile with "
              "`gemmac compile ... --max-context 9`");

  std::vector<int32_t> badId = {2, 16};
  writeNpy(idsPath, badId.data(), {2});
  expectError("--input-ids '" + idsPath + "'" + out,
              "id 16 at index 1 is outside the vocabulary [0, 16)");

  writeNpy(idsPath, badId.data(), {1, 2});
  expectError("--input-ids '" + idsPath + "'" + out, "1-D");
  std::vector<float> floats = {2, 3};
  writeNpy(idsPath, floats.data(), {2});
  expectError("--input-ids '" + idsPath + "'" + out, "int32 or int64");
}

TEST_F(PackedExe, UnpackedExecutableNamesItself) {
  std::string plain = tempPath("unpacked_exe");
  fs::copy_file(GEMMA_FAKE_MODEL_EXE, plain,
                fs::copy_options::overwrite_existing);
  RunResult run = runExe(plain, "--info");
  EXPECT_EQ(run.status, 1);
  EXPECT_EQ(run.err, "error: " + fs::canonical(plain).string() +
                         ": no weight payload (footer missing)\n");
}

} // namespace

#endif // GEMMA_FAKE_MODEL_OBJECT

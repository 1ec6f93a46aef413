// Payload.h - the weight payload appended to a generated executable.
//
// The compiler driver links the model object with the runtime, then appends
//
//   [executable][zero padding to a 2 MiB multiple][weight blob][metadata JSON]
//   [footer]
//
// Footer: the last 40 bytes of the file, little-endian:
//   char magic[8] = "GEMMAWB1"; uint64 blobOffset; uint64 blobSize;
//   uint64 metaOffset; uint64 metaSize   (offsets from the start of the file)
//
// One self-contained file per model variant, and the blob starts on a 4096
// boundary so the running executable can mmap its own weights instead of
// reading them: a 27B model starts without copying 50 GB, and pages that a
// run never touches are never read.

#ifndef GEMMA_RUNTIME_PAYLOAD_H
#define GEMMA_RUNTIME_PAYLOAD_H

#include <cstddef>
#include <cstdint>
#include <functional>
#include <ostream>
#include <string>

namespace gemma {

constexpr char kPayloadMagic[8] = {'G', 'E', 'M', 'M', 'A', 'W', 'B', '1'};
constexpr uint64_t kPayloadFooterBytes = 40;
constexpr uint64_t kPayloadBlobAlignment = 4096;
// Where the writer places the blob, and the size of its writes: a 2 MiB
// (x86-64 PMD) boundary. Written in aligned 2 MiB pieces, the blob lands in
// the page cache as 2 MiB folios, which the reader's mapping (aligned alike,
// MADV_HUGEPAGE) maps one TLB entry per 2 MiB. Streaming gemma-3-1b's 2 GB of
// weights through 4 KiB pages cost a fifth of one-thread decode (12.2 ->
// 15.5 tok/s, benchmarks/RESULTS.md): the hardware prefetchers stop at every
// 4 KiB page and each page takes a TLB walk. Readers accept any multiple of
// kPayloadBlobAlignment (files written before this).
constexpr uint64_t kPayloadBlobPlacement = 2 << 20;

struct PayloadWriter {
  // Appends padding, the blob, the metadata and the footer to the existing
  // executable at `exePath`. `writeBlob` streams exactly `blobSize` bytes
  // (it may be many GB, so it is never held in memory). Throws
  // std::runtime_error naming the file if the file already carries a
  // payload, if `writeBlob` writes a different number of bytes, or on an I/O
  // error; the file is then truncated back to its original size so that a
  // failed pack never leaves a half-written executable behind.
  static void append(const std::string &exePath,
                     const std::function<void(std::ostream &)> &writeBlob,
                     uint64_t blobSize, const std::string &metadataJson);
};

// A read-only view of a packed executable's payload: the blob is mmap'ed
// (MAP_PRIVATE, PROT_READ), the metadata copied into a string.
class MappedPayload {
public:
  // Throws std::runtime_error whose message starts with `exePath`:
  // "<path>: no weight payload (footer missing)", a truncated file, or
  // inconsistent offsets.
  static MappedPayload open(const std::string &exePath);
  // Opens the running executable through /proc/self/exe (the inode that is
  // running, even if the path was since replaced by a rebuild) and names its
  // resolved path in errors.
  static MappedPayload openSelf();

  MappedPayload(MappedPayload &&other) noexcept;
  MappedPayload &operator=(MappedPayload &&other) noexcept;
  MappedPayload(const MappedPayload &) = delete;
  MappedPayload &operator=(const MappedPayload &) = delete;
  ~MappedPayload();

  // Null when the blob is empty; otherwise at least 4096-byte aligned.
  const uint8_t *blob() const { return blobData; }
  uint64_t blobSize() const { return blobBytes; }
  const std::string &metadata() const { return metadataJson; }
  // The path named in error messages.
  const std::string &path() const { return filePath; }

private:
  MappedPayload() = default;
  static MappedPayload openAs(const std::string &openPath,
                              const std::string &displayPath);
  void unmap();

  std::string filePath;
  void *mapping = nullptr; // starts at a page boundary at or before the blob
  size_t mappedBytes = 0;
  const uint8_t *blobData = nullptr;
  uint64_t blobBytes = 0;
  std::string metadataJson;
};

} // namespace gemma

#endif // GEMMA_RUNTIME_PAYLOAD_H

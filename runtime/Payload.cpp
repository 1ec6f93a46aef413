// Payload.cpp - appending and mapping the weight payload of an executable.

#include "runtime/Payload.h"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <ostream>
#include <stdexcept>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace gemma {
namespace {

// Blobs past 4 GB are mapped whole; a 32-bit size_t could not describe them.
static_assert(sizeof(size_t) >= 8, "the runtime needs a 64-bit address space");

std::runtime_error fail(const std::string &path, const std::string &what) {
  return std::runtime_error(path + ": " + what);
}

struct Footer {
  char magic[8];
  uint64_t blobOffset;
  uint64_t blobSize;
  uint64_t metaOffset;
  uint64_t metaSize;
};

// The footer is written and read byte by byte so the file is little-endian
// whatever the host.
void putU64(unsigned char *at, uint64_t value) {
  for (int i = 0; i < 8; ++i)
    at[i] = static_cast<unsigned char>(value >> (8 * i));
}

uint64_t getU64(const unsigned char *at) {
  uint64_t value = 0;
  for (int i = 0; i < 8; ++i)
    value |= static_cast<uint64_t>(at[i]) << (8 * i);
  return value;
}

// Closes the descriptor on every exit path of MappedPayload::openAs.
struct FileDescriptor {
  int fd;
  ~FileDescriptor() {
    if (fd >= 0)
      ::close(fd);
  }
};

bool readFully(int fd, void *buffer, size_t bytes, uint64_t offset) {
  auto *out = static_cast<char *>(buffer);
  while (bytes > 0) {
    ssize_t got = ::pread(fd, out, bytes, static_cast<off_t>(offset));
    if (got < 0 && errno == EINTR)
      continue;
    if (got <= 0)
      return false;
    out += got;
    bytes -= static_cast<size_t>(got);
    offset += static_cast<uint64_t>(got);
  }
  return true;
}

// Returns false when the file is too short or its last 40 bytes do not start
// with the magic.
bool readFooter(int fd, uint64_t fileSize, Footer &footer) {
  unsigned char raw[kPayloadFooterBytes];
  if (fileSize < kPayloadFooterBytes ||
      !readFully(fd, raw, sizeof(raw), fileSize - kPayloadFooterBytes))
    return false;
  std::memcpy(footer.magic, raw, 8);
  if (std::memcmp(footer.magic, kPayloadMagic, 8) != 0)
    return false;
  footer.blobOffset = getU64(raw + 8);
  footer.blobSize = getU64(raw + 16);
  footer.metaOffset = getU64(raw + 24);
  footer.metaSize = getU64(raw + 32);
  return true;
}

bool hasFooter(const std::string &path) {
  FileDescriptor file{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  struct stat info;
  if (file.fd < 0 || ::fstat(file.fd, &info) != 0)
    return false;
  Footer footer;
  return readFooter(file.fd, static_cast<uint64_t>(info.st_size), footer);
}

// An output buffer whose writes end on kPayloadBlobPlacement boundaries of
// the file, so that every piece of an aligned region is written whole (see
// kPayloadBlobPlacement for why). Writes with pwrite from `offset` on; on an
// error the stream goes bad and `error` keeps errno.
class PlacedFileBuffer : public std::streambuf {
public:
  PlacedFileBuffer(int fd, uint64_t offset)
      : fd(fd), offset(offset), buffer(kPayloadBlobPlacement) {
    resetPutArea();
  }
  uint64_t position() const { return offset + (pptr() - pbase()); }
  int error = 0;

protected:
  int_type overflow(int_type c) override {
    if (!flush())
      return traits_type::eof();
    if (!traits_type::eq_int_type(c, traits_type::eof())) {
      *pptr() = traits_type::to_char_type(c);
      pbump(1);
    }
    return traits_type::not_eof(c);
  }
  int sync() override { return flush() ? 0 : -1; }

private:
  // The put area ends at the next placement boundary of the file.
  void resetPutArea() {
    size_t room = kPayloadBlobPlacement - offset % kPayloadBlobPlacement;
    setp(buffer.data(), buffer.data() + room);
  }
  bool flush() {
    const char *at = pbase();
    size_t left = static_cast<size_t>(pptr() - pbase());
    while (left > 0) {
      ssize_t wrote = ::pwrite(fd, at, left, static_cast<off_t>(offset));
      if (wrote < 0 && errno == EINTR)
        continue;
      if (wrote <= 0) {
        error = wrote < 0 ? errno : EIO;
        return false;
      }
      at += wrote;
      left -= static_cast<size_t>(wrote);
      offset += static_cast<uint64_t>(wrote);
    }
    resetPutArea();
    return true;
  }

  int fd;
  uint64_t offset;
  std::vector<char> buffer;
};

void appendPayload(const std::string &path,
                   const std::function<void(std::ostream &)> &writeBlob,
                   uint64_t blobSize, const std::string &metadataJson,
                   uint64_t originalSize) {
  FileDescriptor file{::open(path.c_str(), O_WRONLY | O_CLOEXEC)};
  if (file.fd < 0)
    throw fail(path, "cannot open for appending: " +
                         std::string(std::strerror(errno)));
  PlacedFileBuffer buffer(file.fd, originalSize);
  std::ostream out(&buffer);
  auto failed = [&](const char *what) {
    return fail(path, std::string("write failed while appending the ") + what +
                          ": " + std::strerror(buffer.error));
  };

  uint64_t blobOffset = (originalSize + kPayloadBlobPlacement - 1) /
                        kPayloadBlobPlacement * kPayloadBlobPlacement;
  std::vector<char> zeros(blobOffset - originalSize, '\0');
  out.write(zeros.data(), static_cast<std::streamsize>(zeros.size()));

  writeBlob(out);
  if (!out)
    throw failed("weight blob");
  uint64_t written = buffer.position() - blobOffset;
  if (written != blobSize)
    throw fail(path, "the weight blob writer produced " +
                         std::to_string(written) + " bytes, expected " +
                         std::to_string(blobSize));

  uint64_t metaOffset = blobOffset + blobSize;
  out.write(metadataJson.data(),
            static_cast<std::streamsize>(metadataJson.size()));

  unsigned char footer[kPayloadFooterBytes];
  std::memcpy(footer, kPayloadMagic, 8);
  putU64(footer + 8, blobOffset);
  putU64(footer + 16, blobSize);
  putU64(footer + 24, metaOffset);
  putU64(footer + 32, metadataJson.size());
  out.write(reinterpret_cast<const char *>(footer), sizeof(footer));
  if (!out.flush())
    throw failed("weight payload");
}

} // namespace

void PayloadWriter::append(const std::string &exePath,
                           const std::function<void(std::ostream &)> &writeBlob,
                           uint64_t blobSize, const std::string &metadataJson) {
  std::error_code error;
  uint64_t originalSize = std::filesystem::file_size(exePath, error);
  if (error)
    throw fail(exePath, "cannot append a weight payload: " + error.message());
  // A second payload would shadow the first and double the file; packing
  // always starts from a freshly linked executable.
  if (hasFooter(exePath))
    throw fail(exePath, "already carries a weight payload");
  try {
    appendPayload(exePath, writeBlob, blobSize, metadataJson, originalSize);
  } catch (...) {
    std::filesystem::resize_file(exePath, originalSize, error);
    throw;
  }
}

MappedPayload MappedPayload::open(const std::string &exePath) {
  return openAs(exePath, exePath);
}

MappedPayload MappedPayload::openSelf() {
  std::error_code error;
  std::filesystem::path self =
      std::filesystem::read_symlink("/proc/self/exe", error);
  return openAs("/proc/self/exe", error ? "/proc/self/exe" : self.string());
}

MappedPayload MappedPayload::openAs(const std::string &openPath,
                                    const std::string &displayPath) {
  FileDescriptor file{::open(openPath.c_str(), O_RDONLY | O_CLOEXEC)};
  if (file.fd < 0)
    throw fail(displayPath,
               std::string("cannot open: ") + std::strerror(errno));
  struct stat info;
  if (::fstat(file.fd, &info) != 0)
    throw fail(displayPath,
               std::string("cannot stat: ") + std::strerror(errno));
  uint64_t fileSize = static_cast<uint64_t>(info.st_size);

  Footer footer;
  if (!readFooter(file.fd, fileSize, footer))
    throw fail(displayPath, "no weight payload (footer missing)");

  // Every sum is checked for overflow first: a corrupt footer must give an
  // error, not a wrapped offset that passes the range checks.
  uint64_t blobEnd, metaEnd;
  if (footer.blobOffset % kPayloadBlobAlignment != 0)
    throw fail(displayPath, "bad weight payload offsets: blob offset " +
                                std::to_string(footer.blobOffset) +
                                " is not a multiple of 4096");
  if (__builtin_add_overflow(footer.blobOffset, footer.blobSize, &blobEnd) ||
      blobEnd != footer.metaOffset)
    throw fail(displayPath, "bad weight payload offsets: the metadata at " +
                                std::to_string(footer.metaOffset) +
                                " does not follow the blob [" +
                                std::to_string(footer.blobOffset) + ", +" +
                                std::to_string(footer.blobSize) + ")");
  if (__builtin_add_overflow(footer.metaOffset, footer.metaSize, &metaEnd))
    throw fail(displayPath, "bad weight payload offsets: metadata size " +
                                std::to_string(footer.metaSize) + " overflows");
  // A file cut short keeps no footer at all; this catches a footer that
  // outlived its payload (a partial copy patched up, or a bad writer).
  uint64_t payloadEnd = fileSize - kPayloadFooterBytes;
  if (metaEnd > payloadEnd)
    throw fail(displayPath, "truncated weight payload: the footer describes " +
                                std::to_string(metaEnd + kPayloadFooterBytes) +
                                " bytes but the file has " +
                                std::to_string(fileSize));
  if (metaEnd != payloadEnd)
    throw fail(displayPath, "bad weight payload offsets: " +
                                std::to_string(payloadEnd - metaEnd) +
                                " unexpected bytes before the footer");

  MappedPayload payload;
  payload.filePath = displayPath;
  payload.metadataJson.resize(footer.metaSize);
  if (!readFully(file.fd, payload.metadataJson.data(), footer.metaSize,
                 footer.metaOffset))
    throw fail(displayPath, "cannot read the payload metadata");

  if (footer.blobSize > 0) {
    // Map from the 2 MiB boundary at or before the blob: a multiple of any
    // page size (4K, or 64K on some arm64 kernels, where the format's 4096
    // would not do), and file offsets and addresses stay congruent modulo
    // 2 MiB (the kernel aligns a mapping this large to 2 MiB), which a
    // 2 MiB folio needs to be mapped by one page-table entry. MADV_HUGEPAGE
    // asks for that, and for 2 MiB readahead when the file is not cached;
    // without THP it changes nothing.
    uint64_t mapStart =
        footer.blobOffset / kPayloadBlobPlacement * kPayloadBlobPlacement;
    size_t bytes = static_cast<size_t>(blobEnd - mapStart);
    void *map = ::mmap(nullptr, bytes, PROT_READ, MAP_PRIVATE, file.fd,
                       static_cast<off_t>(mapStart));
    if (map == MAP_FAILED)
      throw fail(displayPath, std::string("cannot mmap the weight blob: ") +
                                  std::strerror(errno));
    ::madvise(map, bytes, MADV_HUGEPAGE);
    payload.mapping = map;
    payload.mappedBytes = bytes;
    payload.blobData =
        static_cast<const uint8_t *>(map) + (footer.blobOffset - mapStart);
    payload.blobBytes = footer.blobSize;
  }
  return payload;
}

MappedPayload::MappedPayload(MappedPayload &&other) noexcept
    : filePath(std::move(other.filePath)),
      mapping(std::exchange(other.mapping, nullptr)),
      mappedBytes(std::exchange(other.mappedBytes, 0)),
      blobData(std::exchange(other.blobData, nullptr)),
      blobBytes(std::exchange(other.blobBytes, 0)),
      metadataJson(std::move(other.metadataJson)) {}

MappedPayload &MappedPayload::operator=(MappedPayload &&other) noexcept {
  if (this != &other) {
    unmap();
    filePath = std::move(other.filePath);
    mapping = std::exchange(other.mapping, nullptr);
    mappedBytes = std::exchange(other.mappedBytes, 0);
    blobData = std::exchange(other.blobData, nullptr);
    blobBytes = std::exchange(other.blobBytes, 0);
    metadataJson = std::move(other.metadataJson);
  }
  return *this;
}

MappedPayload::~MappedPayload() { unmap(); }

void MappedPayload::unmap() {
  if (mapping)
    ::munmap(mapping, mappedBytes);
  mapping = nullptr;
  mappedBytes = 0;
  blobData = nullptr;
  blobBytes = 0;
}

} // namespace gemma

// FileIO.h - reading the files a user names (images, .npy arrays).
//
// Only regular files: a FIFO without a writer would block forever and a
// device such as /dev/zero never ends, so both are refused before any read.

#ifndef GEMMA_RUNTIME_FILEIO_H
#define GEMMA_RUNTIME_FILEIO_H

#include <cstdint>
#include <string>
#include <vector>

namespace gemma {

// The whole regular file at `path`, at most `maxBytes` long. Throws
// gemma::Error "<path>: ..." when it cannot be opened (with the system's
// reason), is not a regular file (a directory, FIFO, socket or device), is
// larger than `maxBytes` (said as `limitText`, e.g. "2 GiB") or cannot be
// read.
std::vector<uint8_t> readRegularFile(const std::string &path, uint64_t maxBytes,
                                     const std::string &limitText);

} // namespace gemma

#endif // GEMMA_RUNTIME_FILEIO_H

// FileIO.cpp - reading the files a user names.

#include "runtime/FileIO.h"

#include "runtime/JsonFields.h"

#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace gemma {

std::vector<uint8_t> readRegularFile(const std::string &path, uint64_t maxBytes,
                                     const std::string &limitText) {
  // O_NONBLOCK: opening a FIFO must not wait for a writer.
  int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0)
    throw Error(path + ": cannot open: " + std::strerror(errno));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat info;
  if (::fstat(fd, &info) != 0)
    throw Error(path + ": cannot read: " + std::strerror(errno));
  if (S_ISDIR(info.st_mode))
    throw Error(path + ": cannot read: it is a directory");
  if (!S_ISREG(info.st_mode))
    throw Error(path + ": not a regular file (a pipe, socket or device); "
                       "save it to a file first");
  if (static_cast<uint64_t>(info.st_size) > maxBytes)
    throw Error(path + ": the file is larger than " + limitText);
  std::vector<uint8_t> bytes(static_cast<size_t>(info.st_size));
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t got = ::read(fd, bytes.data() + done, bytes.size() - done);
    if (got < 0 && errno == EINTR)
      continue;
    if (got < 0)
      throw Error(path + ": cannot read: " + std::strerror(errno));
    if (got == 0) // shrank while read
      break;
    done += static_cast<size_t>(got);
  }
  bytes.resize(done);
  return bytes;
}

} // namespace gemma

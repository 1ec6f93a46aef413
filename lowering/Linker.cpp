//===- Linker.cpp - linking executables with the system toolchain ---------===//

#include "lowering/Linker.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/Program.h"
#include "llvm/Support/raw_ostream.h"

#include <fstream>
#include <stdexcept>

#include <unistd.h>

namespace gemma {

void writeBytes(const std::string &path, const std::string &bytes) {
  std::error_code ec;
  llvm::raw_fd_ostream os(path, ec);
  if (!ec)
    os << bytes;
  os.close();
  if (ec || os.has_error()) {
    std::string why = ec ? ec.message() : os.error().message();
    os.clear_error();
    llvm::sys::fs::remove(path);
    throw std::runtime_error(path + ": cannot write: " + why);
  }
}

std::string linkerDriver() {
  llvm::ErrorOr<std::string> cxx = llvm::sys::findProgramByName("c++");
  if (!cxx)
    throw std::runtime_error("no C++ linker driver ('c++') on PATH");
  return *cxx;
}

void runLinker(const std::vector<std::string> &args,
               const std::string &output) {
  std::string cxx = linkerDriver();
  std::vector<llvm::StringRef> argv = {cxx};
  argv.insert(argv.end(), args.begin(), args.end());
  std::string error;
  int rc = llvm::sys::ExecuteAndWait(cxx, argv, std::nullopt, {}, 0, 0, &error);
  if (rc != 0)
    throw std::runtime_error("linking " + output + " failed" +
                             (error.empty() ? "" : ": " + error));
}

std::string findSharedLibrary(const std::string &soname) {
  std::string cxx = linkerDriver();
  llvm::SmallString<128> answer;
  if (llvm::sys::fs::createTemporaryFile("gemmac", "txt", answer))
    throw std::runtime_error("cannot create a temporary file");
  std::string flag = "-print-file-name=" + soname;
  std::vector<llvm::StringRef> argv = {cxx, flag};
  std::optional<llvm::StringRef> redirects[] = {
      std::nullopt, llvm::StringRef(answer), std::nullopt};
  llvm::sys::ExecuteAndWait(cxx, argv, std::nullopt, redirects);
  std::ifstream in(std::string(answer.str()));
  std::string path;
  std::getline(in, path);
  llvm::sys::fs::remove(answer);
  // The driver echoes the bare name when it does not find the library.
  if (path.empty() || !llvm::sys::path::is_absolute(path) ||
      !llvm::sys::fs::exists(path))
    throw std::runtime_error("cannot find " + soname +
                             " to ship beside the executable");
  return path;
}

void shipBeside(const std::string &library, const std::string &executable) {
  llvm::SmallString<256> target(llvm::sys::path::parent_path(executable));
  if (target.empty())
    target = ".";
  llvm::sys::path::append(target, llvm::sys::path::filename(library));
  llvm::SmallString<256> partial;
  int fd;
  auto fail = [&](const std::error_code &ec) {
    return std::runtime_error(std::string(target) + ": cannot copy " + library +
                              ": " + ec.message());
  };
  if (std::error_code ec = llvm::sys::fs::createUniqueFile(
          std::string(target) + ".partial-%%%%%%", fd, partial))
    throw fail(ec);
  ::close(fd);
  std::error_code ec = llvm::sys::fs::copy_file(library, partial);
  if (!ec)
    ec = llvm::sys::fs::rename(partial, target);
  if (ec) {
    llvm::sys::fs::remove(partial);
    throw fail(ec);
  }
}

} // namespace gemma

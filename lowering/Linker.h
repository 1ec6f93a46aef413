//===- Linker.h - linking executables with the system toolchain -*- C++ -*-===//
//
// What every target that produces a native executable needs: the C++ driver
// (`c++`) to link with, and a way to find the shared libraries it must ship
// beside the executable (found at run time through an $ORIGIN rpath).
//
//===----------------------------------------------------------------------===//

#ifndef GEMMA_LOWERING_LINKER_H
#define GEMMA_LOWERING_LINKER_H

#include <string>
#include <vector>

namespace gemma {

/// Writes `bytes` to `path` (an artefact for the linker, say); throws
/// std::runtime_error naming the file and the reason (a full disk), leaving
/// no partial file behind.
void writeBytes(const std::string &path, const std::string &bytes);

/// The C++ driver on PATH; throws std::runtime_error when there is none.
std::string linkerDriver();

/// Runs the linker driver with `args` (without argv[0]); throws
/// std::runtime_error naming `output` when it fails.
void runLinker(const std::vector<std::string> &args, const std::string &output);

/// Where the toolchain finds the shared library `soname`
/// (`c++ -print-file-name`); throws std::runtime_error when it does not.
std::string findSharedLibrary(const std::string &soname);

/// Copies `library` into the directory of `executable`, under a unique name
/// first and renamed, so that an interrupted copy never leaves a truncated
/// library where an executable would load it. Throws std::runtime_error.
void shipBeside(const std::string &library, const std::string &executable);

} // namespace gemma

#endif // GEMMA_LOWERING_LINKER_H

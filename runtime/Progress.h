// Progress.h - how far a long step (packing gigabytes of weights, writing a
// random checkpoint, later uploading weights to a GPU) has got, on stderr.
//
// On a terminal, a bar redrawn at most ten times a second, as llama.cpp and
// pip draw theirs:
//
//   packing weights [##########..........]  1.00 / 2.00 GiB  410 MiB/s  2 s
//   left
//
// and erased when the step ends. Anywhere else (a log, CI) nothing is drawn:
// the caller prints its one summary line, with rate() if it likes.

#ifndef GEMMA_RUNTIME_PROGRESS_H
#define GEMMA_RUNTIME_PROGRESS_H

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace gemma {

class Progress {
public:
  // `total` is in bytes. Draws only when `out` is a terminal.
  Progress(std::string label, uint64_t total, std::FILE *out = stderr);
  ~Progress();
  Progress(const Progress &) = delete;
  Progress &operator=(const Progress &) = delete;

  // `bytes` more are done.
  void advance(uint64_t bytes);
  // Erases the bar (on a terminal); further advance() calls draw nothing.
  void finish();

  double seconds() const;
  // Bytes per second so far.
  double rate() const;

  // "1.50 GiB", "12.0 MiB", "512 B": binary units, three significant digits.
  static std::string formatBytes(double bytes);
  // The bar's text for `done` of `total` after `seconds`, `width` columns of
  // bar; exposed for tests.
  static std::string render(const std::string &label, uint64_t done,
                            uint64_t total, double seconds, int width = 20);

private:
  void draw();

  std::string label;
  uint64_t total, done = 0;
  std::FILE *out;
  bool terminal, finished = false;
  std::chrono::steady_clock::time_point start, lastDraw;
};

} // namespace gemma

#endif // GEMMA_RUNTIME_PROGRESS_H

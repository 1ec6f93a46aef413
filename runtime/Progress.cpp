// Progress.cpp - a progress bar on stderr for long steps.

#include "runtime/Progress.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include <unistd.h>

namespace gemma {

Progress::Progress(std::string label, uint64_t total, std::FILE *out)
    : label(std::move(label)), total(total), out(out),
      terminal(::isatty(::fileno(out)) == 1),
      start(std::chrono::steady_clock::now()), lastDraw(start) {
  if (terminal)
    draw();
}

Progress::~Progress() { finish(); }

void Progress::advance(uint64_t bytes) {
  done += bytes;
  if (!terminal || finished)
    return;
  auto now = std::chrono::steady_clock::now();
  if (now - lastDraw < std::chrono::milliseconds(100) && done < total)
    return;
  lastDraw = now;
  draw();
}

void Progress::finish() {
  if (finished)
    return;
  finished = true;
  if (terminal) {
    // Carriage return, clear to the end of the line.
    std::fputs("\r\033[K", out);
    std::fflush(out);
  }
}

double Progress::seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
      .count();
}

double Progress::rate() const {
  double s = seconds();
  return s > 0 ? static_cast<double>(done) / s : 0;
}

std::string Progress::formatBytes(double bytes) {
  static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int unit = 0;
  while (bytes >= 1024 && unit < 4) {
    bytes /= 1024;
    ++unit;
  }
  char text[32];
  if (unit == 0)
    std::snprintf(text, sizeof text, "%.0f B", bytes);
  else
    std::snprintf(text, sizeof text,
                  bytes < 10    ? "%.2f %s"
                  : bytes < 100 ? "%.1f %s"
                                : "%.0f %s",
                  bytes, units[unit]);
  return text;
}

std::string Progress::render(const std::string &label, uint64_t done,
                             uint64_t total, double seconds, int width) {
  double fraction =
      total ? std::min(1.0, static_cast<double>(done) / total) : 1.0;
  int filled = static_cast<int>(fraction * width);
  std::string text = label + " [" + std::string(filled, '#') +
                     std::string(width - filled, '.') + "] " +
                     formatBytes(done) + " / " + formatBytes(total);
  if (seconds > 0 && done > 0) {
    double rate = done / seconds;
    text += "  " + formatBytes(rate) + "/s";
    if (done < total) {
      double left = (total - done) / rate;
      char eta[32];
      std::snprintf(eta, sizeof eta, "  %.0f s left", std::ceil(left));
      text += eta;
    }
  }
  return text;
}

void Progress::draw() {
  std::string text = render(label, done, total, seconds());
  std::fprintf(out, "\r%s\033[K", text.c_str());
  std::fflush(out);
}

} // namespace gemma

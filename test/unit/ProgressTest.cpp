#include "runtime/Progress.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <string>

using gemma::Progress;

namespace {

TEST(Progress, FormatsBinaryUnits) {
  EXPECT_EQ(Progress::formatBytes(512), "512 B");
  EXPECT_EQ(Progress::formatBytes(1536), "1.50 KiB");
  EXPECT_EQ(Progress::formatBytes(12.5 * 1024 * 1024), "12.5 MiB");
  EXPECT_EQ(Progress::formatBytes(2.0 * 1024 * 1024 * 1024), "2.00 GiB");
}

TEST(Progress, RendersBarBytesRateAndTimeLeft) {
  const uint64_t GiB = uint64_t(1) << 30;
  EXPECT_EQ(Progress::render("packing weights", GiB, 2 * GiB, 2.0, 10),
            "packing weights [#####.....] 1.00 GiB / 2.00 GiB  512 MiB/s  2 s "
            "left");
  // Done: no time left; nothing yet: no rate.
  EXPECT_EQ(Progress::render("x", 2 * GiB, 2 * GiB, 4.0, 4),
            "x [####] 2.00 GiB / 2.00 GiB  512 MiB/s");
  EXPECT_EQ(Progress::render("x", 0, 100, 0.0, 4), "x [....] 0 B / 100 B");
}

// Output that is not a terminal (a log, CI) gets no bar at all.
TEST(Progress, DrawsNothingOffATerminal) {
  std::FILE *file = std::tmpfile();
  ASSERT_NE(file, nullptr);
  {
    Progress progress("packing", 1000, file);
    progress.advance(400);
    progress.advance(600);
    EXPECT_GT(progress.rate(), 0);
  }
  EXPECT_EQ(std::ftell(file), 0);
  std::fclose(file);
}

} // namespace

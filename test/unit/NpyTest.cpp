#include "runtime/Npy.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>

using gemma::readNpy;
using gemma::writeNpy;

namespace {
const std::string kFixtures = std::string(GEMMA_SHARED_DIR) + "/fixtures";

std::string tempPath(const std::string &name) {
  return ::testing::TempDir() + "/" + name;
}

TEST(Npy, ReadsFixtureInputIds) {
  auto ids = readNpy(kFixtures + "/text-tiny-1b-like/input_ids.npy");
  ASSERT_EQ(ids.shape.size(), 1u);
  EXPECT_EQ(ids.shape[0], 48);
  std::vector<int32_t> values = ids.toInt32();
  EXPECT_EQ(values.size(), 48u);
  EXPECT_EQ(values[0], 2) << "a sequence starts with <bos>";
}

TEST(Npy, ReadsFixtureLogits) {
  auto logits = readNpy(kFixtures + "/text-tiny-1b-like/logits.npy");
  EXPECT_EQ(logits.shape, (std::vector<int64_t>{48, 512}));
  EXPECT_EQ(logits.toFloat().size(), 48u * 512u);
}

TEST(Npy, RoundTripsFloatAndInt) {
  std::vector<float> f = {1.5f, -2.0f, 3.25f, 0.0f, 7.0f, 8.5f};
  writeNpy(tempPath("f.npy"), f.data(), {2, 3});
  auto back = readNpy(tempPath("f.npy"));
  EXPECT_EQ(back.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(back.toFloat(), f);

  std::vector<int32_t> i = {2, 105, 106};
  writeNpy(tempPath("i.npy"), i.data(), {3});
  EXPECT_EQ(readNpy(tempPath("i.npy")).toInt32(), i);
}

TEST(Npy, TruncatedDataNamesTheFile) {
  std::vector<float> f(100, 1.0f);
  std::string path = tempPath("trunc.npy");
  writeNpy(path, f.data(), {100});
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  std::ofstream(path, std::ios::binary | std::ios::trunc)
      .write(bytes.data(), static_cast<std::streamsize>(bytes.size() - 10));
  try {
    readNpy(path);
    FAIL() << "expected an error";
  } catch (const std::runtime_error &e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("truncated"), std::string::npos);
  }
}

TEST(Npy, RejectsNonNpy) {
  std::string path = tempPath("bad.npy");
  std::ofstream(path) << "hello world, not numpy";
  EXPECT_THROW(readNpy(path), std::runtime_error);
}
} // namespace

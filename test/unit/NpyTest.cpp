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

// A .npy file with `header` (padded as numpy pads it) and `dataBytes` bytes.
std::string npyBytes(const std::string &header, size_t dataBytes,
                     char version = 1) {
  std::string padded = header;
  size_t prefix = version == 1 ? 10 : 12;
  padded.append((64 - (prefix + padded.size() + 1) % 64) % 64, ' ');
  padded += '\n';
  std::string out = std::string("\x93NUMPY") + version + '\0';
  uint32_t n = static_cast<uint32_t>(padded.size());
  out.append(reinterpret_cast<const char *>(&n), version == 1 ? 2 : 4);
  return out + padded + std::string(dataBytes, '\0');
}

void expectNpyError(const std::string &bytes, const std::string &part) {
  try {
    gemma::parseNpy(bytes.data(), bytes.size(), "in.npy");
    ADD_FAILURE() << "expected an error containing: " << part;
  } catch (const std::runtime_error &e) {
    std::string message = e.what();
    EXPECT_EQ(message.rfind("in.npy: ", 0), 0u) << message;
    EXPECT_NE(message.find(part), std::string::npos) << message;
  }
}

TEST(Npy, ParsesEveryVersionAndSpelling) {
  std::string v1 = npyBytes(
      "{'descr': '<i8', 'fortran_order': False, 'shape': (2, 3), }", 48);
  auto a = gemma::parseNpy(v1.data(), v1.size(), "in.npy");
  EXPECT_EQ(a.shape, (std::vector<int64_t>{2, 3}));
  std::string v2 = npyBytes(
      "{\"shape\": (), \"fortran_order\": False, \"descr\": \"<f4\"}", 4, 2);
  auto b = gemma::parseNpy(v2.data(), v2.size(), "in.npy");
  EXPECT_TRUE(b.shape.empty());
  EXPECT_EQ(b.numElements(), 1);
}

// Zero elements (found by the fuzzer: a memcpy from a null pointer).
TEST(Npy, EmptyArraysConvert) {
  std::string bytes = npyBytes(
      "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 2), }", 0);
  auto a = gemma::parseNpy(bytes.data(), bytes.size(), "in.npy");
  EXPECT_TRUE(a.toFloat().empty());
  a.dtype = "<i4";
  EXPECT_TRUE(a.toInt32().empty());
}

TEST(Npy, RejectsWhatItCannotRead) {
  const std::string ok = "'fortran_order': False, 'shape': (4,)";
  expectNpyError(npyBytes("{'descr': '>f4', " + ok + "}", 16),
                 "unsupported npy dtype '>f4'");
  expectNpyError(npyBytes("{'descr': '|u1', " + ok + "}", 4),
                 "unsupported npy dtype '|u1'");
  expectNpyError(
      npyBytes("{'descr': '<f4', 'fortran_order': True, 'shape': (2, 2)}", 16),
      "Fortran-order");
  expectNpyError(npyBytes("{'descr': '<f4', " + ok + "}", 12),
                 "truncated npy data: shape (4,) needs 16 bytes, 12 present");
  expectNpyError(npyBytes("{'descr': '<f4', " + ok + "}", 20),
                 "4 bytes follow the data of shape (4,)");
  expectNpyError(npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': "
                          "(4294967296, 4294967296, 4)}",
                          0),
                 "is too large");
  // A zero last dimension makes the total 0 while the leading product
  // overflows int64 (found by the npy fuzzer).
  expectNpyError(npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': "
                          "(5, 2211111111111111111, 0)}",
                          0),
                 "is too large");
  expectNpyError(npyBytes("{'descr': '<f4', 'shape': (4,)}", 16),
                 "no 'fortran_order' field");
  expectNpyError(npyBytes("{'descr': '<f4', 'extra': 1, " + ok + "}", 16),
                 "unknown field 'extra'");
  expectNpyError(npyBytes("{'descr': '<f4', 'fortran_order': False, 'shape': "
                          "(-4,)}",
                          16),
                 "non-negative integer");
  expectNpyError(npyBytes("{'descr': '<f4', " + ok + "} trailing", 16),
                 "text after its dict");
  expectNpyError(npyBytes("{'descr': '<f4', " + ok, 16), "malformed");
  expectNpyError(npyBytes("{'descr': '<f4', " + ok + "}", 16, 9),
                 "unsupported npy format version 9");
  std::string cut = npyBytes("{'descr': '<f4', " + ok + "}", 16);
  expectNpyError(cut.substr(0, 40), "truncated npy header");
  expectNpyError("\x93NUMPY", "not a .npy file");
}

TEST(Npy, RejectsNonNpy) {
  std::string path = tempPath("bad.npy");
  std::ofstream(path) << "hello world, not numpy";
  EXPECT_THROW(readNpy(path), std::runtime_error);
}
} // namespace

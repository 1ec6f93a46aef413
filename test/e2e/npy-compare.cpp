// npy-compare - compares logits (or any float array) against the reference.
//
//   npy-compare ACTUAL.npy EXPECTED.npy [--max-abs T]
//               [--min-argmax-agreement F]
//   npy-compare --length IDS.npy          (prints the number of elements)
//   npy-compare --argmax LOGITS.npy ARGMAX.npy   (every row's argmax)
//   npy-compare --nll LOGITS.npy IDS.npy NLL.npy --max-abs T
//   npy-compare --row LOGITS.npy I ROW.npy --max-abs T
//
// Prints the max |Δ| and where, and the fraction of rows whose argmax
// agrees; exits 1 when a bound is not met, 2 on bad input. --nll compares
// -log softmax(LOGITS[i])[IDS[i+1]] with NLL[i] for every i < len(NLL);
// --row compares row I of LOGITS with the 1-D ROW.

#include "runtime/Npy.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace {

// Rows of the last dimension: logits [tokens, vocab], or any other array
// (pixel values [n, 3, S, S], features) seen as rows of its last dimension.
struct Logits {
  std::vector<float> values;
  int64_t rows = 0, cols = 0;
  std::vector<int64_t> shape;
  const float *row(int64_t r) const { return values.data() + r * cols; }
};

Logits readLogits(const std::string &path) {
  gemma::NpyArray array = gemma::readNpy(path);
  if (array.shape.empty())
    throw std::runtime_error(path + ": expected an array, got a scalar");
  int64_t cols = array.shape.back();
  int64_t rows = cols == 0 ? 0 : array.numElements() / cols;
  return {array.toFloat(), rows, cols, array.shape};
}

double parseBound(int argc, char **argv, int first, const char *flag) {
  for (int i = first; i + 1 < argc; i += 2)
    if (std::string(argv[i]) == flag)
      return std::atof(argv[i + 1]);
  return -1;
}

// Prints the largest |a - e| (NaN counts as the worst); true within bound.
bool reportMaxAbs(const float *a, const float *e, int64_t n, double bound,
                  const char *what) {
  double maxAbs = 0;
  int64_t worst = 0;
  for (int64_t i = 0; i < n; ++i) {
    double d = std::fabs(double(a[i]) - double(e[i]));
    if (!(d <= maxAbs)) {
      maxAbs = std::isnan(d) ? INFINITY : d;
      worst = i;
    }
  }
  std::printf("%s max_abs_diff %.3g at [%lld]\n", what, maxAbs,
              (long long)worst);
  return bound < 0 || maxAbs <= bound;
}

int64_t rowArgmax(const float *row, int64_t n) {
  return std::max_element(row, row + n) - row;
}

int compareArgmax(const std::string &logitsPath, const std::string &argmax) {
  Logits logits = readLogits(logitsPath);
  std::vector<int32_t> expected = gemma::readNpy(argmax).toInt32();
  if (static_cast<int64_t>(expected.size()) != logits.rows)
    throw std::runtime_error(argmax + ": " + std::to_string(expected.size()) +
                             " entries for " + std::to_string(logits.rows) +
                             " rows");
  int64_t agree = 0, firstMiss = -1;
  for (int64_t r = 0; r < logits.rows; ++r) {
    bool same = rowArgmax(logits.row(r), logits.cols) == expected[r];
    agree += same;
    if (!same && firstMiss < 0)
      firstMiss = r;
  }
  std::printf("argmax agreement %lld/%lld rows", (long long)agree,
              (long long)logits.rows);
  if (firstMiss >= 0)
    std::printf(" (first miss: row %lld)", (long long)firstMiss);
  std::printf("\n");
  return agree == logits.rows ? 0 : 1;
}

int compareNll(const std::string &logitsPath, const std::string &idsPath,
               const std::string &nllPath, double bound) {
  Logits logits = readLogits(logitsPath);
  std::vector<int32_t> ids = gemma::readNpy(idsPath).toInt32();
  std::vector<float> expected = gemma::readNpy(nllPath).toFloat();
  int64_t n = static_cast<int64_t>(expected.size());
  if (n > logits.rows || n + 1 > static_cast<int64_t>(ids.size()))
    throw std::runtime_error(nllPath + ": more entries than rows or ids");
  std::vector<float> actual(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const float *row = logits.row(i);
    double top = *std::max_element(row, row + logits.cols), sum = 0;
    for (int64_t c = 0; c < logits.cols; ++c)
      sum += std::exp(double(row[c]) - top);
    actual[i] = static_cast<float>(top + std::log(sum) - row[ids[i + 1]]);
  }
  return reportMaxAbs(actual.data(), expected.data(), n, bound, "nll") ? 0 : 1;
}

int compareRow(const std::string &logitsPath, int64_t r,
               const std::string &rowPath, double bound) {
  Logits logits = readLogits(logitsPath);
  std::vector<float> expected = gemma::readNpy(rowPath).toFloat();
  if (r < 0 || r >= logits.rows ||
      static_cast<int64_t>(expected.size()) != logits.cols)
    throw std::runtime_error(rowPath + ": row " + std::to_string(r) +
                             " or its length does not fit " + logitsPath);
  std::string what = "row " + std::to_string(r);
  return reportMaxAbs(logits.row(r), expected.data(), logits.cols, bound,
                      what.c_str())
             ? 0
             : 1;
}

int compareLogits(const std::string &actualPath,
                  const std::string &expectedPath, double maxAbsBound,
                  double agreementBound) {
  Logits a = readLogits(actualPath), e = readLogits(expectedPath);
  if (a.shape != e.shape) {
    std::fprintf(stderr, "npy-compare: shapes differ\n");
    return 1;
  }
  double maxAbs = 0;
  int64_t worst = 0, agree = 0;
  for (int64_t r = 0; r < a.rows; ++r) {
    const float *ar = a.row(r), *er = e.row(r);
    for (int64_t c = 0; c < a.cols; ++c) {
      double d = std::fabs(double(ar[c]) - double(er[c]));
      if (!(d <= maxAbs)) { // NaN counts as the worst
        maxAbs = std::isnan(d) ? INFINITY : d;
        worst = r * a.cols + c;
      }
    }
    agree += rowArgmax(ar, a.cols) == rowArgmax(er, a.cols);
  }
  double agreement = double(agree) / double(a.rows);
  std::printf("max_abs_diff %.3g at [%lld, %lld]; argmax agreement %.4f "
              "(%lld/%lld rows)\n",
              maxAbs, (long long)(worst / a.cols), (long long)(worst % a.cols),
              agreement, (long long)agree, (long long)a.rows);
  bool ok = (maxAbsBound < 0 || maxAbs <= maxAbsBound) &&
            (agreementBound < 0 || agreement >= agreementBound);
  return ok ? 0 : 1;
}

} // namespace

int main(int argc, char **argv) {
  try {
    std::string mode = argc > 1 ? argv[1] : "";
    if (argc == 3 && mode == "--length") {
      std::printf("%lld\n", (long long)gemma::readNpy(argv[2]).numElements());
      return 0;
    }
    if (argc == 4 && mode == "--argmax")
      return compareArgmax(argv[2], argv[3]);
    if (argc >= 5 && mode == "--nll")
      return compareNll(argv[2], argv[3], argv[4],
                        parseBound(argc, argv, 5, "--max-abs"));
    if (argc >= 5 && mode == "--row")
      return compareRow(argv[2], std::atoll(argv[3]), argv[4],
                        parseBound(argc, argv, 5, "--max-abs"));
    if (argc < 3 || mode.rfind("--", 0) == 0) {
      std::fprintf(stderr, "usage: npy-compare ACTUAL.npy EXPECTED.npy "
                           "[--max-abs T] [--min-argmax-agreement F]\n");
      return 2;
    }
    for (int i = 3; i < argc; i += 2) {
      std::string flag = argv[i];
      if ((flag != "--max-abs" && flag != "--min-argmax-agreement") ||
          i + 1 >= argc) {
        std::fprintf(stderr, "npy-compare: unknown flag %s\n", flag.c_str());
        return 2;
      }
    }
    return compareLogits(argv[1], argv[2],
                         parseBound(argc, argv, 3, "--max-abs"),
                         parseBound(argc, argv, 3, "--min-argmax-agreement"));
  } catch (const std::exception &err) {
    std::fprintf(stderr, "npy-compare: %s\n", err.what());
    return 2;
  }
}

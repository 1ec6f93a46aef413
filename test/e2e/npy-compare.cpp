// npy-compare - compares logits against the reference.
//
//   npy-compare ACTUAL.npy EXPECTED.npy [--max-abs T] [--min-argmax-agreement
//   F] npy-compare --length IDS.npy      (prints the number of elements)
//
// Prints the max |Δ|, its position, and the fraction of rows whose argmax
// agrees; exits 1 when a given bound is not met, 2 on bad input.

#include "runtime/Npy.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

int main(int argc, char **argv) {
  if (argc == 3 && std::string(argv[1]) == "--length") {
    try {
      std::printf("%lld\n", (long long)gemma::readNpy(argv[2]).numElements());
      return 0;
    } catch (const std::exception &err) {
      std::fprintf(stderr, "npy-compare: %s\n", err.what());
      return 2;
    }
  }
  if (argc < 3) {
    std::fprintf(stderr, "usage: npy-compare ACTUAL.npy EXPECTED.npy "
                         "[--max-abs T] [--min-argmax-agreement F]\n");
    return 2;
  }
  double maxAbsBound = -1, agreementBound = -1;
  for (int i = 3; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--max-abs")
      maxAbsBound = std::atof(argv[i + 1]);
    else if (flag == "--min-argmax-agreement")
      agreementBound = std::atof(argv[i + 1]);
    else {
      std::fprintf(stderr, "npy-compare: unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  try {
    gemma::NpyArray actual = gemma::readNpy(argv[1]);
    gemma::NpyArray expected = gemma::readNpy(argv[2]);
    if (actual.shape != expected.shape || actual.shape.size() != 2) {
      std::fprintf(stderr, "npy-compare: shapes differ or are not 2-D\n");
      return 1;
    }
    std::vector<float> a = actual.toFloat(), e = expected.toFloat();
    int64_t rows = actual.shape[0], cols = actual.shape[1];
    double maxAbs = 0;
    int64_t worst = 0, agree = 0;
    for (int64_t r = 0; r < rows; ++r) {
      const float *ar = a.data() + r * cols, *er = e.data() + r * cols;
      for (int64_t c = 0; c < cols; ++c) {
        double d = std::fabs(double(ar[c]) - double(er[c]));
        if (!(d <= maxAbs)) { // NaN counts as the worst
          maxAbs = std::isnan(d) ? INFINITY : d;
          worst = r * cols + c;
        }
      }
      agree += std::max_element(ar, ar + cols) - ar ==
               std::max_element(er, er + cols) - er;
    }
    double agreement = double(agree) / double(rows);
    std::printf("max_abs_diff %.3g at [%lld, %lld]; argmax agreement %.4f "
                "(%lld/%lld rows)\n",
                maxAbs, (long long)(worst / cols), (long long)(worst % cols),
                agreement, (long long)agree, (long long)rows);
    bool ok = (maxAbsBound < 0 || maxAbs <= maxAbsBound) &&
              (agreementBound < 0 || agreement >= agreementBound);
    return ok ? 0 : 1;
  } catch (const std::exception &err) {
    std::fprintf(stderr, "npy-compare: %s\n", err.what());
    return 2;
  }
}

// Fuzzes the .npy reader (read_npy_header, read_npy_floats,
// read_npy_doubles): workloads' Q/K/V and every tensor of a dump go through it.
// Invariants: an accepted header's data fits in the file, and no NaN or Inf
// comes back from read_npy_floats (it promises to reject them).
#include <cmath>

#include "fuzz_common.h"
#include "util/npy.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string file = fuzz::input_file("input.npy", data, size);
  attnsim::NpyHeader h;
  if (!fuzz::accepts([&] { h = attnsim::read_npy_header(file); })) return 0;
  const int64_t n = h.count();
  FUZZ_CHECK(n >= 0, "negative element count");
  for (int64_t d : h.shape) FUZZ_CHECK(d >= 0, "negative dimension");
  FUZZ_CHECK(h.data_offset <= size && static_cast<uint64_t>(n) <= (size - h.data_offset) / attnsim::dtype_size(h.dtype),
             "header promises more data than the file holds");

  if (h.dtype == attnsim::DType::f16 || h.dtype == attnsim::DType::f32) {
    std::vector<float> v;
    if (fuzz::accepts([&] { v = attnsim::read_npy_floats(file, h, 0, n); })) {
      FUZZ_CHECK(static_cast<int64_t>(v.size()) == n, "wrong element count");
      for (float x : v) FUZZ_CHECK(std::isfinite(x), "non-finite value returned");
    }
  }
  attnsim::NpyHeader h2;
  std::vector<double> d;
  if (fuzz::accepts([&] { d = attnsim::read_npy_doubles(file, &h2); }))
    FUZZ_CHECK(static_cast<int64_t>(d.size()) == n && h2.shape == h.shape, "read_npy_doubles disagrees with the header");
  return 0;
}

#pragma once
// Minimal NumPy .npy (format 1.0) reader and writers: little-endian, C order,
// dtypes float16/float32/float64/int8/int32/int64.
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace attnsim {

enum class DType { f16, f32, f64, i8, i32, i64 };

std::string dtype_descr(DType t);  // "<f4", ...
size_t dtype_size(DType t);

struct NpyHeader {
  DType dtype = DType::f32;
  std::vector<int64_t> shape;
  size_t data_offset = 0;  // bytes from the start of the file
  int64_t count() const;
};

// Reads the header of `path`; throws InputError naming the file on any problem.
NpyHeader read_npy_header(const std::string& path);

// Reads `count` elements starting at element `first`, converted to float
// (float16 is widened exactly). Rejects NaN/Inf with an error naming the file
// and the element's flat index.
std::vector<float> read_npy_floats(const std::string& path, const NpyHeader& h, int64_t first, int64_t count);

float half_to_float(uint16_t h);

// Reads a whole array of any supported dtype as doubles (for comparisons).
std::vector<double> read_npy_doubles(const std::string& path, NpyHeader* header = nullptr);

// Writes a whole array at once.
void write_npy(const std::string& path, DType t, const std::vector<int64_t>& shape, const void* data);

// Appends rows to an .npy whose leading dimension is unknown until close():
// the header is padded to a fixed size and rewritten with the final shape.
class NpyStreamWriter {
 public:
  NpyStreamWriter(const std::string& path, DType t, std::vector<int64_t> inner_shape);
  ~NpyStreamWriter();
  NpyStreamWriter(const NpyStreamWriter&) = delete;
  NpyStreamWriter& operator=(const NpyStreamWriter&) = delete;
  // Appends `n` elements (a whole number of inner-shape records).
  void append(const void* data, size_t n);
  // Rewrites the header with the final shape and closes; `outer` replaces the
  // automatic leading dimension when non-empty (it must hold the same count).
  void close(const std::vector<int64_t>& outer = {});

 private:
  std::string path_;
  DType dtype_;
  std::vector<int64_t> inner_;
  FILE* f_ = nullptr;
  int64_t elements_ = 0;
};

}  // namespace attnsim

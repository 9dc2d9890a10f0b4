#pragma once
// Minimal NumPy .npy reader/writer (format 1.0-3.0 read, 1.0 written;
// little-endian, C order) for the dtypes of the dump contract.
#include <cstdint>
#include <string>
#include <vector>

namespace gpu_ref {

enum class DType { f32, f64, i8, i32, i64 };

const char* dtype_descr(DType t);  // "<f4", "<f8", "|i1", "<i4", "<i8"
const char* dtype_name(DType t);   // "float32", "float64", "int8", "int32", "int64"
size_t dtype_size(DType t);

struct NpyArray {
  DType dtype = DType::f32;
  std::vector<int64_t> shape;
  std::vector<char> bytes;  // element data, C order

  size_t count() const;
  template <class T>
  const T* as() const { return reinterpret_cast<const T*>(bytes.data()); }
  template <class T>
  T* as() { return reinterpret_cast<T*>(bytes.data()); }
};

std::string shape_str(const std::vector<int64_t>& shape);  // "[2, 4, 128, 32]"

// Throws InputError(path, ...) on a missing file or a malformed header/body.
NpyArray read_npy(const std::string& path);

// Throws InputError(path, ...) when the file cannot be written.
void write_npy(const std::string& path, const NpyArray& a);

}  // namespace gpu_ref

#include "util/npy.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>
#include <regex>
#include <sstream>

#include "util/error.h"

namespace attnsim {

std::string dtype_descr(DType t) {
  switch (t) {
    case DType::f16: return "<f2";
    case DType::f32: return "<f4";
    case DType::f64: return "<f8";
    case DType::i8: return "|i1";
    case DType::i32: return "<i4";
    case DType::i64: return "<i8";
  }
  return "?";
}

size_t dtype_size(DType t) {
  switch (t) {
    case DType::f16: return 2;
    case DType::f32: return 4;
    case DType::f64: return 8;
    case DType::i8: return 1;
    case DType::i32: return 4;
    case DType::i64: return 8;
  }
  return 0;
}

int64_t NpyHeader::count() const {
  int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

NpyHeader read_npy_header(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path, "", "cannot open file");
  in.seekg(0, std::ios::end);
  const auto size = static_cast<size_t>(std::max<std::streamoff>(0, in.tellg()));
  in.seekg(0);
  char magic[8];
  if (!in.read(magic, 8) || std::memcmp(magic, "\x93NUMPY", 6) != 0)
    throw InputError(path, "", "not a .npy file (bad magic)");
  const int major = static_cast<unsigned char>(magic[6]);
  size_t header_len = 0;
  if (major == 1) {
    unsigned char b[2];
    if (!in.read(reinterpret_cast<char*>(b), 2)) throw InputError(path, "", "truncated .npy header");
    header_len = b[0] | (b[1] << 8);
  } else if (major == 2 || major == 3) {
    unsigned char b[4];
    if (!in.read(reinterpret_cast<char*>(b), 4)) throw InputError(path, "", "truncated .npy header");
    header_len = b[0] | (b[1] << 8) | (b[2] << 16) | (static_cast<size_t>(b[3]) << 24);
  } else {
    throw InputError(path, "", "unsupported .npy version " + std::to_string(major));
  }
  const size_t prefix = major == 1 ? 10 : 12;
  if (header_len > size - std::min(size, prefix))  // checked before allocating it
    throw InputError(path, "", "header of " + std::to_string(header_len) + " bytes is longer than the file (truncated?)");
  std::string header(header_len, '\0');
  if (!in.read(&header[0], static_cast<std::streamsize>(header_len))) throw InputError(path, "", "truncated .npy header");

  NpyHeader h;
  h.data_offset = prefix + header_len;
  // numpy's own reader keeps the last of a key written twice, these regexes the first: refuse.
  for (const char* key : {"descr", "fortran_order", "shape"}) {
    const std::string quoted = std::string("'") + key + "'";
    const size_t first = header.find(quoted);
    if (first != std::string::npos && header.find(quoted, first + 1) != std::string::npos)
      throw InputError(path, key, "written twice in the .npy header");
  }
  std::smatch m;
  if (!std::regex_search(header, m, std::regex("'descr'\\s*:\\s*'([^']*)'")))
    throw InputError(path, "descr", "missing dtype in .npy header");
  const std::string d = m[1];
  if (d == "<f2") h.dtype = DType::f16;
  else if (d == "<f4") h.dtype = DType::f32;
  else if (d == "<f8") h.dtype = DType::f64;
  else if (d == "|i1" || d == "<i1") h.dtype = DType::i8;
  else if (d == "<i4") h.dtype = DType::i32;
  else if (d == "<i8") h.dtype = DType::i64;
  else throw InputError(path, "descr", "unsupported dtype '" + d + "' (expected float16 or float32, little-endian)");
  if (std::regex_search(header, m, std::regex("'fortran_order'\\s*:\\s*True")))
    throw InputError(path, "fortran_order", "Fortran-ordered arrays are not supported (save with C order)");
  if (!std::regex_search(header, m, std::regex("'shape'\\s*:\\s*\\(([^)]*)\\)")))
    throw InputError(path, "shape", "missing shape in .npy header");
  std::stringstream ss(m[1].str());
  std::string tok;
  while (std::getline(ss, tok, ',')) {
    tok.erase(0, tok.find_first_not_of(" \t"));
    tok.erase(tok.find_last_not_of(" \tL") + 1);
    if (tok.empty()) continue;
    int64_t d = -1;
    const auto [end, ec] = std::from_chars(tok.data(), tok.data() + tok.size(), d);
    if (ec != std::errc() || end != tok.data() + tok.size() || d < 0)
      throw InputError(path, "shape", "dimension '" + tok + "' is not a non-negative 64-bit integer");
    h.shape.push_back(d);
  }
  // The data must fit in the file: checked one dimension at a time against
  // the elements there, so that no product of dimensions can overflow.
  const uint64_t available = (size - h.data_offset) / dtype_size(h.dtype);
  uint64_t n = std::find(h.shape.begin(), h.shape.end(), 0) == h.shape.end() ? 1 : 0;  // 0: an empty array
  for (auto d : h.shape) {
    if (n && static_cast<uint64_t>(d) > available / n) n = available + 1;
    else n *= static_cast<uint64_t>(d);
  }
  if (n > available) throw InputError(path, "", "file is shorter than its header's shape says (truncated?)");
  return h;
}

float half_to_float(uint16_t h) {
  const uint32_t sign = (h >> 15) & 1, exp = (h >> 10) & 0x1f, mant = h & 0x3ff;
  float v;
  if (exp == 0) v = std::ldexp(static_cast<float>(mant), -24);
  else if (exp == 31) v = mant ? NAN : INFINITY;
  else v = std::ldexp(static_cast<float>(mant | 0x400), static_cast<int>(exp) - 25);
  return sign ? -v : v;
}

std::vector<float> read_npy_floats(const std::string& path, const NpyHeader& h, int64_t first, int64_t count) {
  if (h.dtype != DType::f16 && h.dtype != DType::f32)
    throw InputError(path, "descr", "dtype " + dtype_descr(h.dtype) + " not accepted (expected float16 or float32)");
  if (first < 0 || count < 0 || first > h.count() - count)
    throw InputError(path, "", "elements " + std::to_string(first) + " to " + std::to_string(first + count) +
                                   " are outside the array of " + std::to_string(h.count()));
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path, "", "cannot open file");
  const size_t es = dtype_size(h.dtype);
  in.seekg(static_cast<std::streamoff>(h.data_offset + first * es));
  std::vector<char> raw(count * es);
  if (!in.read(raw.data(), static_cast<std::streamsize>(raw.size()))) throw InputError(path, "", "truncated data");
  std::vector<float> out(count);
  for (int64_t i = 0; i < count; ++i) {
    if (h.dtype == DType::f32) std::memcpy(&out[i], &raw[i * 4], 4);
    else {
      uint16_t u;
      std::memcpy(&u, &raw[i * 2], 2);
      out[i] = half_to_float(u);
    }
    if (!std::isfinite(out[i]))
      throw InputError(path, "element " + std::to_string(first + i), "NaN or Inf in tensor (expected finite values)");
  }
  return out;
}

std::vector<double> read_npy_doubles(const std::string& path, NpyHeader* header) {
  const NpyHeader h = read_npy_header(path);
  if (header) *header = h;
  std::ifstream in(path, std::ios::binary);
  in.seekg(static_cast<std::streamoff>(h.data_offset));
  const size_t es = dtype_size(h.dtype), n = static_cast<size_t>(h.count());
  std::vector<char> raw(n * es);
  if (!in.read(raw.data(), static_cast<std::streamsize>(raw.size()))) throw InputError(path, "", "truncated data");
  std::vector<double> out(n);
  for (size_t i = 0; i < n; ++i) {
    const char* p = &raw[i * es];
    switch (h.dtype) {
      case DType::f16: { uint16_t u; std::memcpy(&u, p, 2); out[i] = half_to_float(u); break; }
      case DType::f32: { float f; std::memcpy(&f, p, 4); out[i] = f; break; }
      case DType::f64: { std::memcpy(&out[i], p, 8); break; }
      case DType::i8: { out[i] = static_cast<int8_t>(*p); break; }
      case DType::i32: { int32_t v; std::memcpy(&v, p, 4); out[i] = v; break; }
      case DType::i64: { int64_t v; std::memcpy(&v, p, 8); out[i] = static_cast<double>(v); break; }
    }
  }
  return out;
}

static std::string shape_str(const std::vector<int64_t>& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + (shape.size() == 1 ? ",)" : ")");
}

// Header padded with spaces to `total` bytes (multiple of 64) including magic.
static std::string make_header(DType t, const std::vector<int64_t>& shape, size_t total) {
  std::string dict = "{'descr': '" + dtype_descr(t) + "', 'fortran_order': False, 'shape': " + shape_str(shape) + ", }";
  const size_t min_total = 10 + dict.size() + 1;
  if (total == 0) total = (min_total + 63) / 64 * 64;
  dict.append(total - 10 - dict.size() - 1, ' ');
  dict += '\n';
  std::string h = std::string("\x93NUMPY\x01\x00", 8);
  const uint16_t len = static_cast<uint16_t>(dict.size());
  h += static_cast<char>(len & 0xff);
  h += static_cast<char>(len >> 8);
  return h + dict;
}

void write_npy(const std::string& path, DType t, const std::vector<int64_t>& shape, const void* data) {
  std::ofstream out(path, std::ios::binary);
  if (!out) throw InputError(path, "", "cannot create file");
  const std::string h = make_header(t, shape, 0);
  out.write(h.data(), static_cast<std::streamsize>(h.size()));
  int64_t n = 1;
  for (auto d : shape) n *= d;
  out.write(static_cast<const char*>(data), static_cast<std::streamsize>(n * dtype_size(t)));
  if (!out) throw InputError(path, "", "write failed");
}

static constexpr size_t kStreamHeader = 128;

NpyStreamWriter::NpyStreamWriter(const std::string& path, DType t, std::vector<int64_t> inner_shape)
    : path_(path), dtype_(t), inner_(std::move(inner_shape)) {
  f_ = std::fopen(path.c_str(), "wb");
  if (!f_) throw InputError(path, "", "cannot create file");
  const std::string pad(kStreamHeader, ' ');
  std::fwrite(pad.data(), 1, pad.size(), f_);
}

NpyStreamWriter::~NpyStreamWriter() {
  if (f_) std::fclose(f_);
}

void NpyStreamWriter::append(const void* data, size_t n) {
  if (n && std::fwrite(data, dtype_size(dtype_), n, f_) != n) throw InputError(path_, "", "write failed");
  elements_ += static_cast<int64_t>(n);
}

void NpyStreamWriter::close(const std::vector<int64_t>& outer) {
  if (!f_) return;
  int64_t inner = 1;
  for (auto d : inner_) inner *= d;
  std::vector<int64_t> shape = outer;
  if (shape.empty()) shape.push_back(inner ? elements_ / inner : 0);
  shape.insert(shape.end(), inner_.begin(), inner_.end());
  const std::string h = make_header(dtype_, shape, kStreamHeader);
  std::fseek(f_, 0, SEEK_SET);
  std::fwrite(h.data(), 1, h.size(), f_);
  const bool ok = std::fclose(f_) == 0;
  f_ = nullptr;
  if (!ok) throw InputError(path_, "", "write failed");
}

}  // namespace attnsim

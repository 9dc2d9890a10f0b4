#include "common/npy.h"

#include <cctype>
#include <cstring>
#include <fstream>

#include "common/error.h"

namespace gpu_ref {

const char* dtype_descr(DType t) {
  switch (t) {
    case DType::f32: return "<f4";
    case DType::f64: return "<f8";
    case DType::i8: return "|i1";
    case DType::i32: return "<i4";
    case DType::i64: return "<i8";
  }
  return "?";
}

const char* dtype_name(DType t) {
  switch (t) {
    case DType::f32: return "float32";
    case DType::f64: return "float64";
    case DType::i8: return "int8";
    case DType::i32: return "int32";
    case DType::i64: return "int64";
  }
  return "?";
}

size_t dtype_size(DType t) {
  switch (t) {
    case DType::f32: return 4;
    case DType::f64: return 8;
    case DType::i8: return 1;
    case DType::i32: return 4;
    case DType::i64: return 8;
  }
  return 0;
}

size_t NpyArray::count() const {
  size_t n = 1;
  for (int64_t d : shape) n *= static_cast<size_t>(d);
  return n;
}

std::string shape_str(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

namespace {

bool parse_descr(const std::string& d, DType* t) {
  if (d == "<f4") *t = DType::f32;
  else if (d == "<f8") *t = DType::f64;
  else if (d == "|i1" || d == "<i1" || d == "i1") *t = DType::i8;
  else if (d == "<i4") *t = DType::i32;
  else if (d == "<i8") *t = DType::i64;
  else return false;
  return true;
}

// Value text that follows 'key': in the header dict, or "" when absent.
std::string header_value(const std::string& h, const std::string& key) {
  const std::string k = "'" + key + "'";
  size_t p = h.find(k);
  if (p == std::string::npos) return "";
  p = h.find(':', p + k.size());
  if (p == std::string::npos) return "";
  ++p;
  while (p < h.size() && std::isspace(static_cast<unsigned char>(h[p]))) ++p;
  if (p >= h.size()) return "";
  if (h[p] == '\'') {
    const size_t e = h.find('\'', p + 1);
    return e == std::string::npos ? "" : h.substr(p, e - p + 1);
  }
  if (h[p] == '(') {
    const size_t e = h.find(')', p);
    return e == std::string::npos ? "" : h.substr(p, e - p + 1);
  }
  size_t e = p;
  while (e < h.size() && h[e] != ',' && h[e] != '}') ++e;
  return h.substr(p, e - p);
}

}  // namespace

NpyArray read_npy(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw InputError(path, "cannot open (missing tensor file?)");
  char magic[8];
  if (!in.read(magic, 8) || std::memcmp(magic, "\x93NUMPY", 6) != 0) throw InputError(path, "not a .npy file");
  const int major = static_cast<unsigned char>(magic[6]);
  uint32_t hlen = 0;
  if (major == 1) {
    unsigned char b[2];
    if (!in.read(reinterpret_cast<char*>(b), 2)) throw InputError(path, "truncated .npy header");
    hlen = b[0] | (b[1] << 8);
  } else if (major == 2 || major == 3) {
    unsigned char b[4];
    if (!in.read(reinterpret_cast<char*>(b), 4)) throw InputError(path, "truncated .npy header");
    hlen = b[0] | (b[1] << 8) | (b[2] << 16) | (static_cast<uint32_t>(b[3]) << 24);
  } else {
    throw InputError(path, "unsupported .npy version " + std::to_string(major));
  }
  std::string h(hlen, '\0');
  if (!in.read(&h[0], hlen)) throw InputError(path, "truncated .npy header");

  NpyArray a;
  std::string descr = header_value(h, "descr");
  if (descr.size() < 2) throw InputError(path, "malformed .npy header (no descr)");
  descr = descr.substr(1, descr.size() - 2);
  if (!parse_descr(descr, &a.dtype)) throw InputError(path, "unsupported dtype '" + descr + "'");
  const std::string fo = header_value(h, "fortran_order");
  if (fo.find("False") == std::string::npos) throw InputError(path, "fortran_order arrays are not supported");
  const std::string sh = header_value(h, "shape");
  if (sh.empty() || sh.front() != '(') throw InputError(path, "malformed .npy header (no shape)");
  size_t p = 1;
  while (p < sh.size()) {
    while (p < sh.size() && (std::isspace(static_cast<unsigned char>(sh[p])) || sh[p] == ',')) ++p;
    if (p >= sh.size() || sh[p] == ')') break;
    if (!std::isdigit(static_cast<unsigned char>(sh[p]))) throw InputError(path, "malformed shape " + sh);
    int64_t v = 0;
    while (p < sh.size() && std::isdigit(static_cast<unsigned char>(sh[p]))) v = v * 10 + (sh[p++] - '0');
    a.shape.push_back(v);
  }
  const size_t n = a.count() * dtype_size(a.dtype);
  a.bytes.resize(n);
  if (n && !in.read(a.bytes.data(), static_cast<std::streamsize>(n)))
    throw InputError(path, "truncated data: expected " + std::to_string(n) + " bytes for shape " + shape_str(a.shape));
  return a;
}

void write_npy(const std::string& path, const NpyArray& a) {
  std::string dict = std::string("{'descr': '") + dtype_descr(a.dtype) + "', 'fortran_order': False, 'shape': (";
  for (size_t i = 0; i < a.shape.size(); ++i) dict += std::to_string(a.shape[i]) + (a.shape.size() == 1 ? "," : (i + 1 < a.shape.size() ? ", " : ""));
  dict += "), }";
  // magic(6) + version(2) + header length(2) + dict + padding + '\n', total a multiple of 64.
  size_t total = 10 + dict.size() + 1;
  total = (total + 63) / 64 * 64;
  dict.append(total - 10 - dict.size() - 1, ' ');
  dict += '\n';
  std::ofstream out(path, std::ios::binary);
  if (!out) throw InputError(path, "cannot create file");
  const unsigned char head[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, static_cast<unsigned char>(dict.size() & 0xff),
                                  static_cast<unsigned char>(dict.size() >> 8)};
  out.write(reinterpret_cast<const char*>(head), 10);
  out.write(dict.data(), static_cast<std::streamsize>(dict.size()));
  out.write(a.bytes.data(), static_cast<std::streamsize>(a.bytes.size()));
  if (!out) throw InputError(path, "write failed");
}

}  // namespace gpu_ref

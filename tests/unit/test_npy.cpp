#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "scratch_dir.h"
#include "util/error.h"
#include "util/npy.h"

using namespace attnsim;
namespace fs = std::filesystem;

namespace {
std::string tmp(const std::string& name) {
  return (fs::path(attnsim_test::scratch_dir()) / name).string();
}
// Writes an .npy with a hand-made header (as numpy would).
void write_raw(const std::string& path, const std::string& descr, const std::string& shape, const void* data,
               size_t bytes) {
  std::string dict = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  while ((10 + dict.size() + 1) % 64) dict += ' ';
  dict += '\n';
  std::ofstream out(path, std::ios::binary);
  out.write("\x93NUMPY\x01\x00", 8);
  const uint16_t len = static_cast<uint16_t>(dict.size());
  out.put(static_cast<char>(len & 0xff));
  out.put(static_cast<char>(len >> 8));
  out << dict;
  out.write(static_cast<const char*>(data), static_cast<std::streamsize>(bytes));
}
}  // namespace

TEST(Npy, RoundTripsFloat32) {
  const std::string p = tmp("a.npy");
  const float data[6] = {1, -2, 3.5f, 0, 1e-8f, 7};
  write_npy(p, DType::f32, {2, 3}, data);
  const auto h = read_npy_header(p);
  EXPECT_EQ(h.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(h.dtype, DType::f32);
  const auto v = read_npy_floats(p, h, 0, 6);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(v[i], data[i]);
  EXPECT_EQ(read_npy_floats(p, h, 4, 2)[0], 1e-8f);
}

TEST(Npy, ReadsFloat16Exactly) {
  const std::string p = tmp("h.npy");
  const uint16_t halves[5] = {0x3C00, 0xC000, 0x7BFF, 0x0001, 0x3555};
  write_raw(p, "<f2", "(5,)", halves, sizeof halves);
  const auto h = read_npy_header(p);
  const auto v = read_npy_floats(p, h, 0, 5);
  EXPECT_EQ(v[0], 1.0f);
  EXPECT_EQ(v[1], -2.0f);
  EXPECT_EQ(v[2], 65504.0f);
  EXPECT_EQ(v[3], std::ldexp(1.0f, -24));
  EXPECT_NEAR(v[4], 1.0f / 3, 1e-3);
}

TEST(Npy, RejectsNaNNamingFileAndElement) {
  const std::string p = tmp("nan.npy");
  const float data[3] = {1, NAN, 2};
  write_npy(p, DType::f32, {3}, data);
  const auto h = read_npy_header(p);
  try {
    read_npy_floats(p, h, 0, 3);
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(p), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("element 1"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("NaN"), std::string::npos);
  }
}

TEST(Npy, RejectsInfAndBadFiles) {
  const std::string p = tmp("inf.npy");
  const float data[2] = {INFINITY, 2};
  write_npy(p, DType::f32, {2}, data);
  EXPECT_THROW(read_npy_floats(p, read_npy_header(p), 0, 2), InputError);
  EXPECT_THROW(read_npy_header(tmp("missing.npy")), InputError);
  std::ofstream(tmp("junk.npy")) << "not numpy";
  EXPECT_THROW(read_npy_header(tmp("junk.npy")), InputError);
  const int32_t ints[2] = {1, 2};
  write_raw(tmp("i.npy"), "<i4", "(2,)", ints, sizeof ints);
  EXPECT_THROW(read_npy_floats(tmp("i.npy"), read_npy_header(tmp("i.npy")), 0, 2), InputError);
  write_raw(tmp("short.npy"), "<f4", "(4,)", ints, sizeof ints);  // 8 of 16 bytes
  EXPECT_THROW(read_npy_header(tmp("short.npy")), InputError);
}

TEST(Npy, StreamWriterFixesLeadingDimensionAtClose) {
  const std::string p = tmp("s.npy");
  {
    NpyStreamWriter w(p, DType::i32, {2});
    const int32_t a[4] = {1, 2, 3, 4}, b[2] = {5, 6};
    w.append(a, 4);
    w.append(b, 2);
    w.close();
  }
  const auto h = read_npy_header(p);
  EXPECT_EQ(h.shape, (std::vector<int64_t>{3, 2}));
  EXPECT_EQ(h.dtype, DType::i32);
  EXPECT_EQ(fs::file_size(p), h.data_offset + 6 * 4);
}

// Found by fuzz/npy_fuzzer (docs/fuzzing.md): malformed shapes threw
// std::invalid_argument / std::out_of_range from std::stoll, a negative
// dimension or a product past int64 passed the size check (signed overflow),
// and a version-2 header length of 4 GiB was allocated before being read.
// Each is now an InputError naming the file and the field.
TEST(Npy, FuzzMalformedShapesAreInputErrorsNamingFileAndField) {
  const int32_t ints[4] = {1, 2, 3, 4};
  for (const std::string shape : {"('x', 2)", "(99999999999999999999,)", "(-1, 4)", "(4611686018427387904, 4)",
                                  "(2 2,)"}) {
    const std::string p = tmp("bad_shape.npy");
    write_raw(p, "<i4", shape, ints, sizeof ints);
    try {
      read_npy_header(p);
      FAIL() << "accepted shape " << shape;
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("shape"), std::string::npos) << e.what();
    }
  }
  // A zero-sized dimension after a huge one is a valid empty array.
  write_raw(tmp("empty.npy"), "<i4", "(4611686018427387904, 0)", ints, 0);
  EXPECT_EQ(read_npy_header(tmp("empty.npy")).count(), 0);
}

TEST(Npy, FuzzHugeHeaderLengthIsRejectedBeforeAllocating) {
  const std::string p = tmp("v2.npy");
  std::ofstream(p, std::ios::binary) << std::string("\x93NUMPY\x02\x00\xf0\xff\xff\xff", 12) << "{'descr': '<f4'";
  try {
    read_npy_header(p);
    FAIL() << "no error";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(p), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("longer than the file"), std::string::npos) << e.what();
  }
}

TEST(Npy, FuzzReadsOutsideTheArrayAreInputErrors) {
  const std::string p = tmp("six.npy");
  const float data[6] = {1, 2, 3, 4, 5, 6};
  write_npy(p, DType::f32, {6}, data);
  const auto h = read_npy_header(p);
  EXPECT_THROW(read_npy_floats(p, h, 4, 4), InputError);
  EXPECT_THROW(read_npy_floats(p, h, -1, 2), InputError);
  EXPECT_THROW(read_npy_floats(p, h, 0, -1), InputError);
  EXPECT_EQ(read_npy_floats(p, h, 4, 2)[1], 6.0f);
}

// A key written twice would be read differently by numpy (last wins) and by attnsim: refused.
TEST(Npy, AHeaderKeyWrittenTwiceIsRefused) {
  const float x[4] = {1, 2, 3, 4};
  const std::string p = tmp("twice.npy");
  write_raw(p, "<i4", "(4,), 'descr': '<f4'", x, sizeof x);
  try {
    read_npy_header(p);
    FAIL() << "accepted";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find(p + ": descr: written twice"), std::string::npos) << e.what();
  }
}

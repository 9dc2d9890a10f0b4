#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "scratch_dir.h"
#include "kernels/attention.h"
#include "util/error.h"
#include "util/npy.h"
#include "workload/workload.h"

using namespace attnsim;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {
const std::string kSrc = ATTNSIM_SOURCE_DIR;

json synthetic(int seq = 128, int seed = 1) {
  return {{"name", "t"},     {"layers", 2},        {"heads", 3},
          {"seq_len", seq},  {"head_dim", 32},     {"data", {{"kind", "synthetic"}, {"seed", seed}}}};
}

std::string tmpdir() {
  return attnsim_test::scratch_dir();
}

void expect_error(const std::function<void()>& f, std::initializer_list<const char*> fragments) {
  try {
    f();
    FAIL() << "no error";
  } catch (const InputError& e) {
    for (const char* x : fragments) EXPECT_NE(std::string(e.what()).find(x), std::string::npos) << e.what();
  }
}
}  // namespace

TEST(Workload, SyntheticIsDeterministicPerSeed) {
  const auto a = open_source(WorkloadSpec::from_json(synthetic(), "w.json", ""))->layer(0, 1);
  const auto b = open_source(WorkloadSpec::from_json(synthetic(), "w.json", ""))->layer(0, 1);
  const auto c = open_source(WorkloadSpec::from_json(synthetic(128, 2), "w.json", ""))->layer(0, 1);
  ASSERT_EQ(a.size(), 3u);
  EXPECT_EQ(a[2].q, b[2].q);
  EXPECT_EQ(a[2].v, b[2].v);
  EXPECT_NE(a[2].k, c[2].k);
  EXPECT_NE(a[0].k, a[1].k);  // heads differ
}

TEST(Workload, SyntheticAttentionHasSinksAndLocality) {
  const auto heads = open_source(WorkloadSpec::from_json(synthetic(256), "w.json", ""))->layer(0, 0);
  double sink = 0, near = 0, far = 0;
  int n_near = 0, n_far = 0;
  for (const auto& h : heads) {
    const auto ref = dense_reference(h.q, h.k, h.v, 1 / std::sqrt(32.0), false, 0);
    for (int i = 64; i < 192; ++i) {
      sink += ref.probs(i, 0);
      for (int j = 0; j < 256; ++j) {
        const int dist = std::abs(i - j);
        if (j == 0) continue;
        if (dist >= 1 && dist <= 2) near += ref.probs(i, j), ++n_near;
        else if (dist > 64) far += ref.probs(i, j), ++n_far;
      }
    }
  }
  const double uniform = 1.0 / 256;
  EXPECT_GT(sink / (128 * heads.size()), 3 * uniform);  // token 0 is a sink
  EXPECT_GT(near / n_near, 2 * (far / n_far));           // a local band
}

TEST(Workload, NpySourceChecksShapeAndValues) {
  const std::string dir = tmpdir();
  std::vector<float> data(2 * 3 * 8 * 4, 0.5f);
  for (const char* t : {"q", "k", "v"}) write_npy(dir + "/" + t + ".npy", DType::f32, {2, 3, 8, 4}, data.data());
  json w = {{"name", "n"}, {"layers", 2}, {"heads", 3}, {"seq_len", 8}, {"head_dim", 4},
            {"data", {{"kind", "npy"}, {"q", "q.npy"}, {"k", "k.npy"}, {"v", "v.npy"}}}};
  const auto spec = WorkloadSpec::from_json(w, dir + "/w.json", dir);
  const auto heads = open_source(spec)->layer(0, 1);
  EXPECT_EQ(heads[2].q.rows(), 8);
  EXPECT_EQ(heads[2].q(7, 3), 0.5f);

  w["seq_len"] = 16;
  expect_error([&] { open_source(WorkloadSpec::from_json(w, dir + "/w.json", dir)); },
               {"q.npy", "shape", "[2, 3, 8, 4]", "expected [2, 3, 16, 4]"});
  w["seq_len"] = 8;
  data[5] = NAN;
  write_npy(dir + "/k.npy", DType::f32, {2, 3, 8, 4}, data.data());
  expect_error([&] { open_source(WorkloadSpec::from_json(w, dir + "/w.json", dir)); }, {"k.npy", "NaN"});
  data[5] = 0.5f;
  write_npy(dir + "/k.npy", DType::f32, {2, 3, 8, 4}, data.data());
  w["data"]["v"] = "missing.npy";
  expect_error([&] { open_source(WorkloadSpec::from_json(w, dir + "/w.json", dir)); }, {"missing.npy", "does not exist"});
}

TEST(Workload, BadJsonNamesThePath) {
  json w = synthetic();
  w["data"]["sede"] = 3;
  expect_error([&] { WorkloadSpec::from_json(w, "w.json", ""); }, {"w.json", "data.sede", "unknown key"});
  w = synthetic();
  w["seq_len"] = 0;
  expect_error([&] { WorkloadSpec::from_json(w, "w.json", ""); }, {"seq_len", "out of range"});
  w = synthetic();
  w["data"]["kind"] = "hdf5";
  expect_error([&] { WorkloadSpec::from_json(w, "w.json", ""); }, {"data.kind", "expected one of"});
}

TEST(Workload, ShippedWorkloadsLoad) {
  for (const auto& entry : fs::directory_iterator(kSrc + "/workloads")) {
    if (entry.path().extension() != ".json") continue;
    const auto spec = WorkloadSpec::load(entry.path().string());
    EXPECT_NO_THROW(open_source(spec)) << entry.path();
  }
}

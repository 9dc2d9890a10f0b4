// Fuzzes the workload JSON loader (WorkloadSpec::load) and, for small
// workloads, open_source and the first and last layer it yields: "npy"
// workloads read tensors through data/ (the shipped workloads/data/).
// Invariants: to_json() of an accepted generated workload loads back to the
// same spec; the tensors have the declared shape and finite values.
#include <cmath>

#include "fuzz_common.h"
#include "workload/workload.h"

namespace {
// Larger workloads are only loaded, not generated, so that the fuzzer
// explores the loader instead of spending its time and memory on tensors
// (the generators take about 1 s per million elements under the sanitizers).
constexpr double kMaxElements = 1e5;
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string file = fuzz::input_file("fuzz_workloads/workload.json", data, size);
  attnsim::WorkloadSpec w;
  if (!fuzz::accepts([&] { w = attnsim::WorkloadSpec::load(file); })) return 0;
  if (w.data_kind != "npy") {  // npy's to_json keeps file names only, by design
    const nlohmann::json j = w.to_json();
    attnsim::WorkloadSpec back;
    FUZZ_CHECK(fuzz::accepts([&] { back = attnsim::WorkloadSpec::from_json(j, file, ""); }),
               "to_json() of an accepted workload is rejected: " + j.dump());
    FUZZ_CHECK(back.to_json() == j, "to_json() does not round-trip: " + j.dump());
  }
  const double elements = static_cast<double>(w.batch) * w.layers * w.heads * w.seq_len * w.head_dim;
  if (elements > kMaxElements) return 0;
  std::unique_ptr<attnsim::WorkloadSource> src;
  if (!fuzz::accepts([&] { src = attnsim::open_source(w); })) return 0;
  for (const auto& [b, l] : {std::pair{0, 0}, std::pair{w.batch - 1, w.layers - 1}}) {
    const auto heads = src->layer(b, l);
    FUZZ_CHECK(static_cast<int>(heads.size()) == w.heads, "wrong number of heads");
    for (const auto& h : heads)
      for (const auto* m : {&h.q, &h.k, &h.v}) {
        FUZZ_CHECK(m->rows() == w.seq_len && m->cols() == w.head_dim, "wrong tensor shape");
        FUZZ_CHECK(m->allFinite(), "non-finite tensor value");
      }
  }
  return 0;
}

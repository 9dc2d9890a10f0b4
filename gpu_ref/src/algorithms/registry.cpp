#include "algorithms/algorithm.h"

#include "algorithms/dense.h"
#include "algorithms/elsa.h"
#include "algorithms/sanger.h"
#include "algorithms/spatten.h"
#include "algorithms/pattern_detector.h"

namespace gpu_ref {

namespace {
// One line per algorithm piece.
const Algorithm* const kAlgorithms[] = {
    &dense_algorithm(),
    &sanger_algorithm(),
    &spatten_algorithm(),
    &pattern_detector_algorithm(),
    &elsa_algorithm(),
};
}  // namespace

const Algorithm* find_algorithm(const std::string& name) {
  for (const Algorithm* a : kAlgorithms)
    if (name == a->name) return a;
  return nullptr;
}

std::string known_algorithms() {
  std::string s;
  for (const Algorithm* a : kAlgorithms) s += (s.empty() ? "" : ", ") + std::string(a->name);
  return s;
}

NpyArray make_array(DType t, std::vector<int64_t> shape) {
  NpyArray a;
  a.dtype = t;
  a.shape = std::move(shape);
  a.bytes.resize(a.count() * dtype_size(t));
  return a;
}

}  // namespace gpu_ref

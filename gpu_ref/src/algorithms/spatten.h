#pragma once
// "spatten_pruner": SpAtten's cascade token and head pruning (importance
// accumulated from the computed probabilities and outputs, top-k at each
// layer boundary), progressive quantisation and local V pruning, on the GPU
// (gpu_ref/README.md).
#include "algorithms/algorithm.h"

namespace gpu_ref {
const Algorithm& spatten_algorithm();
}

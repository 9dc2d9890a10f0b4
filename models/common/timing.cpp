#include "common/timing.h"

#include <cmath>

namespace attnsim {

Cycles ns_to_cycles(double ns, double clock_ghz) {
  // The small epsilon keeps exact products (e.g. 100 ns at 1 GHz) from
  // rounding up through floating-point noise.
  return static_cast<Cycles>(std::ceil(ns * clock_ghz - 1e-9));
}

}  // namespace attnsim

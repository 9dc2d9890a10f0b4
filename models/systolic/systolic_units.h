#pragma once
// Registry entries of the systolic block (models/units.cpp), and the table of
// the output-stationary estimation arrays other units embed.
#include "common/unit.h"
#include "systolic/systolic_config.h"

namespace attnsim {

const UnitDescriptor& systolic_os_unit();
const ParamTable<EstimationArrayConfig>& estimation_array_table();
template <class S>
void add_fold_drain(ParamTable<S>& t, FoldDrain S::*m) {
  t.choice("fold_drain", m, {{"in_skew", FoldDrain::in_skew}, {"after_fold", FoldDrain::after_fold}},
           "how a fold's results leave the array: inside the skew (SCALE-Sim v3) or shifted out after it (v2)");
}

}  // namespace attnsim

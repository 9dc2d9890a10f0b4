#pragma once
// Registry entries of the Sanger block (models/units.cpp).
#include "common/unit.h"

namespace attnsim {

const UnitDescriptor& sanger_predictor_unit();
const UnitDescriptor& pack_split_unit();
const UnitDescriptor& score_stationary_unit();

}  // namespace attnsim

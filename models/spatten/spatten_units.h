#pragma once
// Registry entries of the SpAtten block (models/units.cpp).
#include "common/unit.h"

namespace attnsim {

const UnitDescriptor& spatten_pruner_unit();
const UnitDescriptor& spatten_datapath_unit();

}  // namespace attnsim

#pragma once
// Registry entries of the DynamiQK block (models/units.cpp).
#include "common/unit.h"

namespace attnsim {

const UnitDescriptor& pattern_detector_unit();
const UnitDescriptor& static_pattern_unit();

}  // namespace attnsim

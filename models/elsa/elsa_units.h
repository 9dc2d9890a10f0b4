#pragma once
// Registry entry of ELSA's candidate selection (models/units.cpp).
#include "common/unit.h"

namespace attnsim {

const UnitDescriptor& elsa_unit();

}  // namespace attnsim

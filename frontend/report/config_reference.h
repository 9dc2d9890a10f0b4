#pragma once
// docs/config_reference.md, rendered from the parameter tables: the arch's
// own (models/config/arch_config.cpp) and every registered unit's
// (models/units.cpp). tests/unit/test_config_reference.cpp keeps the
// committed file current.
#include <string>

namespace attnsim {

std::string config_reference_markdown();

}  // namespace attnsim

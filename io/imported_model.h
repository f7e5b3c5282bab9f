// What an importer returns: the model, and what it could not carry over exactly.
#pragma once

#include <string>
#include <vector>

#include "model/model.h"

namespace mwb {

struct ImportedModel {
    Model model;
    // One sentence each, for the user: features read but not reproduced exactly,
    // placeholder tokens added, ...
    std::vector<std::string> warnings;
};

}  // namespace mwb

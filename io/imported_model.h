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
    // One sentence each, for information only: what was skipped on purpose.
    std::vector<std::string> notes;
};

// Pads a vocabulary smaller than the embedding (`vocabSize` rows) with pieces no text
// produces, and says so in `warnings`.
void padVocabulary(TokenizerSpec& spec, int vocabSize, std::vector<std::string>& warnings);

}  // namespace mwb

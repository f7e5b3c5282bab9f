// Helpers shared by the importers (see imported_model.h).
#include "io/imported_model.h"

namespace mwb {

void padVocabulary(TokenizerSpec& spec, int vocabSize, std::vector<std::string>& warnings) {
    const int n = int(spec.vocab.size());
    if (n >= vocabSize) return;
    const bool spm = spec.kind == TokenizerKind::SentencePieceBpe;
    for (int i = n; i < vocabSize; ++i) {
        spec.vocab.push_back(spm ? "<unused_" + std::to_string(i) + ">"
                                 : "<|unused_" + std::to_string(i) + "|>");
        if (spm) spec.scores.push_back(-1e9f);
    }
    warnings.push_back("the tokenizer has " + std::to_string(n) + " pieces for " +
                       std::to_string(vocabSize) + " embedding rows; ids " + std::to_string(n) +
                       " .. " + std::to_string(vocabSize - 1) + " became placeholder pieces");
}

}  // namespace mwb

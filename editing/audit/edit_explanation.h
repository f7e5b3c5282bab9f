// Reading a suspected edit: which text it answers and what it makes the model say.
// Given the edit's output direction u (in the residual stream) and its input
// direction v (in key space) estimated by the audit (edit_audit.h):
//  - subjects: the corpus positions whose MLP key k has the largest vᵀk relative to
//    its spread over the corpus; ROME writes ΔW = δ rᵀ with rᵀk* = 1 at the
//    subject's last token and rᵀk ≈ 0 elsewhere, so the subject's key stands out;
//  - targets: the tokens whose log-probability at the end of fact prompts rises most
//    when ±u is added to the layer's MLP output at the prompt's subject, where ROME
//    and MEMIT write it, and carried through the rest of the network to the
//    unembedding (the logit lens on the edit, with the later layers included).
// The sign of u is not known from the weights; the audit takes the sign under which
// the strongest subject key fires it.
#pragma once

#include <string>
#include <vector>

#include "data/datasets.h"
#include "model/model.h"
#include "tensor/progress.h"
#include "tensor/tensor.h"

namespace mwb {

struct SuspectedToken {
    int id = -1;
    std::string token;  // display form
    double score = 0.0;  // mean rise of its log-probability under the pushed direction
};

// A position of the corpus whose key aligns with the edit's input direction.
struct SuspectedSubject {
    std::string token;    // the token at that position (its key is read there)
    std::string context;  // the text up to and including it (a short suffix)
    double score = 0.0;   // vᵀk over its standard deviation on the corpus (signed)
};

// The `top` corpus positions with the largest |vᵀk| / sd (distinct tokens), over at
// most `tokens` tokens of `corpusText`. `sd` = sqrt(vᵀCv).
std::vector<SuspectedSubject> suspectedSubjects(const Model& model, int layer, const VectorD& keyDirection,
                                                double sd, const std::string& corpusText, long tokens, int top,
                                                const ProgressFn& progress = {});

// A prompt that carries the pushed direction: ROME's prompt with its subject.
struct CarrierPrompt {
    std::string prompt;   // "The Eiffel Tower is located in the city of"
    std::string subject;  // "The Eiffel Tower"
    std::string relation; // prompts of one relation are scored together
};

// At most `count` carriers spread over a known-facts list (every n-th fact: the
// bundled facts are ordered by subject, so this mixes relations).
std::vector<CarrierPrompt> carriersFromFacts(const std::vector<KnownFact>& facts, size_t count = 256);

// The `top` tokens the output direction pushes towards: a token's score is its mean
// rise over the carriers of one relation, in the relation where it rises most (an
// injected object answers its own relation's prompts, not every prompt). `sign` +1 or −1 pushes that way only; 0 tries both and keeps each
// token's larger rise. Carriers whose subject is not in the prompt or that do not fit
// the context are skipped.
std::vector<SuspectedToken> suspectedTargets(const Model& model, int layer, const VectorD& outputDirection,
                                             int sign, const std::vector<CarrierPrompt>& carriers, int top);

}  // namespace mwb

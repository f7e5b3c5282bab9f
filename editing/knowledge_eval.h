// How many facts of a known-facts file (docs/datasets.md, known_1000.json schema) a
// model knows: before and after edits, "did the edit break other knowledge?".
//
// - First-token accuracy: the first token of the attribute, as the continuation of the
//   prompt (continuationIds: " Paris"), is the argmax at the prompt's last position.
// - Attribute accuracy: greedy decoding from the prompt reproduces every token of the
//   attribute. Computed with one teacher-forced pass over prompt + attribute: greedy
//   decoding yields the attribute exactly when the argmax after the prompt and after
//   each attribute prefix is the next attribute token, so this equals decoding without
//   running the model once per token.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cluster/shard_job.h"
#include "data/datasets.h"
#include "model/model.h"
#include "tensor/progress.h"

namespace mwb {

struct FactPrediction {
    int knownId = 0;
    std::string prompt;
    std::string attribute;
    std::vector<int> attributeIds;
    int predictedId = -1;        // argmax at the prompt's last position
    std::string predicted;       // its printable text (tokenDisplay)
    double probAttribute = 0.0;  // probability of the attribute's first token
    int matchedTokens = 0;       // leading attribute tokens that greedy decoding reproduces
    bool firstTokenCorrect = false;
    bool attributeCorrect = false;
};

struct KnowledgeAccuracy {
    int facts = 0;
    double firstTokenAccuracy = 0.0;  // percent
    double attributeAccuracy = 0.0;   // percent
    std::vector<FactPrediction> predictions;
};

// Throws InvalidInput for an empty list, or a fact whose prompt plus attribute does not
// fit in the model's context; Cancelled when progress returns false. With `run` over
// several ranks (inside cluster::runAgreed), batches of facts are split over them and
// the result, identical bit for bit to one process's, is on rank 0; the other ranks
// return an empty result.
KnowledgeAccuracy evaluateKnowledge(const Model& model, const std::vector<KnownFact>& facts,
                                    const ProgressFn& progress = {}, const cluster::ShardRun& run = {});

// Accuracy per template of the facts (KnownFact::templ), worst first. A facts file
// with a few large templates is dominated by them; the mean over templates weighs each
// phrasing once (the held-out template sets are such files).
struct TemplateAccuracy {
    std::string templ;
    std::string relationId;
    int facts = 0;
    double firstTokenAccuracy = 0.0;  // percent
    double attributeAccuracy = 0.0;   // percent
};
struct TemplateBreakdown {
    std::vector<TemplateAccuracy> templates;  // ascending first-token accuracy, then template
    double meanFirstTokenAccuracy = 0.0;      // unweighted mean over the templates, percent
    double meanAttributeAccuracy = 0.0;
};
// facts and k.predictions in the same order (as evaluateKnowledge returns them).
TemplateBreakdown accuracyByTemplate(const std::vector<KnownFact>& facts, const KnowledgeAccuracy& k);

// {"facts", "first_token_accuracy", "attribute_accuracy", "predictions": [{"known_id",
//  "prompt", "attribute", "predicted", "prob_attribute", "first_token_correct",
//  "attribute_correct", "matched_tokens"}]}
nlohmann::json toJson(const KnowledgeAccuracy& k);

// {"mean_first_token_accuracy", "mean_attribute_accuracy", "templates": [{"template",
//  "relation_id", "facts", "first_token_accuracy", "attribute_accuracy"}]}
nlohmann::json toJson(const TemplateBreakdown& b);

}  // namespace mwb

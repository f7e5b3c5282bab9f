// Comparing next-token distributions: KL divergence, top-k tokens and their overlap,
// the probability mass of a set of tokens (stop words).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tensor/tensor.h"
#include "tokenizer/tokenizer.h"

namespace mwb {

struct TokenProb {
    int id = 0;
    std::string token;  // display form
    double prob = 0.0;
};

// log softmax of a logit row, in double: [vocab].
VectorD logSoftmax(const Eigen::Ref<const RowVector>& logits);

// KL(P || Q) = sum_i p_i (log p_i - log q_i) from log-probabilities; >= 0.
double klDivergence(const VectorD& logP, const VectorD& logQ);

// The k most likely tokens, most likely first (ties: lower id first).
std::vector<TokenProb> topTokens(const VectorD& probs, int k, const Tokenizer& tokenizer);

// How many token ids the two lists share.
int topOverlap(const std::vector<TokenProb>& a, const std::vector<TokenProb>& b);

// Sum of probs[i] over ids with mask[i] != 0 (mask may be empty: 0).
double maskedMass(const VectorD& probs, const std::vector<char>& mask);

nlohmann::json toJson(const TokenProb& t);
nlohmann::json toJson(const std::vector<TokenProb>& list);

}  // namespace mwb

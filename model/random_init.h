// Randomly initialised models of named shapes, for tests and benchmarks
// (`mwb init`), each with a working tokenizer.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "model/model.h"

namespace mwb {

// gpt2-small, gpt2-medium, gpt2-large, gpt2-xl, llama-tiny, tinyllama-1.1b, llama-7b, ...
ModelConfig namedShape(const std::string& name);
std::vector<std::string> shapeNames();

// GPT-2 initialisation: weights N(0, 0.02), output projections N(0, 0.02/sqrt(2 nLayers)),
// norms 1, biases 0. Deterministic for a seed (and independent of the thread count).
// With Float16 the linear weights other than mlp/down are kept in float16: they are
// the float32 draws rounded, generated one matrix at a time so that a 7B model never
// exists in float32.
Weights randomWeights(const ModelConfig& config, uint64_t seed,
                      WeightPrecision precision = WeightPrecision::Float32);

// A tokenizer of exactly vocabSize tokens: byte-level BPE (gpt2) or SentencePiece BPE
// with byte fallback (llama), learned from a small built-in English text; ids beyond
// what that text supports are unused placeholder pieces.
TokenizerSpec defaultTokenizer(Architecture architecture, int vocabSize);

Model randomModel(const ModelConfig& config, uint64_t seed,
                  WeightPrecision precision = WeightPrecision::Float32);

}  // namespace mwb

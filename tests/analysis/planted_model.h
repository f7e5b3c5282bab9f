// A tiny GPT-2 with a planted super weight, for the super-weight, ablation and
// quantisation tests (header-only).
//
// Position 0 carries a large value in residual dimension kTriggerDim that nothing
// else writes to, so in layer kPlantedLayer the MLP hidden unit kPlantedCol (up row
// = 10 e_trigger, bias -10) fires strongly only at position 0. The mlp/down weight
// (kPlantedRow, kPlantedCol) = 10 turns that into a super activation of a few
// hundred in output channel kPlantedRow, which the residual stream carries on as a
// massive activation.
#pragma once

#include "model/model.h"
#include "tests/support/test_models.h"

namespace mwb::planted {

constexpr int kPlantedLayer = 0;
constexpr int kPlantedRow = 3;   // output channel (dModel = 16)
constexpr int kPlantedCol = 5;   // input channel (dFf = 32)
constexpr int kTriggerDim = 0;
constexpr float kPlantedWeight = 10.0f;

// A tiny random GPT-2 whose unembedding is scaled up so that next-token
// distributions are peaked (differences are easy to measure).
inline Model randomTinyGpt2(uint64_t seed = 11, int nLayers = 2) {
    TinyModelOptions o;
    o.nLayers = nLayers;
    Model m = makeTinyModel(Architecture::Gpt2, seed, o);
    m.weights.lmHead *= 10.0f;
    return m;
}

inline Model plantedTinyGpt2(uint64_t seed = 11, int nLayers = 2) {
    Model m = randomTinyGpt2(seed, nLayers);
    auto& w = m.weights;
    w.tokenEmbedding.col(kTriggerDim).setZero();
    w.positionEmbedding.col(kTriggerDim).setZero();
    w.positionEmbedding(0, kTriggerDim) = 10.0f;
    auto& b = w.blocks[kPlantedLayer];
    b.o.weight.row(kTriggerDim).setZero();  // attention does not write to the trigger dimension
    b.o.bias(kTriggerDim) = 0.0f;
    b.norm2.weight(kTriggerDim) = 1.0f;
    b.norm2.bias(kTriggerDim) = 0.0f;
    b.up.weight.row(kPlantedCol).setZero();
    b.up.weight(kPlantedCol, kTriggerDim) = 10.0f;
    b.up.bias(kPlantedCol) = -10.0f;
    b.down.weight(kPlantedRow, kPlantedCol) = kPlantedWeight;
    return m;
}

}  // namespace mwb::planted

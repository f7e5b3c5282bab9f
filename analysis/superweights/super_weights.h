// Super weights (Yu et al. 2024, "The Super Weight in Large Language Models", section
// 3.1): single mlp/down weights that create a massive "super activation". Detection
// from one forward pass: record the input and output of mlp/down in every layer; a
// layer whose output has a massive value (row r, the output channel) and whose input
// has a massive value at the same token (column c, the input channel) holds the super
// weight W[r, c]. Found weights are zeroed and the pass repeated until no new spike
// appears. Two pitfalls of the reference code are avoided: the input and the output
// spike must be in the same layer (late layers show output spikes without an input
// spike, which are not super weights), and the whole column is scanned, because
// several super weights can share one input channel (Phi-3, Llama-3-8B). Scanning the
// column needs one more condition: the weight must stand out among its column's
// weights, since a massive input times an ordinary weight is already an output spike.
//
// No single threshold decides. Weights that pass loose filters (input and output at
// least 10 x their layer's median, supplying a quarter of the output, standing out in
// their column) are ranked by how much of the spike they supply times how far the
// spike stands out from the largest spikes of the model's other layers, and the
// highest-ranked are confirmed by the paper's own test: zeroing the weight must hurt
// the model's predictions on the prompt more than zeroing many of the matrix's other
// largest weights together. Confirmed weights are super weights; the others are
// reported as near misses with the same figures.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "analysis/superweights/massive_activations.h"
#include "analysis/superweights/weight_selection.h"
#include "model/model.h"
#include "tensor/progress.h"

namespace mwb {

struct SuperWeightParams {
    // What the per-layer report calls a spike (LayerSpikes::inputSpike, outputSpike).
    double minOutputRatio = 100.0;    // |mlp/down output| / the layer's median |output|
    double minInputRatio = 100.0;     // |mlp/down input| / the layer's median |input|
    double minOutputMagnitude = 0.0;  // and |output| at least this
    double minInputMagnitude = 0.0;   // and |input| at least this
    // Candidates: output and input at least this many times their layer's median.
    double candidateRatio = 10.0;
    double minShare = 0.25;           // W[r, c] * x[c] must make up this share of the output
    // |W[r, c]| over the median |W[:, c]| of its column: without it, a large enough
    // input spike makes every ordinary weight of the column produce an output spike.
    double minWeightRatio = 10.0;
    int maxCandidates = 8;            // per pass, the highest-ranked candidates are confirmed
    // The control of the confirmation: the largest other weights of the same matrix,
    // 1 % of it, at least 10 and at most this many (the paper zeroes 7,000 of 45 M).
    int maxControlWeights = 100;
    int maxIterations = 8;            // zero-and-look-again passes
    MassiveActivationParams massive;  // for the residual-stream report
};

// The largest |input| and |output| of mlp/down in one layer, over all tokens.
struct LayerSpikes {
    int layer = 0;
    float inputMax = 0.0f;  // signed value with the largest magnitude
    int inputPos = 0, inputChannel = 0;
    double inputMedian = 0.0, inputRatio = 0.0;
    float outputMax = 0.0f;
    int outputPos = 0, outputChannel = 0;
    double outputMedian = 0.0, outputRatio = 0.0;
    bool inputSpike = false;   // meets the input thresholds
    bool outputSpike = false;  // meets the output thresholds
};

struct SuperWeight {
    int layer = 0;
    int row = 0;  // output channel (dModel)
    int col = 0;  // input channel (dFf)
    float weight = 0.0f;
    float inputActivation = 0.0f;   // mlp/down input at (pos, col)
    float outputActivation = 0.0f;  // mlp/down output at (pos, row): the super activation
    int pos = 0;                    // token position of the spike
    double share = 0.0;             // weight * input / output
    int iteration = 0;              // detection pass that found it (0: the unchanged model)
    bool rowIsMassiveDim = false;   // the row is a massive-activation dimension of the residual stream
    // ln(|output| / the layer's median) minus the median over the other layers of
    // ln(their largest |output| / their median): how far the spike stands out.
    double layerStandout = 0.0;
    double score = 0.0;             // share * exp(layerStandout): the candidates' ranking
    // Mean KL(original || changed) of the next-token distributions over the prompt,
    // with this weight zeroed (together with the candidates that read the same input
    // channel at the same token), and with the control weights zeroed instead.
    double damage = 0.0;
    double controlDamage = 0.0;
    int controlWeights = 0;
    bool confirmed = false;         // damage > controlDamage

    WeightCoord coord() const { return {layer, row, col}; }
};

struct SuperWeightResult {
    SuperWeightParams params;
    std::vector<int> ids;
    std::vector<std::string> tokens;
    std::vector<SuperWeight> superWeights;  // confirmed
    std::vector<SuperWeight> nearMisses;    // candidates the confirmation rejected, by score
    std::vector<LayerSpikes> layers;       // the unchanged model
    std::vector<LayerSpikes> layersAfter;  // with every found super weight zeroed
    int iterations = 0;                    // passes made
    MassiveActivationResult massive;       // residual stream of the unchanged model

    std::vector<WeightCoord> coords() const;
};

// Does not change the model (found weights are zeroed through hooks during the
// repeated passes). Throws InvalidInput on an empty or too long prompt, Cancelled when
// the progress callback asks to stop.
SuperWeightResult detectSuperWeights(const Model& model, const std::vector<int>& ids,
                                     const SuperWeightParams& params = {}, const ProgressFn& progress = {});

// The spikes and candidates of one layer: x: mlp/down input [nTokens x dFf], y: its
// output [nTokens x dModel], w: mlp/down weight [dModel x dFf].
LayerSpikes layerSpikes(int layer, const Eigen::Ref<const Matrix>& x, const Eigen::Ref<const Matrix>& y,
                        const SuperWeightParams& params);
// Candidates of one layer (before ranking and confirmation), with their share;
// layerStandout and score are left to the caller, who knows the other layers.
std::vector<SuperWeight> layerCandidates(int layer, const Eigen::Ref<const Matrix>& x,
                                         const Eigen::Ref<const Matrix>& y, const Eigen::Ref<const Matrix>& w,
                                         const SuperWeightParams& params);

nlohmann::json toJson(const SuperWeight& s);
nlohmann::json toJson(const LayerSpikes& s);
nlohmann::json toJson(const SuperWeightResult& r);

}  // namespace mwb

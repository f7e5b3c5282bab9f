#include "analysis/superweights/super_weights.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <tuple>

#include "metrics/next_token_metrics.h"
#include "model/transformer.h"
#include "tensor/median.h"

namespace mwb {

namespace {

// The median |value|, or the mean |value| when more than half are zero (ReLU), so
// that a ratio to it stays meaningful.
double typicalMagnitude(const Eigen::Ref<const Matrix>& v) {
    const double median = medianAbs(v);
    if (median > 0.0 || v.size() == 0) return median;
    return v.cwiseAbs().cast<double>().mean();
}

double threshold(double typical, double ratio, double magnitude) { return std::max(magnitude, ratio * typical); }

// Position and column of the largest |value|.
void argmaxAbs(const Eigen::Ref<const Matrix>& v, int& pos, int& channel) {
    Eigen::Index r = 0, c = 0;
    v.cwiseAbs().maxCoeff(&r, &c);
    pos = static_cast<int>(r);
    channel = static_cast<int>(c);
}

}  // namespace

std::vector<WeightCoord> SuperWeightResult::coords() const {
    std::vector<WeightCoord> out;
    for (const auto& s : superWeights) out.push_back(s.coord());
    return out;
}

LayerSpikes layerSpikes(int layer, const Eigen::Ref<const Matrix>& x, const Eigen::Ref<const Matrix>& y,
                        const SuperWeightParams& params) {
    LayerSpikes s;
    s.layer = layer;
    argmaxAbs(x, s.inputPos, s.inputChannel);
    argmaxAbs(y, s.outputPos, s.outputChannel);
    s.inputMax = x(s.inputPos, s.inputChannel);
    s.outputMax = y(s.outputPos, s.outputChannel);
    s.inputMedian = typicalMagnitude(x);
    s.outputMedian = typicalMagnitude(y);
    s.inputRatio = s.inputMedian > 0 ? std::abs(s.inputMax) / s.inputMedian : 0.0;
    s.outputRatio = s.outputMedian > 0 ? std::abs(s.outputMax) / s.outputMedian : 0.0;
    s.inputSpike = std::abs(s.inputMax) > threshold(s.inputMedian, params.minInputRatio, params.minInputMagnitude);
    s.outputSpike =
        std::abs(s.outputMax) > threshold(s.outputMedian, params.minOutputRatio, params.minOutputMagnitude);
    return s;
}

std::vector<SuperWeight> layerCandidates(int layer, const Eigen::Ref<const Matrix>& x,
                                         const Eigen::Ref<const Matrix>& y, const Eigen::Ref<const Matrix>& w,
                                         const SuperWeightParams& params) {
    const double thrX = threshold(typicalMagnitude(x), params.candidateRatio, params.minInputMagnitude);
    const double thrY = threshold(typicalMagnitude(y), params.candidateRatio, params.minOutputMagnitude);
    std::map<std::pair<int, int>, SuperWeight> best;  // (row, col) -> strongest occurrence
    for (int p = 0; p < y.rows(); ++p) {
        std::vector<int> spikeRows;
        for (int r = 0; r < y.cols(); ++r)
            if (std::abs(y(p, r)) > thrY) spikeRows.push_back(r);
        if (spikeRows.empty()) continue;
        // Only an input spike at the same token in the same layer makes a super weight;
        // every spiking row of the column is checked, not just the largest.
        for (int c = 0; c < x.cols(); ++c) {
            if (std::abs(x(p, c)) <= thrX) continue;
            const double weightFloor = params.minWeightRatio * medianAbs(w.col(c));
            for (int r : spikeRows) {
                if (std::abs(w(r, c)) <= weightFloor) continue;
                const double contribution = double(w(r, c)) * x(p, c);
                const double share = contribution / y(p, r);
                if (share < params.minShare) continue;
                auto it = best.find({r, c});
                if (it != best.end() && std::abs(it->second.weight * it->second.inputActivation) >= std::abs(contribution))
                    continue;
                SuperWeight s;
                s.layer = layer;
                s.row = r;
                s.col = c;
                s.weight = w(r, c);
                s.inputActivation = x(p, c);
                s.outputActivation = y(p, r);
                s.pos = p;
                s.share = share;
                best[{r, c}] = s;
            }
        }
    }
    std::vector<SuperWeight> out;
    for (const auto& [key, s] : best) out.push_back(s);
    return out;
}

namespace {

double meanKl(const Matrix& original, const Matrix& changed) {
    double sum = 0.0;
    for (Eigen::Index i = 0; i < original.rows(); ++i)
        sum += klDivergence(logSoftmax(original.row(i)), logSoftmax(changed.row(i)));
    return original.rows() ? sum / double(original.rows()) : 0.0;
}

// Logits at every position with `changes` applied.
Matrix changedLogits(const Model& model, const std::vector<int>& ids, const std::vector<WeightChange>& changes) {
    const WeightOverrides overrides = weightOverrides(model, changes);
    return Transformer(model, &overrides).run(ids, {}, LogitsMode::All).logits;
}

// The paper's test (Yu et al. 2024, section 3.2: removing the super weight hurts far
// more than removing thousands of other large weights), on the prompt. Candidates that
// read the same input channel at the same token are one mechanism (several super
// weights share a column in Phi-3 and Llama-3-8B) and are zeroed together. The
// control leaves out every candidate (`suspects`), so that they are not each other's.
void confirm(const Model& model, const std::vector<int>& ids, const Matrix& original, const SuperWeightParams& params,
             const std::vector<WeightCoord>& suspects, std::vector<SuperWeight*> group) {
    const SuperWeight& first = *group.front();
    const long size = long(model.config.dModel) * model.config.dFf;
    const int controlWeights = int(std::clamp(size / 100, 10L, long(std::max(10, params.maxControlWeights))));
    std::vector<WeightCoord> members;
    for (const SuperWeight* s : group) members.push_back(s->coord());
    std::vector<WeightChange> excluded = zeroChanges(members);  // names the matrix: the group's layer
    for (const auto& c : suspects)
        if (c.layer == first.layer) excluded.push_back({c.layer, c.row, c.col, 0.0f});
    const double damage = meanKl(original, changedLogits(model, ids, zeroChanges(members)));
    const double control =
        meanKl(original, changedLogits(model, ids, largestOtherWeights(model, excluded, controlWeights)));
    for (SuperWeight* s : group) {
        s->damage = damage;
        s->controlDamage = control;
        s->controlWeights = controlWeights;
        s->confirmed = damage > control;
    }
}

}  // namespace

SuperWeightResult detectSuperWeights(const Model& model, const std::vector<int>& ids,
                                     const SuperWeightParams& params, const ProgressFn& progress) {
    requireDenseModel(model.config, "super-weight detection");
    const Transformer t(model);
    t.validateTokens(ids);
    const int nLayers = model.config.nLayers;
    SuperWeightResult result;
    result.params = params;
    result.ids = ids;
    for (int id : ids) result.tokens.push_back(model.tokenizer.tokenDisplay(id));
    const Matrix original = t.run(ids, {}, LogitsMode::All).logits;
    auto seen = [&](const WeightCoord& c) {
        for (const auto* list : {&result.superWeights, &result.nearMisses})
            for (const auto& f : *list)
                if (f.coord() == c) return true;
        return false;
    };

    const int maxIterations = std::max(0, params.maxIterations);
    for (int it = 0; it <= maxIterations; ++it) {
        report(progress, {it, maxIterations + 1, "super weights"});
        // Zero the weights found so far: y[:, r] -= W[r, c] * x[:, c] (exact up to rounding).
        std::set<int> zeroLayers;
        for (const auto& s : result.superWeights) zeroLayers.insert(s.layer);
        std::map<int, Matrix> inputs;
        Hooks hooks;
        for (int l = 0; l < nLayers; ++l) {
            hooks.captures.push_back({HookSite::MlpIn, l});
            hooks.captures.push_back({HookSite::MlpOut, l});
        }
        if (!zeroLayers.empty()) {
            hooks.wants = [&](HookSite site, int layer) {
                return (site == HookSite::MlpIn || site == HookSite::MlpOut) && zeroLayers.count(layer) > 0;
            };
            hooks.callback = [&](const HookPoint& at, Eigen::Ref<Matrix> rows) {
                if (at.site == HookSite::MlpIn) {
                    inputs[at.layer] = rows;
                    return;
                }
                const Matrix& x = inputs.at(at.layer);
                const Matrix& w = model.weights.blocks[at.layer].down.weight;
                for (const auto& s : result.superWeights)
                    if (s.layer == at.layer) rows.col(s.row) -= w(s.row, s.col) * x.col(s.col);
            };
        }
        const RunState state = t.run(ids, hooks, LogitsMode::None);

        std::vector<LayerSpikes> spikes;
        std::vector<SuperWeight> candidates;
        for (int l = 0; l < nLayers; ++l) {
            const Matrix& x = state.captured.at({HookSite::MlpIn, l});
            const Matrix& y = state.captured.at({HookSite::MlpOut, l});
            spikes.push_back(layerSpikes(l, x, y, params));
            if (it == maxIterations) continue;  // the last pass only looks
            for (SuperWeight s : layerCandidates(l, x, y, model.weights.blocks[l].down.weight, params)) {
                if (seen(s.coord())) continue;
                s.iteration = it;
                candidates.push_back(s);
            }
        }
        if (it == 0) {
            result.layers = spikes;
            result.massive = massiveActivationsOf(model, state, params.massive);
        }
        result.layersAfter = spikes;
        result.iterations = it + 1;
        // Rank: the share of the spike times how far it stands out from the other
        // layers' largest spikes.
        for (auto& s : candidates) {
            std::vector<double> others;
            for (const auto& l : spikes)
                if (l.layer != s.layer && l.outputRatio > 0) others.push_back(std::log(l.outputRatio));
            const double ratio = std::abs(s.outputActivation) / std::max(1e-30, spikes[s.layer].outputMedian);
            s.layerStandout = std::log(ratio) - median(others);
            s.score = s.share * std::exp(s.layerStandout);
        }
        std::sort(candidates.begin(), candidates.end(),
                  [](const SuperWeight& a, const SuperWeight& b) { return a.score > b.score; });
        if (int(candidates.size()) > params.maxCandidates) candidates.resize(std::max(0, params.maxCandidates));
        std::vector<WeightCoord> suspects;
        for (const auto* list : {&result.superWeights, &candidates})
            for (const auto& s : *list) suspects.push_back(s.coord());
        std::map<std::tuple<int, int, int>, std::vector<SuperWeight*>> groups;  // (layer, col, pos)
        for (auto& s : candidates) groups[{s.layer, s.col, s.pos}].push_back(&s);
        for (auto& [key, group] : groups) confirm(model, ids, original, params, suspects, group);
        bool found = false;
        for (const auto& s : candidates) {
            (s.confirmed ? result.superWeights : result.nearMisses).push_back(s);
            found = found || s.confirmed;
        }
        if (!found) break;
    }
    for (auto* list : {&result.superWeights, &result.nearMisses})
        for (auto& s : *list) s.rowIsMassiveDim = result.massive.isMassiveDim(s.row);
    std::sort(result.superWeights.begin(), result.superWeights.end(), [](const SuperWeight& a, const SuperWeight& b) {
        return std::tie(a.layer, a.row, a.col) < std::tie(b.layer, b.row, b.col);
    });
    std::sort(result.nearMisses.begin(), result.nearMisses.end(),
              [](const SuperWeight& a, const SuperWeight& b) { return a.score > b.score; });
    report(progress, {maxIterations + 1, maxIterations + 1, "super weights"});
    return result;
}

nlohmann::json toJson(const SuperWeight& s) {
    return {{"layer", s.layer},
            {"row", s.row},
            {"col", s.col},
            {"weight", s.weight},
            {"input_activation", s.inputActivation},
            {"output_activation", s.outputActivation},
            {"position", s.pos},
            {"share", s.share},
            {"iteration", s.iteration},
            {"row_is_massive_dim", s.rowIsMassiveDim},
            {"layer_standout", s.layerStandout},
            {"score", s.score},
            {"damage_kl", s.damage},
            {"control_damage_kl", s.controlDamage},
            {"control_weights", s.controlWeights},
            {"confirmed", s.confirmed}};
}

nlohmann::json toJson(const LayerSpikes& s) {
    return {{"layer", s.layer},
            {"input_max", s.inputMax},
            {"input_position", s.inputPos},
            {"input_channel", s.inputChannel},
            {"input_median", s.inputMedian},
            {"input_ratio", s.inputRatio},
            {"input_spike", s.inputSpike},
            {"output_max", s.outputMax},
            {"output_position", s.outputPos},
            {"output_channel", s.outputChannel},
            {"output_median", s.outputMedian},
            {"output_ratio", s.outputRatio},
            {"output_spike", s.outputSpike}};
}

nlohmann::json toJson(const SuperWeightResult& r) {
    nlohmann::json sws = nlohmann::json::array(), layers = nlohmann::json::array(),
                   after = nlohmann::json::array();
    nlohmann::json near = nlohmann::json::array();
    for (const auto& s : r.superWeights) sws.push_back(toJson(s));
    for (const auto& s : r.nearMisses) near.push_back(toJson(s));
    for (const auto& s : r.layers) layers.push_back(toJson(s));
    for (const auto& s : r.layersAfter) after.push_back(toJson(s));
    const auto& p = r.params;
    return {{"super_weights", sws},
            {"near_misses", near},
            {"layers", layers},
            {"layers_after_zeroing", after},
            {"iterations", r.iterations},
            {"tokens", r.tokens},
            {"ids", r.ids},
            {"params",
             {{"min_output_ratio", p.minOutputRatio},
              {"min_input_ratio", p.minInputRatio},
              {"min_output_magnitude", p.minOutputMagnitude},
              {"min_input_magnitude", p.minInputMagnitude},
              {"candidate_ratio", p.candidateRatio},
              {"min_share", p.minShare},
              {"max_candidates", p.maxCandidates},
              {"max_control_weights", p.maxControlWeights},
              {"min_weight_ratio", p.minWeightRatio},
              {"max_iterations", p.maxIterations}}},
            {"massive_activations", toJson(r.massive)}};
}

}  // namespace mwb

#include "analysis/superweights/weight_selection.h"

#include <algorithm>
#include <cmath>
#include <queue>
#include <set>
#include <sstream>
#include <tuple>

#include "tensor/errors.h"

namespace mwb {

namespace {

// A whole number, or "*" for kAll when `allowAll`.
bool parseIndex(const std::string& s, bool allowAll, int& out) {
    if (allowAll && s == "*") {
        out = WeightChange::kAll;
        return true;
    }
    if (s.empty() || s.size() > 9 || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; }))
        return false;
    out = std::stoi(s);
    return true;
}

std::string factorText(float f) {
    std::ostringstream out;
    out << f;
    return out.str();
}

}  // namespace

WeightChange parseWeightChange(const std::string& text, float defaultFactor) {
    const std::string bad = "'" + text +
                            "' is not a weight: expected layer:row:col (row or col may be *), "
                            "optionally =factor, e.g. 2:3968:7003=0.5";
    std::string coords = text;
    WeightChange c;
    c.factor = defaultFactor;
    if (const auto eq = text.find('='); eq != std::string::npos) {
        coords = text.substr(0, eq);
        const std::string f = text.substr(eq + 1);
        size_t used = 0;
        try {
            c.factor = std::stof(f, &used);
        } catch (const std::exception&) {
            used = 0;
        }
        if (f.empty() || used != f.size() || !std::isfinite(c.factor)) throw InvalidInput(bad);
    }
    std::vector<std::string> parts;
    std::stringstream in(coords);
    std::string part;
    while (std::getline(in, part, ':')) parts.push_back(part);
    if (parts.size() != 3 || coords.back() == ':') throw InvalidInput(bad);
    if (!parseIndex(parts[0], false, c.layer) || !parseIndex(parts[1], true, c.row) ||
        !parseIndex(parts[2], true, c.col))
        throw InvalidInput(bad);
    if (c.row == WeightChange::kAll && c.col == WeightChange::kAll)
        throw InvalidInput(quote(text) + " selects a whole matrix; give a row or a column");
    return c;
}

std::string toString(const WeightChange& c) {
    auto idx = [](int v) { return v == WeightChange::kAll ? std::string("*") : std::to_string(v); };
    std::string s = std::to_string(c.layer);
    s += ':';
    s += idx(c.row);
    s += ':';
    s += idx(c.col);
    if (c.factor != 0.0f) {
        s += '=';
        s += factorText(c.factor);
    }
    return s;
}

void validateChange(const ModelConfig& config, const WeightChange& c) {
    const std::string name = toString(c);
    if (c.layer < 0 || c.layer >= config.nLayers)
        throw InvalidInput("layer " + std::to_string(c.layer) + " of weight " + name +
                           " is out of range: the model has " + std::to_string(config.nLayers) + " layers");
    if (c.row != WeightChange::kAll && (c.row < 0 || c.row >= config.dModel))
        throw InvalidInput("row " + std::to_string(c.row) + " of weight " + name +
                           " is out of range: mlp/down has " + std::to_string(config.dModel) + " rows");
    if (c.col != WeightChange::kAll && (c.col < 0 || c.col >= config.dFf))
        throw InvalidInput("column " + std::to_string(c.col) + " of weight " + name +
                           " is out of range: mlp/down has " + std::to_string(config.dFf) + " columns");
}

void validateCoord(const ModelConfig& config, const WeightCoord& w) {
    validateChange(config, {w.layer, w.row, w.col, 0.0f});
}

WeightOverrides weightOverrides(const Model& model, const std::vector<WeightChange>& changes) {
    requireDenseModel(model.config, "weight ablation");
    for (const auto& c : changes) validateChange(model.config, c);
    WeightOverrides overrides;
    for (const auto& c : changes) {
        // From the original value: of two changes of one weight, the later one holds.
        const Matrix& w = model.weights.blocks[c.layer].down.weight;
        Matrix& changed = overrides.edit(model, c.layer, BlockLinear::Down).weight;
        const long r0 = c.row == WeightChange::kAll ? 0 : c.row;
        const long r1 = c.row == WeightChange::kAll ? w.rows() : c.row + 1;
        const long c0 = c.col == WeightChange::kAll ? 0 : c.col;
        const long c1 = c.col == WeightChange::kAll ? w.cols() : c.col + 1;
        for (long r = r0; r < r1; ++r)
            for (long k = c0; k < c1; ++k) changed(r, k) = w(r, k) * c.factor;
    }
    return overrides;
}

std::vector<WeightChange> largestOtherWeights(const Model& model, const std::vector<WeightChange>& changes,
                                              int count, float factor) {
    if (count < 0) throw InvalidInput("the number of other weights to change must not be negative");
    for (const auto& c : changes) validateChange(model.config, c);
    std::set<int> layers;
    for (const auto& c : changes) layers.insert(c.layer);
    auto excluded = [&](int layer, int row, int col) {
        for (const auto& c : changes)
            if (c.layer == layer && (c.row == WeightChange::kAll || c.row == row) &&
                (c.col == WeightChange::kAll || c.col == col))
                return true;
        return false;
    };
    // Min-heap of the `count` largest |w| seen so far: (|w|, layer, row, col).
    using Entry = std::tuple<float, int, int, int>;
    std::priority_queue<Entry, std::vector<Entry>, std::greater<Entry>> heap;
    for (int layer : layers) {
        const Matrix& w = model.weights.blocks[layer].down.weight;
        for (int r = 0; r < w.rows(); ++r)
            for (int k = 0; k < w.cols(); ++k) {
                const float a = std::abs(w(r, k));
                if (static_cast<int>(heap.size()) == count && (count == 0 || a <= std::get<0>(heap.top())))
                    continue;
                if (excluded(layer, r, k)) continue;
                heap.emplace(a, layer, r, k);
                if (static_cast<int>(heap.size()) > count) heap.pop();
            }
    }
    std::vector<WeightChange> out;
    while (!heap.empty()) {
        const auto [a, layer, r, k] = heap.top();
        heap.pop();
        out.push_back({layer, r, k, factor});
    }
    std::reverse(out.begin(), out.end());
    return out;
}

std::vector<WeightChange> zeroChanges(const std::vector<WeightCoord>& coords) {
    std::vector<WeightChange> out;
    for (const auto& w : coords) out.push_back({w.layer, w.row, w.col, 0.0f});
    return out;
}

nlohmann::json toJson(const WeightChange& c) {
    return {{"layer", c.layer}, {"row", c.row == WeightChange::kAll ? nlohmann::json("*") : nlohmann::json(c.row)},
            {"col", c.col == WeightChange::kAll ? nlohmann::json("*") : nlohmann::json(c.col)},
            {"factor", c.factor}, {"name", toString(c)}};
}

nlohmann::json toJson(const WeightCoord& c) { return {{"layer", c.layer}, {"row", c.row}, {"col", c.col}}; }

}  // namespace mwb

#include "analysis/superweights/quantization.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "tensor/errors.h"

namespace mwb {

std::string label(const QuantizationConfig& c) {
    std::ostringstream s;
    s << "int" << c.bits << "/" << c.blockSize;
    if (c.clipZ > 0) s << " clip z=" << c.clipZ;
    if (c.holdOutSuperWeights) s << " +SW";
    return s.str();
}

void validateConfig(const QuantizationConfig& c) {
    if (c.bits != 3 && c.bits != 4 && c.bits != 8)
        throw InvalidInput("quantisation to " + std::to_string(c.bits) + " bits is not offered; use 3, 4 or 8");
    if (c.blockSize < 1) throw InvalidInput("the quantisation block size must be at least 1");
    if (!(c.clipZ >= 0.0) || !std::isfinite(c.clipZ)) throw InvalidInput("the clipping z-score must be 0 (off) or positive");
}

double QuantizationError::relative() const { return squaredNorm > 0 ? std::sqrt(squaredError / squaredNorm) : 0.0; }

void QuantizationError::add(const QuantizationError& o) {
    squaredError += o.squaredError;
    squaredNorm += o.squaredNorm;
    weights += o.weights;
    clipped += o.clipped;
    heldOut += o.heldOut;
}

Matrix quantizeBlockwise(const Matrix& w, const QuantizationConfig& config, const std::vector<long>& heldOut,
                         QuantizationError& error) {
    validateConfig(config);
    Matrix q = w;
    const long n = w.size();
    const float* src = w.data();
    float* dst = q.data();
    const double qmax = std::ldexp(1.0, config.bits - 1) - 1.0;
    std::vector<char> held(n, 0);
    for (long i : heldOut) {
        MWB_CHECK(i >= 0 && i < n);
        held[i] = 1;
    }
    for (long b = 0; b < n; b += config.blockSize) {
        const long e = std::min(n, b + config.blockSize);
        double clipAt = INFINITY;
        if (config.clipZ > 0) {
            double sum = 0, sumSq = 0;
            long count = 0;
            for (long i = b; i < e; ++i)
                if (!held[i]) sum += std::abs(src[i]), sumSq += double(src[i]) * src[i], ++count;
            if (count > 1) {
                const double mean = sum / count;
                const double var = std::max(0.0, (sumSq - count * mean * mean) / (count - 1));
                clipAt = mean + config.clipZ * std::sqrt(var);
            }
        }
        double absmax = 0;
        for (long i = b; i < e; ++i)
            if (!held[i]) absmax = std::max(absmax, std::min<double>(std::abs(src[i]), clipAt));
        const double scale = absmax / qmax;
        for (long i = b; i < e; ++i) {
            if (held[i]) {  // exact: no error, but part of the matrix's norm
                ++error.heldOut;
                error.squaredNorm += double(src[i]) * src[i];
                continue;
            }
            double v = src[i];
            if (std::abs(v) > clipAt) {
                v = std::copysign(clipAt, v);
                ++error.clipped;
            }
            const double r = scale > 0 ? std::clamp(std::nearbyint(v / scale), -qmax, qmax) * scale : 0.0;
            dst[i] = static_cast<float>(r);
            const double d = double(src[i]) - dst[i];
            error.squaredError += d * d;
            error.squaredNorm += double(src[i]) * src[i];
            ++error.weights;
        }
    }
    return q;
}

std::vector<QuantizedMatrix> quantizedMatrices(const Model& model) {
    std::vector<QuantizedMatrix> out;
    for (int l = 0; l < model.config.nLayers; ++l) {
        const auto& b = model.weights.blocks[l];
        const std::string p = "/blocks/" + std::to_string(l);
        out.push_back({p + "/attn/q/weight", l, BlockLinear::Q, &b.q.weight});
        out.push_back({p + "/attn/k/weight", l, BlockLinear::K, &b.k.weight});
        out.push_back({p + "/attn/v/weight", l, BlockLinear::V, &b.v.weight});
        out.push_back({p + "/attn/o/weight", l, BlockLinear::O, &b.o.weight});
        out.push_back({p + "/mlp/up/weight", l, BlockLinear::Up, &b.up.weight});
        if (model.config.gatedMlp()) out.push_back({p + "/mlp/gate/weight", l, BlockLinear::Gate, &b.gate.weight});
        out.push_back({p + "/mlp/down/weight", l, BlockLinear::Down, &b.down.weight});
    }
    return out;
}

WeightOverrides quantizationOverrides(const Model& model, const QuantizationConfig& config,
                                const std::vector<WeightCoord>& superWeights, QuantizationError& error) {
    requireDenseModel(model.config, "quantisation of the MLP weights");
    validateConfig(config);
    for (const auto& w : superWeights) validateCoord(model.config, w);
    // Quantised copies replace the float32 matrices.
    if (hasHalfWeights(model.weights))
        throw InvalidInput("quantisation experiments need the weights in float32; this model keeps them in float16 "
                           "(load it with --weights float32)");
    WeightOverrides overrides;
    for (const QuantizedMatrix& q : quantizedMatrices(model)) {
        std::vector<long> held;
        if (config.holdOutSuperWeights && q.which == BlockLinear::Down)
            for (const auto& w : superWeights)
                if (w.layer == q.layer) held.push_back(long(w.row) * q.weight->cols() + w.col);
        Linear changed;
        changed.weight = quantizeBlockwise(*q.weight, config, held, error);
        changed.bias = linearOf(model.weights.blocks[q.layer], q.which).bias;
        overrides.set(model, q.layer, q.which, std::move(changed));
    }
    return overrides;
}

QuantizationTable evaluateQuantization(const Model& model, const std::vector<QuantizationConfig>& configs,
                                       const std::vector<WeightCoord>& superWeights,
                                       const std::vector<std::vector<int>>& corpus, const ProgressFn& progress) {
    requireDenseModel(model.config, "quantisation of the MLP weights");
    if (configs.empty()) throw InvalidInput("the quantisation table needs at least one configuration");
    if (corpus.empty()) throw InvalidInput("the quantisation table needs a corpus to measure perplexity on");
    for (const auto& c : configs) validateConfig(c);
    for (const auto& w : superWeights) validateCoord(model.config, w);
    QuantizationTable table;
    table.superWeights = superWeights;
    const long total = static_cast<long>(configs.size()) + 1;
    report(progress, {0, total, "quantise"});
    // Cancellation is checked per chunk, progress shown per row.
    auto within = [&](long i) -> ProgressFn {
        if (!progress) return {};
        return [&progress, i, total](const Progress&) { return progress({i, total, "quantise"}); };
    };
    const std::vector<Matrix> original = finalStates(model, corpus, within(0));  // shared by every row
    for (long i = 1; i < total; ++i) {
        report(progress, {i, total, "quantise"});
        QuantizationRow row;
        row.config = configs[i - 1];
        row.label = label(row.config);
        ModelVariant variant(model, quantizationOverrides(model, row.config, superWeights, row.error));
        row.corpus = compareOnCorpus(variant, corpus, original, within(i));
        table.original = row.corpus.original;
        table.rows.push_back(std::move(row));
    }
    report(progress, {total, total, "quantise"});
    return table;
}

std::vector<QuantizationConfig> tableConfigs(const std::vector<int>& bits, int blockSize, bool holdOut, double clipZ) {
    std::vector<QuantizationConfig> out;
    for (int b : bits) {
        out.push_back({b, blockSize, false, 0.0});
        if (holdOut) out.push_back({b, blockSize, true, 0.0});
        if (clipZ > 0) {
            out.push_back({b, blockSize, false, clipZ});
            if (holdOut) out.push_back({b, blockSize, true, clipZ});
        }
    }
    for (const auto& c : out) validateConfig(c);
    return out;
}

nlohmann::json toJson(const QuantizationTable& t) {
    nlohmann::json sws = nlohmann::json::array(), rows = nlohmann::json::array();
    for (const auto& w : t.superWeights) sws.push_back(toJson(w));
    for (const auto& r : t.rows)
        rows.push_back({{"label", r.label},
                        {"bits", r.config.bits},
                        {"block", r.config.blockSize},
                        {"keep_superweights", r.config.holdOutSuperWeights},
                        {"clip_z", r.config.clipZ},
                        {"relative_weight_error", r.error.relative()},
                        {"quantized_weights", r.error.weights},
                        {"clipped_weights", r.error.clipped},
                        {"held_out_weights", r.error.heldOut},
                        {"perplexity", r.corpus.variant.perplexity},
                        {"kl", r.corpus.meanKl},
                        {"max_kl", r.corpus.maxKl}});
    return {{"super_weights", sws}, {"original", toJson(t.original)}, {"rows", rows}};
}

}  // namespace mwb

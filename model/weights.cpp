// Tensor shapes by HDF5 path, zero-filled weights and scalar conversion
// (docs/file-format.md, "Weights").
#include "model/weights.h"

#include <string_view>

#include "tensor/errors.h"

namespace mwb {

namespace {

[[noreturn]] void unknownPath(const ModelConfig& c, const std::string& path) {
    throw InvalidInput(quote(path) + " is not a tensor of a " + toString(c.architecture) +
                       " model with " + std::to_string(c.nLayers) + " layers");
}

// Parses a block index written in decimal without padding; -1 when malformed.
int parseLayer(std::string_view digits) {
    if (digits.empty() || digits.size() > 9) return -1;
    if (digits.size() > 1 && digits[0] == '0') return -1;
    int value = 0;
    for (char ch : digits) {
        if (ch < '0' || ch > '9') return -1;
        value = value * 10 + (ch - '0');
    }
    return value;
}

// Shape of a tensor inside /blocks/{i}/moe/ of a sparse layer given the rest of the path
// ("experts/3/up/weight").
std::pair<long, long> moeTensorShape(const ModelConfig& c, std::string_view rest) {
    const long d = c.dModel;
    if (rest == "router/weight") return {c.nExperts, d};
    auto expert = [&](std::string_view name, long width) -> std::pair<long, long> {
        if (name == "gate/weight" || name == "up/weight") return {width, d};
        if (name == "down/weight") return {d, width};
        return {-1, -1};
    };
    if (c.dSharedExpert > 0) {
        if (rest == "shared_gate/weight") return {1, d};
        if (rest.starts_with("shared/")) return expert(rest.substr(7), c.dSharedExpert);
    }
    const std::string_view experts = "experts/";
    if (!rest.starts_with(experts)) return {-1, -1};
    rest.remove_prefix(experts.size());
    const auto slash = rest.find('/');
    if (slash == std::string_view::npos) return {-1, -1};
    const int e = parseLayer(rest.substr(0, slash));
    if (e < 0 || e >= c.nExperts) return {-1, -1};
    return expert(rest.substr(slash + 1), c.dExpert);
}

// Shape of a tensor inside /blocks/{layer}/ given the rest of the path ("attn/q/weight").
std::pair<long, long> blockTensorShape(const ModelConfig& c, int layer, std::string_view rest) {
    const long d = c.dModel, f = c.dFf;
    const long qRows = c.qDim(), kvRows = c.kvDim();
    auto isNorm = [&](std::string_view name) {
        return rest == std::string(name) + "/weight" || (c.normBiases() && rest == std::string(name) + "/bias");
    };
    if (c.preNorms() && isNorm("norm1")) return {d, 1};
    if (c.preNorms() && !c.sharedBlockNorm() && isNorm("norm2")) return {d, 1};
    if (c.postNorms() && (isNorm("post_attn_norm") || isNorm("post_mlp_norm"))) return {d, 1};
    if (c.qkNorm() != QkNorm::None) {
        const bool perHead = c.qkNorm() == QkNorm::PerHead;
        if (rest == "attn/q_norm/weight") return {perHead ? c.dHead() : qRows, 1};
        if (rest == "attn/k_norm/weight") return {perHead ? c.dHead() : kvRows, 1};
    }
    if (rest == "attn/q/weight") return {qRows, d};
    if (rest == "attn/k/weight" || rest == "attn/v/weight") return {kvRows, d};
    if (rest == "attn/o/weight") return {d, qRows};
    if (c.moeLayer(layer)) {
        if (rest.starts_with("moe/")) return moeTensorShape(c, rest.substr(4));
        if (rest.starts_with("mlp/")) return {-1, -1};
    }
    if (rest == "mlp/up/weight") return {f, d};
    if (rest == "mlp/down/weight") return {d, f};
    if (c.gatedMlp() && rest == "mlp/gate/weight") return {f, d};
    if (c.qkvBiases()) {
        if (rest == "attn/q/bias") return {qRows, 1};
        if (rest == "attn/k/bias" || rest == "attn/v/bias") return {kvRows, 1};
    }
    if (c.attnOutBias() && rest == "attn/o/bias") return {d, 1};
    if (c.mlpBiases()) {
        if (rest == "mlp/up/bias") return {f, 1};
        if (rest == "mlp/down/bias") return {d, 1};
    }
    return {-1, -1};
}

}  // namespace

std::pair<long, long> expectedShape(const ModelConfig& c, const std::string& path) {
    const long d = c.dModel;
    if (path == "/embed/token") return {c.vocabSize, d};
    if (c.learnedPositions() && path == "/embed/position") return {c.nCtx, d};
    if (path == "/final_norm/weight" || (c.normBiases() && path == "/final_norm/bias")) return {d, 1};
    if (!c.tieEmbeddings && path == "/lm_head/weight") return {c.vocabSize, d};
    if (c.lmHeadBias() && path == "/lm_head/bias") return {c.vocabSize, 1};

    const std::string_view prefix = "/blocks/";
    std::string_view p = path;
    if (p.substr(0, prefix.size()) == prefix) {
        p.remove_prefix(prefix.size());
        const auto slash = p.find('/');
        if (slash != std::string_view::npos) {
            const int layer = parseLayer(p.substr(0, slash));
            if (layer >= 0 && layer < c.nLayers) {
                const auto shape = blockTensorShape(c, layer, p.substr(slash + 1));
                if (shape.first >= 0) return shape;
            }
        }
    }
    unknownPath(c, path);
}

template <typename T>
WeightsT<T> zeroWeights(const ModelConfig& config) {
    WeightsT<T> w;
    w.blocks.resize(config.nLayers);
    forEachTensor(config, w, [&](const std::string& path, auto& tensor) {
        const auto [rows, cols] = expectedShape(config, path);
        using Tensor = std::decay_t<decltype(tensor)>;
        if constexpr (Tensor::ColsAtCompileTime == 1) {
            tensor.setZero(rows);
        } else {
            tensor.setZero(rows, cols);
        }
    });
    return w;
}

template <typename To, typename From>
WeightsT<To> castWeights(const WeightsT<From>& w) {
    auto linear = [](const LinearT<From>& l) {
        MatrixT<From> scratch;
        return LinearT<To>{l.weightIn(scratch).template cast<To>(), l.bias.template cast<To>(), {}};
    };
    auto norm = [](const NormT<From>& n) {
        return NormT<To>{n.weight.template cast<To>(), n.bias.template cast<To>()};
    };
    auto expert = [&](const ExpertT<From>& e) { return ExpertT<To>{linear(e.gate), linear(e.up), linear(e.down)}; };
    auto moe = [&](const MoeWeightsT<From>& m) {
        MoeWeightsT<To> out{linear(m.router), {}, expert(m.shared), linear(m.sharedGate)};
        for (const auto& e : m.experts) out.experts.push_back(expert(e));
        return out;
    };
    WeightsT<To> out;
    out.tokenEmbedding = w.tokenEmbedding.template cast<To>();
    out.positionEmbedding = w.positionEmbedding.template cast<To>();
    out.blocks.reserve(w.blocks.size());
    for (const auto& b : w.blocks) {
        out.blocks.push_back({norm(b.norm1), linear(b.q), linear(b.k), linear(b.v), linear(b.o),
                              norm(b.norm2), linear(b.up), linear(b.gate), linear(b.down), norm(b.qNorm),
                              norm(b.kNorm), norm(b.postAttnNorm), norm(b.postMlpNorm), moe(b.moe)});
    }
    out.finalNorm = norm(w.finalNorm);
    out.lmHead = w.lmHead.template cast<To>();
    out.lmHeadBias = w.lmHeadBias.template cast<To>();
    return out;
}

template WeightsT<float> zeroWeights<float>(const ModelConfig&);
template WeightsT<double> zeroWeights<double>(const ModelConfig&);
template WeightsT<float> castWeights<float, float>(const WeightsT<float>&);
template WeightsT<double> castWeights<double, float>(const WeightsT<float>&);
template WeightsT<float> castWeights<float, double>(const WeightsT<double>&);
template WeightsT<double> castWeights<double, double>(const WeightsT<double>&);

}  // namespace mwb

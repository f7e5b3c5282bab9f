// Expert removal and its comparison with the original model (see expert_ablation.h).
#include "analysis/experts/expert_ablation.h"

#include <algorithm>
#include <random>
#include <set>

#include "analysis/superweights/model_variant.h"
#include "tensor/errors.h"

namespace mwb {

std::string toString(const ExpertId& e) { return std::to_string(e.layer) + ":" + std::to_string(e.expert); }

std::vector<ExpertId> parseExpertList(const std::string& text) {
    std::vector<ExpertId> out;
    std::string item;
    auto flush = [&] {
        if (item.empty()) return;
        const size_t colon = item.find(':');
        auto number = [&](const std::string& s) {
            if (s.empty() || s.size() > 9 || s.find_first_not_of("0123456789") != std::string::npos)
                throw InvalidInput("an expert is written layer:expert (e.g. 2:5), not " + quote(item));
            return std::stoi(s);
        };
        if (colon == std::string::npos)
            throw InvalidInput("an expert is written layer:expert (e.g. 2:5), not " + quote(item));
        out.push_back({number(item.substr(0, colon)), number(item.substr(colon + 1))});
        item.clear();
    };
    for (char ch : text) {
        if (ch == ',' || ch == ' ' || ch == '\t' || ch == '\n') flush();
        else item += ch;
    }
    flush();
    return out;
}

WeightOverrides expertRemoval(const Model& model, const std::vector<ExpertId>& experts) {
    if (!model.config.moe())
        throw InvalidInput("the model " + quote(model.config.name) + " has no experts to remove");
    if (experts.empty()) throw InvalidInput("name at least one expert to remove");
    WeightOverrides overrides;
    for (const ExpertId& e : experts) overrides.removeExpert(model, e.layer, e.expert);
    return overrides;
}

AblationResult runExpertAblation(const Model& model, const std::vector<ExpertId>& experts,
                                 const AblationInputs& inputs, const std::string& name, const ProgressFn& progress) {
    ModelVariant variant(model, expertRemoval(model, experts));
    AblationResult r = compareVariant(variant, inputs, name, progress);
    for (const ExpertId& e : experts) r.removedExperts.push_back({e.layer, e.expert});
    return r;
}

std::vector<ExpertId> randomExperts(const ModelConfig& c, int count, uint64_t seed, const std::vector<ExpertId>& exclude) {
    const std::set<ExpertId> excluded(exclude.begin(), exclude.end());
    std::vector<ExpertId> pool;
    for (int l = 0; l < c.nLayers; ++l)
        if (c.moeLayer(l))
            for (int e = 0; e < c.nExperts; ++e)
                if (!excluded.count({l, e})) pool.push_back({l, e});
    // A seeded shuffle (std::shuffle's algorithm is not fixed by the standard, so the
    // Fisher-Yates steps are spelt out to draw the same experts everywhere).
    std::mt19937_64 rng(seed);
    for (size_t i = pool.size(); i > 1; --i) std::swap(pool[i - 1], pool[size_t(rng() % i)]);
    std::vector<ExpertId> out;
    std::vector<int> removedPerLayer(size_t(c.nLayers), 0);
    for (const ExpertId& e : exclude)
        if (e.layer >= 0 && e.layer < c.nLayers) ++removedPerLayer[size_t(e.layer)];
    for (const ExpertId& e : pool) {
        if (int(out.size()) == count) break;
        if (c.nExperts - removedPerLayer[size_t(e.layer)] - 1 < c.nExpertsPerToken) continue;
        ++removedPerLayer[size_t(e.layer)];
        out.push_back(e);
    }
    if (int(out.size()) < count)
        throw InvalidInput("the model has too few experts to remove " + std::to_string(count) + " at random");
    std::sort(out.begin(), out.end());
    return out;
}

}  // namespace mwb

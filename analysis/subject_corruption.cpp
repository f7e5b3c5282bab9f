#include "analysis/subject_corruption.h"

#include <cmath>
#include <random>

#include "analysis/corrupted_runs.h"
#include "tokenizer/continuation.h"
#include "tensor/errors.h"
#include "model/transformer.h"

namespace mwb {

SubjectCorruptionResult corruptSubjects(const Model& model, const std::vector<KnownFact>& facts,
                                        const SubjectCorruptionParams& params, const ProgressFn& progress) {
    if (facts.empty()) throw InvalidInput("no facts to check");
    if (params.samples < 1) throw InvalidInput("the number of noise samples must be at least 1");
    for (int l : params.layers)
        if (l < 0 || l >= model.config.nLayers)
            throw InvalidInput("layer " + std::to_string(l) + " is out of range (the model has " +
                               std::to_string(model.config.nLayers) + " layers)");
    SubjectCorruptionResult r;
    r.params = params;
    const Transformer t(model);
    const size_t nLayers = params.layers.size();

    // Pass 1: which facts the model knows, and the residual's spread per layer at the
    // subjects' last tokens; the last entry is layer 0 again, for pSubjectUnknown.
    struct Checked { const KnownFact* fact; std::vector<int> ids; int subjectFirst, subjectLast, answer; double pClean; };
    std::vector<Checked> checked;
    std::vector<int> spreadLayers = params.layers;
    spreadLayers.push_back(0);
    std::vector<ActivationSpread> spread(spreadLayers.size());
    for (size_t i = 0; i < facts.size(); ++i) {
        report(progress, {long(i), long(2 * facts.size()), "clean runs"});
        const KnownFact& f = facts[i];
        const Encoding enc = model.tokenizer.encode(f.prompt);
        const auto [subjectFirst, subjectEnd] = findSubjectTokens(enc, f.prompt, f.subject);
        const int subjectLast = subjectEnd - 1;
        const int answer = continuationIds(model.tokenizer, f.prompt, f.attribute)[0];
        const RunState clean = t.run(enc.ids);
        const Vector pClean = softmax(clean.lastLogits());
        Eigen::Index top;
        pClean.maxCoeff(&top);
        if (params.skipWrong && top != answer) {
            ++r.skipped;
            continue;
        }
        checked.push_back({&f, enc.ids, subjectFirst, subjectLast, answer, pClean[answer]});
        for (size_t l = 0; l < spreadLayers.size(); ++l) spread[l].add(clean.resid[spreadLayers[l]].row(subjectLast));
    }
    if (checked.empty()) throw InvalidInput("the model gets none of the facts right: nothing to check");
    for (size_t l = 0; l < spreadLayers.size(); ++l)
        r.sigma.push_back(params.noise ? *params.noise : spread[l].threeSigma());
    const float sigmaEmbedding = static_cast<float>(r.sigma.back());
    r.sigma.pop_back();
    r.noiseSource = params.noise ? "given" : "3 x std of the residual entering each layer at the subjects' last tokens";

    // Pass 2: the corrupted runs, each restarted at its layer and token. The clean
    // run is recomputed rather than kept from pass 1: one forward pass per fact is
    // cheap, keeping every fact's cached run is not (all of facts.json: ~1 GB).
    std::mt19937_64 rng(params.seed), unknownRng(params.seed + 1);
    std::normal_distribution<float> gauss(0.0f, 1.0f);
    // Mean p(answer) over the samples with noise on positions [first, last] entering `layer`.
    auto meanCorrupted = [&](const RunState& clean, int answer, int layer, int first, int last, float sd,
                             std::mt19937_64& stream) {
        std::vector<Hooks> hooks;
        for (int s = 0; s < params.samples; ++s) {
            Matrix noise(last - first + 1, model.config.dModel);
            for (Eigen::Index i = 0; i < noise.size(); ++i) noise.data()[i] = sd * gauss(stream);
            hooks.push_back(withNoise(HookSite::ResidPre, layer, first, noise));
        }
        std::vector<RunState> runs = rerunCopies(t, clean, layer, first, hooks);
        return meanProbability(runs, answer);
    };
    r.fractionRemoved.assign(nLayers, 0.0);
    r.meanKept.assign(nLayers, 0.0);
    for (size_t i = 0; i < checked.size(); ++i) {
        report(progress, {long(facts.size() + i * facts.size() / checked.size()), long(2 * facts.size()),
                          "corrupted runs"});
        const Checked& c = checked[i];
        const RunState clean = t.run(c.ids);
        FactCorruption fc{c.fact->prompt, c.fact->subject, c.fact->attribute, c.pClean, {}};
        for (size_t l = 0; l < nLayers; ++l)
            fc.pCorrupted.push_back(meanCorrupted(clean, c.answer, params.layers[l],
                                                  params.wholeSubject ? c.subjectFirst : c.subjectLast, c.subjectLast,
                                                  static_cast<float>(r.sigma[l]), rng));
        // Its own stream, so that the per-layer figures do not depend on it.
        fc.pSubjectUnknown =
            meanCorrupted(clean, c.answer, 0, c.subjectFirst, c.subjectLast, sigmaEmbedding, unknownRng);
        r.facts.push_back(std::move(fc));
    }
    report(progress, {long(2 * facts.size()), long(2 * facts.size()), "corrupted runs"});
    const double keepLimit = 1.0 - params.removedFraction;
    r.fractionRemovedDependent.assign(nLayers, 0.0);
    for (const auto& fc : r.facts) {
        const bool dependent = fc.pSubjectUnknown < keepLimit * fc.pClean;
        r.dependentFacts += dependent;
        for (size_t l = 0; l < nLayers; ++l) {
            const double kept = fc.pCorrupted[l] / fc.pClean;
            r.meanKept[l] += kept / r.facts.size();
            if (kept < keepLimit) {
                r.fractionRemoved[l] += 1.0 / r.facts.size();
                if (dependent) r.fractionRemovedDependent[l] += 1.0;
            }
        }
    }
    for (double& f : r.fractionRemovedDependent) f = r.dependentFacts ? f / r.dependentFacts : 0.0;
    return r;
}

nlohmann::json toJson(const SubjectCorruptionResult& r) {
    nlohmann::json facts = nlohmann::json::array();
    for (const auto& f : r.facts)
        facts.push_back({{"prompt", f.prompt}, {"subject", f.subject}, {"answer", f.answer}, {"p_clean", f.pClean},
                         {"p_corrupted", f.pCorrupted}, {"p_subject_unknown", f.pSubjectUnknown}});
    return {{"layers", r.params.layers},
            {"whole_subject", r.params.wholeSubject},
            {"samples", r.params.samples},
            {"noise", r.sigma},
            {"noise_source", r.noiseSource},
            {"removed_fraction", r.params.removedFraction},
            {"skipped", r.skipped},
            {"fraction_removed", r.fractionRemoved},
            {"mean_kept", r.meanKept},
            {"dependent_facts", r.dependentFacts},
            {"fraction_removed_dependent", r.fractionRemovedDependent},
            {"facts", facts}};
}

}  // namespace mwb

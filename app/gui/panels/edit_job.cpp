// ROME / MEMIT edits on a copy of the model, and their measurements.
#include "app/gui/panels/edit_job.h"

#include <cmath>
#include <optional>

#include "editing/edit_history.h"
#include "editing/evaluation.h"
#include "editing/routing_change.h"
#include "data/datasets.h"
#include "tensor/errors.h"
#include "model/transformer.h"

namespace mwb::gui {
namespace {

constexpr int kTopK = 8;

std::vector<TokenProb> topAfter(const Model& model, const std::string& prompt) {
    const Transformer t(model);
    const Vector p = softmax(t.run(model.tokenizer.encodeIds(prompt)).lastLogits());
    return topTokens(p.cast<double>(), kTopK, model.tokenizer);
}

}  // namespace

EditOutcomeData applyEditJob(std::shared_ptr<const Model> model, const EditSettings& s, const ProgressFn& progress) {
    if (s.corpusFile.empty()) throw InvalidInput("choose a text corpus for the second-moment statistics");
    EditSpec spec;
    spec.method = s.method;
    spec.layers = s.method == EditMethod::Rome ? std::vector<int>{s.layer}
                                               : memitLayersExactly(s.layer, s.memitLayers, model->config.nLayers);
    spec.stats.maxTokens = s.statsTokens;
    spec.value = s.value;
    spec.momentWeight = s.momentWeight;
    if (s.method == EditMethod::Memit) {
        spec.passes = s.memitPasses;
        spec.nullSpace = s.nullSpace;
    }
    spec.keyContext = s.keyContext;
    if (s.method == EditMethod::Rome) spec.expert = s.expert;
    const std::string corpus = readTextFile(s.corpusFile);
    const std::string sample = s.guardFile.empty() ? std::string() : readTextFile(s.guardFile);
    auto copy = std::make_shared<Model>(*model);
    const GuardedEdit edit = runGuardedEdit(*copy, {s.request}, spec, corpus, sample, 4000, progress);
    EditOutcomeData out;
    out.layers = edit.run.record.layers;
    out.experts = edit.run.record.experts;
    out.guard = edit.guard;
    out.measurement = measureEdit(*model, *copy, s);
    out.edited = std::move(copy);
    return out;
}

std::shared_ptr<const Model> undoEditJob(std::shared_ptr<const Model> model) {
    auto copy = std::make_shared<Model>(*model);
    undoLastEdit(*copy);
    return copy;
}

EditMeasurement measureEdit(const Model& before, const Model& after, const EditSettings& s) {
    const EditRequest& q = s.request;
    const std::string rewrite = fillTemplate(q.prompt, q.subject);
    EditMeasurement m;
    m.topBefore = topAfter(before, rewrite);
    m.topAfter = topAfter(after, rewrite);
    std::vector<std::string> prompts = {rewrite};
    std::vector<std::string> kinds = {"rewrite"};
    for (const auto& p : s.paraphrases) prompts.push_back(p), kinds.push_back("paraphrase");
    for (const auto& p : s.neighbours) prompts.push_back(p), kinds.push_back("neighbourhood");
    const std::string& other = q.targetTrue.empty() ? q.targetNew : q.targetTrue;
    const auto nllBefore = targetNlls(Transformer(before), prompts, q.targetNew, other);
    const auto nllAfter = targetNlls(Transformer(after), prompts, q.targetNew, other);
    std::optional<RoutingChange> routing;
    if (before.config.moe())
        routing = routingChange(routingSnapshot(before, prompts), routingSnapshot(after, prompts), before.config);
    for (size_t i = 0; i < prompts.size(); ++i) {
        PromptProbs p;
        if (routing) {
            p.routingPlaces = routing->prompts[i].places;
            p.routingChanged = long(routing->prompts[i].changes.size());
        }
        p.prompt = prompts[i];
        p.kind = kinds[i];
        p.newBefore = std::exp(-nllBefore[i].first);
        p.newAfter = std::exp(-nllAfter[i].first);
        p.trueBefore = q.targetTrue.empty() ? std::nan("") : std::exp(-nllBefore[i].second);
        p.trueAfter = q.targetTrue.empty() ? std::nan("") : std::exp(-nllAfter[i].second);
        p.answerBefore = i == 0 ? m.topBefore.front() : topAfter(before, prompts[i]).front();
        p.answerAfter = i == 0 ? m.topAfter.front() : topAfter(after, prompts[i]).front();
        m.prompts.push_back(std::move(p));
    }
    return m;
}

nlohmann::json toJson(const std::vector<PromptProbs>& prompts) {
    auto number = [](double v) { return std::isnan(v) ? nlohmann::json() : nlohmann::json(v); };
    nlohmann::json out = nlohmann::json::array();
    for (const PromptProbs& p : prompts)
        out.push_back({{"prompt", p.prompt},
                       {"kind", p.kind},
                       {"p_new_before", p.newBefore},
                       {"p_new_after", p.newAfter},
                       {"p_true_before", number(p.trueBefore)},
                       {"p_true_after", number(p.trueAfter)},
                       {"answer_before", toJson(p.answerBefore)},
                       {"answer_after", toJson(p.answerAfter)}});
    for (size_t i = 0; i < prompts.size(); ++i)
        if (prompts[i].routingPlaces >= 0) {
            out[i]["routing_places"] = prompts[i].routingPlaces;
            out[i]["routing_changed"] = prompts[i].routingChanged;
        }
    return out;
}

}  // namespace mwb::gui

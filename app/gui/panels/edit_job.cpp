// ROME / MEMIT edits on a copy of the model, and their measurements.
#include "app/gui/panels/edit_job.h"

#include <cmath>
#include <map>

#include "editing/context_templates.h"
#include "editing/edit_history.h"
#include "editing/evaluation.h"
#include "editing/memit.h"
#include "editing/rome.h"
#include "editing/second_moments.h"
#include "model/datasets.h"
#include "model/errors.h"
#include "model/transformer.h"

namespace mwb::gui {
namespace {

constexpr int kTopK = 8;

// The reference's prefixes (5 and 10 generated tokens), shortened for models with a
// small context so that prefix, prompt and target still fit.
ContextTemplateOptions templatesFor(const ModelConfig& config) {
    ContextTemplateOptions o;
    for (auto& [length, count] : o.lengths) length = std::max(1, std::min(length, config.nCtx / 6));
    return o;
}

std::vector<TokenProb> topAfter(const Model& model, const std::string& prompt) {
    const Transformer t(model);
    const Vector p = softmax(t.run(model.tokenizer.encodeIds(prompt)).lastLogits());
    return topTokens(p.cast<double>(), kTopK, model.tokenizer);
}

void recordRome(Model& copy, const EditSettings& s, const std::string& corpus, EditRecord& record,
                double& weightChange, const ProgressFn& progress) {
    SecondMomentOptions so;
    so.maxTokens = s.statsTokens;
    const SecondMoment c = secondMoment(copy, s.layer, corpus, so, progress);
    RomeParams p;
    p.layer = s.layer;
    p.templates = templatesFor(copy.config);
    const RomeResult r = computeRome(copy, s.request, p, c.moment, progress);
    record.layers = {s.layer};
    record.left = {Matrix(r.left)};
    record.right = {Matrix(r.right)};
    weightChange = r.weightChange;
}

void recordMemit(Model& copy, const EditSettings& s, const std::string& corpus, EditRecord& record,
                 double& weightChange, const ProgressFn& progress) {
    MemitParams p;
    p.templates = templatesFor(copy.config);
    for (int l = std::max(0, s.layer - s.memitLayers + 1); l <= s.layer; ++l) p.layers.push_back(l);
    SecondMomentOptions so;
    so.maxTokens = s.statsTokens;
    std::map<int, MatrixD> moments;
    for (auto& [l, m] : secondMoments(copy, p.layers, corpus, so, progress)) moments[l] = std::move(m.moment);
    // applyMemit writes the update as it goes; keep the weights so that applyEdit
    // records exactly what it replaces.
    std::vector<Matrix> before;
    for (int l : p.layers) before.push_back(copy.weights.blocks.at(l).down.weight);
    const MemitResult r = applyMemit(copy, {s.request}, p, moments, progress);
    for (size_t i = 0; i < p.layers.size(); ++i) copy.weights.blocks[p.layers[i]].down.weight = before[i];
    record.layers = p.layers;
    for (const auto& u : r.updates) {
        record.left.push_back(u.left);
        record.right.push_back(u.right);
        weightChange += u.weightChange;
    }
}

}  // namespace

EditOutcomeData applyEditJob(std::shared_ptr<const Model> model, const EditSettings& s, const ProgressFn& progress) {
    validateRequest(s.request);
    const int nLayers = model->config.nLayers;
    if (s.layer < 0 || s.layer >= nLayers)
        throw InvalidInput("layer " + std::to_string(s.layer) + " is out of range (the model has " +
                           std::to_string(nLayers) + " layers)");
    if (s.corpusFile.empty()) throw InvalidInput("choose a text corpus for the second-moment statistics");
    const std::string corpus = readTextFile(s.corpusFile);
    auto copy = std::make_shared<Model>(*model);
    EditRecord record;
    record.method = s.method == EditMethod::Rome ? "rome" : "memit";
    record.subject = s.request.subject;
    record.prompt = s.request.prompt;
    record.targetNew = s.request.targetNew;
    record.targetTrue = s.request.targetTrue;
    EditOutcomeData out;
    if (s.method == EditMethod::Rome)
        recordRome(*copy, s, corpus, record, out.weightChange, progress);
    else
        recordMemit(*copy, s, corpus, record, out.weightChange, progress);
    out.layers = record.layers;
    applyEdit(*copy, std::move(record));
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
    for (size_t i = 0; i < prompts.size(); ++i) {
        PromptProbs p{prompts[i], kinds[i], std::exp(-nllBefore[i].first), std::exp(-nllAfter[i].first),
                      std::exp(-nllBefore[i].second), std::exp(-nllAfter[i].second)};
        if (q.targetTrue.empty()) p.trueBefore = p.trueAfter = std::nan("");
        m.prompts.push_back(std::move(p));
    }
    return m;
}

}  // namespace mwb::gui

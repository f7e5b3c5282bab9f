#include "editing/edit_run.h"

#include <algorithm>
#include <map>

#include "editing/edit_history.h"
#include "editing/memit.h"
#include "tensor/errors.h"

namespace mwb {

std::string toString(EditMethod m) { return m == EditMethod::Rome ? "rome" : "memit"; }

EditMethod parseEditMethod(const std::string& s) {
    if (s == "rome") return EditMethod::Rome;
    if (s == "memit") return EditMethod::Memit;
    throw InvalidInput("the editing method must be rome or memit, not " + quote(s));
}

ValueParams defaultValueParams(EditMethod m) { return m == EditMethod::Rome ? RomeParams{}.value : MemitParams{}.value; }

std::vector<int> memitLayersEndingAt(int last, int count) {
    std::vector<int> layers;
    for (int l = std::max(0, last - count + 1); l <= last; ++l) layers.push_back(l);
    return layers;
}

std::vector<int> memitLayersExactly(int last, int count, int nLayers) {
    if (count < 1) throw InvalidInput("MEMIT needs at least one layer");
    if (last < 0 || last >= nLayers)
        throw InvalidInput("layer " + std::to_string(last) + " is out of range (the model has " +
                           std::to_string(nLayers) + " layers)");
    if (last - count + 1 < 0)
        throw InvalidInput(std::to_string(count) + " MEMIT layers ending at layer " + std::to_string(last) +
                           " would start below layer 0: choose layer " + std::to_string(count - 1) +
                           " or higher, or at most " + std::to_string(last + 1) + " MEMIT layers");
    return memitLayersEndingAt(last, count);
}

namespace {

// The reference's prefixes (5 or 10 generated tokens after a start word) shortened for
// models with a small context, so that prefix, prompt and target still fit: at most
// n_ctx / 6 tokens generated, and start words longer than that left out (a byte-level
// vocabulary spells "Therefore" in nine tokens), keeping the shortest.
ContextTemplateOptions fitted(ContextTemplateOptions o, const Model& model) {
    const int budget = model.config.nCtx / 6;
    for (auto& [length, count] : o.lengths) length = std::max(1, std::min(length, budget));
    auto tokens = [&](const std::string& w) { return model.tokenizer.encodeIds(w).size(); };
    std::vector<std::string> starts;
    for (const auto& w : o.starts)
        if (static_cast<int>(tokens(w)) <= budget) starts.push_back(w);
    if (starts.empty() && !o.starts.empty())
        starts = {*std::min_element(o.starts.begin(), o.starts.end(),
                                    [&](const auto& a, const auto& b) { return tokens(a) < tokens(b); })};
    o.starts = std::move(starts);
    return o;
}

void checkLayer(int layer, const Model& model) {
    if (layer < 0 || layer >= model.config.nLayers)
        throw InvalidInput("layer " + std::to_string(layer) + " is out of range (the model has " +
                           std::to_string(model.config.nLayers) + " layers)");
}

// C of each layer; of the model before its recorded edits if the spec asks: the earlier
// edits' mlp/down weights are swapped back for the pass over the corpus (and the cache
// lookup, which then finds the unedited model's statistics).
std::map<int, MatrixD> editStatistics(Model& model, const std::vector<int>& layers, const std::string& corpus,
                                      const EditSpec& spec, const ProgressFn& progress) {
    std::map<int, Matrix> other;
    if (spec.statsOfUneditedModel) other = weightsBeforeEdits(model);
    auto swap = [&] {
        for (auto& [l, w] : other) std::swap(model.weights.blocks[l].down.weight, w);
    };
    swap();
    std::map<int, SecondMoment> moments;
    try {
        moments = secondMoments(model, layers, corpus, spec.stats, progress);
    } catch (...) {
        swap();
        throw;
    }
    swap();
    std::map<int, MatrixD> out;
    for (auto& [l, m] : moments) out[l] = std::move(m.moment);
    return out;
}

}  // namespace

MatrixD earlierEditKeys(const Model& model, int layer) {
    MatrixD all(model.config.dFf, 0);
    for (const EditRecord& e : model.edits)
        for (size_t j = 0; j < e.keys.size() && j < e.layers.size(); ++j)
            if (e.layers[j] == layer) {
                all.conservativeResize(Eigen::NoChange, all.cols() + e.keys[j].cols());
                all.rightCols(e.keys[j].cols()) = e.keys[j].cast<double>();
            }
    return all;
}

EditRun runEdit(Model& model, const std::vector<EditRequest>& requests, const EditSpec& spec,
                const std::string& corpus, const ProgressFn& progress) {
    requireDenseModel(model.config, "editing (ROME, MEMIT, AlphaEdit)");
    if (requests.empty()) throw InvalidInput("no edit requests");
    if (spec.layers.empty()) throw InvalidInput("no layer to edit");
    for (int l : spec.layers) checkLayer(l, model);
    for (const auto& r : requests) validateRequest(r);
    EditRun out;
    EditRecord& record = out.record;
    record.method = toString(spec.method);
    if (requests.size() == 1) {
        record.subject = requests[0].subject;
        record.prompt = requests[0].prompt;
        record.targetNew = requests[0].targetNew;
        record.targetTrue = requests[0].targetTrue;
    } else {
        record.subject = std::to_string(requests.size()) + " subjects";
        record.prompt = "(batch)";
    }
    ContextTemplateOptions chosen;
    if (spec.templates) {
        chosen = *spec.templates;
    } else {
        if (spec.method == EditMethod::Memit) chosen = memitContextTemplates();
        chosen.seed = spec.templateSeed;
        chosen.subjectTokensAsInPrompt = spec.subjectTokensAsInPrompt;
    }
    const ContextTemplateOptions templates = fitted(chosen, model);
    if (spec.method == EditMethod::Rome) {
        if (requests.size() != 1) throw InvalidInput("ROME edits one fact at a time; use MEMIT for a batch");
        if (spec.layers.size() != 1) throw InvalidInput("ROME edits one layer; use MEMIT for several");
        RomeParams p;
        p.layer = spec.layers[0];
        p.factToken = spec.factToken;
        p.keyMode = spec.keyMode;
        if (spec.keyContext) p.keyContext = *spec.keyContext;
        if (spec.value) p.value = *spec.value;
        p.templates = templates;
        MatrixD c = std::move(editStatistics(model, {p.layer}, corpus, spec, progress).at(p.layer));
        const RomeResult r = computeRome(model, requests[0], p, std::move(c), progress);
        record.layers = {p.layer};
        record.left = {Matrix(r.left)};
        record.right = {Matrix(r.right)};
        record.keys = {Matrix(updatedKey(r, p.keyMode))};
        out.weightChange = r.weightChange;
        out.outputChange = r.outputChange;
        out.details = toJson(r);
    } else {
        MemitParams p;
        p.layers = spec.layers;
        std::sort(p.layers.begin(), p.layers.end());
        p.layers.erase(std::unique(p.layers.begin(), p.layers.end()), p.layers.end());
        p.factToken = spec.factToken;
        if (spec.value) p.value = *spec.value;
        p.templates = templates;
        p.momentWeight = spec.momentWeight;
        p.separateSubjectValues = spec.separateSubjectValues;
        p.passes = spec.passes;
        if (spec.keyContext) p.keyContext = *spec.keyContext;
        p.nullSpace = spec.nullSpace;
        p.nullSpaceThreshold = spec.nullSpaceThreshold;
        p.nullSpaceThresholdIsAbsolute = spec.nullSpaceThresholdIsAbsolute;
        p.nullSpaceL2 = spec.nullSpaceL2;
        // Sequential AlphaEdit: every earlier edit's keys stay where they are.
        if (p.nullSpace)
            for (int l : p.layers)
                if (MatrixD k = earlierEditKeys(model, l); k.cols() > 0) p.previousKeys[l] = std::move(k);
        const std::map<int, MatrixD> moments = editStatistics(model, p.layers, corpus, spec, progress);
        // applyMemit writes the update as it goes; put the weights back afterwards (or
        // on cancellation) so that applyEdit records exactly what it replaces.
        std::vector<Matrix> before;
        for (int l : p.layers) before.push_back(model.weights.blocks[l].down.weight);
        auto restore = [&] {
            for (size_t i = 0; i < p.layers.size(); ++i) model.weights.blocks[p.layers[i]].down.weight = before[i];
        };
        MemitResult r;
        try {
            r = applyMemit(model, requests, p, moments, progress);
        } catch (...) {
            restore();
            throw;
        }
        restore();
        record.layers = p.layers;
        for (const auto& u : r.updates) {
            record.left.push_back(u.left);
            record.right.push_back(u.right);
            out.weightChange += u.weightChange;
            out.outputChange += u.outputChange;
            record.keys.push_back(u.keys.cast<float>());
        }
        out.details = toJson(r);
    }
    applyEdit(model, record);
    return out;
}

}  // namespace mwb

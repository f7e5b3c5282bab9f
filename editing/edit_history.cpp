#include "editing/edit_history.h"

#include <chrono>
#include <ctime>

#include "tensor/errors.h"

namespace mwb {

std::string isoTimestamp() {
    const std::time_t now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
    std::tm tm{};
    gmtime_r(&now, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

std::string editedPlaces(const EditRecord& record) {
    auto list = [](const std::vector<int>& v) {
        std::string s;
        for (int x : v) s += (s.empty() ? "" : ",") + std::to_string(x);
        return s;
    };
    const bool several = record.layers.size() > 1;
    std::string text = (several ? "layers " : "layer ") + list(record.layers);
    if (!record.experts.empty()) text += (several ? ", experts " : ", expert ") + list(record.experts);
    return text;
}

void applyEdit(Model& model, EditRecord record) {
    const auto& c = model.config;
    if (record.layers.empty() || record.left.size() != record.layers.size() ||
        record.right.size() != record.layers.size())
        throw InvalidInput("an edit needs one pair of factors per edited layer");
    if (!record.experts.empty() && record.experts.size() != record.layers.size())
        throw InvalidInput("an edit of experts needs one expert per edited layer");
    for (size_t i = 0; i < record.layers.size(); ++i) {
        const int layer = record.layers[i], expert = record.expertAt(i);
        if (const std::string problem = editTargetProblem(c, layer, expert); !problem.empty())
            throw InvalidInput(problem);
        if (record.left[i].rows() != c.dModel || record.right[i].rows() != editedKeyWidth(c, expert) ||
            record.left[i].cols() != record.right[i].cols())
            throw InvalidInput("the factors of the edit at layer " + std::to_string(layer) + " do not match " +
                               editedDownPath(layer, expert) + "'s shape");
    }
    record.before.clear();
    for (size_t i = 0; i < record.layers.size(); ++i) {
        auto& w = editedDown(model.weights, record.layers[i], record.expertAt(i));
        record.before.push_back(w);
        w.noalias() += record.left[i] * record.right[i].transpose();
    }
    if (record.created.empty()) record.created = isoTimestamp();
    model.edits.push_back(std::move(record));
}

namespace {

// Takes record's change of its i-th layer out of w.
void undoLayer(const EditRecord& record, size_t i, Matrix& w) {
    if (i < record.before.size() && record.before[i].rows() == w.rows() && record.before[i].cols() == w.cols())
        w = record.before[i];
    else
        w.noalias() -= record.left[i] * record.right[i].transpose();
}

}  // namespace

EditRecord undoLastEdit(Model& model) {
    if (model.edits.empty()) throw InvalidInput("the model has no edit to undo");
    EditRecord record = std::move(model.edits.back());
    model.edits.pop_back();
    // Undo layers in reverse order, so that a record editing one layer twice is undone right.
    for (size_t i = record.layers.size(); i-- > 0;)
        undoLayer(record, i, editedDown(model.weights, record.layers[i], record.expertAt(i)));
    return record;
}

std::map<std::pair<int, int>, Matrix> weightsBeforeEdits(const Model& model) {
    std::map<std::pair<int, int>, Matrix> weights;
    for (auto r = model.edits.rbegin(); r != model.edits.rend(); ++r)
        for (size_t i = r->layers.size(); i-- > 0;) {
            const std::pair<int, int> at{r->layers[i], r->expertAt(i)};
            auto it = weights.find(at);
            if (it == weights.end()) it = weights.emplace(at, editedDown(model.weights, at.first, at.second)).first;
            undoLayer(*r, i, it->second);
        }
    return weights;
}

}  // namespace mwb

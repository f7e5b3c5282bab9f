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

void applyEdit(Model& model, EditRecord record) {
    const auto& c = model.config;
    if (record.layers.empty() || record.left.size() != record.layers.size() ||
        record.right.size() != record.layers.size())
        throw InvalidInput("an edit needs one pair of factors per edited layer");
    for (size_t i = 0; i < record.layers.size(); ++i) {
        const int layer = record.layers[i];
        if (layer < 0 || layer >= c.nLayers)
            throw InvalidInput("layer " + std::to_string(layer) + " is out of range (the model has " +
                               std::to_string(c.nLayers) + " layers)");
        if (record.left[i].rows() != c.dModel || record.right[i].rows() != c.dFf ||
            record.left[i].cols() != record.right[i].cols())
            throw InvalidInput("the factors of the edit at layer " + std::to_string(layer) +
                               " do not match mlp/down's shape");
    }
    record.before.clear();
    for (size_t i = 0; i < record.layers.size(); ++i) {
        auto& w = model.weights.blocks[record.layers[i]].down.weight;
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
        undoLayer(record, i, model.weights.blocks.at(record.layers[i]).down.weight);
    return record;
}

std::map<int, Matrix> weightsBeforeEdits(const Model& model) {
    std::map<int, Matrix> weights;
    for (auto r = model.edits.rbegin(); r != model.edits.rend(); ++r)
        for (size_t i = r->layers.size(); i-- > 0;) {
            const int layer = r->layers[i];
            auto it = weights.find(layer);
            if (it == weights.end()) it = weights.emplace(layer, model.weights.blocks.at(layer).down.weight).first;
            undoLayer(*r, i, it->second);
        }
    return weights;
}

}  // namespace mwb

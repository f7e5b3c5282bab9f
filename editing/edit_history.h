// Applying, recording and undoing edits of mlp/down weights (or of an expert's down
// projection, EditRecord::experts). Every edit lands in
// Model::edits (the file's /edits group) with its factors ΔW = left · rightᵀ and the
// exact weights it replaced, so that undo restores them bit-for-bit.
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "model/model.h"

namespace mwb {

// Adds left[i] · right[i]ᵀ to mlp/down of layers[i] (or to the down projection of
// expert experts[i]), keeping the weights it replaces in the record, and appends the
// record to model.edits. Fills `created` when empty. Throws InvalidInput on a layer or
// expert the model does not have (editTargetProblem) or factors of the wrong shape.
void applyEdit(Model& model, EditRecord record);

// Restores the weights from before the last edit and removes its record. With the
// exact weights kept this is bit-for-bit; a record without them (written by another
// tool) is undone by subtracting its factors (exact up to float rounding).
// Throws InvalidInput when there is no edit to undo.
EditRecord undoLastEdit(Model& model);

// Per (layer, expert) some edit changed (expert -1: the layer's mlp/down), its weights
// before the model's first edit, as undoing every edit would restore them (bit for bit
// where the records keep them).
std::map<std::pair<int, int>, Matrix> weightsBeforeEdits(const Model& model);

// Where an edit changed the model, for people: "layer 3", "layers 2,3,4",
// "layer 0, expert 2", "layers 2,3, experts 1,5".
std::string editedPlaces(const EditRecord& record);

// The current time in ISO 8601 (UTC).
std::string isoTimestamp();

}  // namespace mwb

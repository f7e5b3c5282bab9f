// Training a model to look a subject up at its last token. Large language models
// build a representation of a subject at its last token in their early MLPs, and the
// positions after it read attributes from there (Meng et al. 2022 §2; Geva et al.
// 2023, "Dissecting Recall of Factual Associations" §4-5). A small model trained on a
// fact corpus instead lets the later positions read each subject token themselves,
// and then neither tracing nor ROME's edit at the last token means what it does in the
// papers. Masking, in training only, the attention of the positions after a subject
// mention to the mention's earlier tokens leaves the last token as the one way the
// subject's identity travels on. The model file is an ordinary model: inference and
// analysis never mask.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "model/backprop_kernels.h"
#include "tokenizer/tokenizer.h"

namespace mwb {

// Tokens [begin, end) of a token stream.
struct SubjectMention {
    int64_t begin = 0;
    int64_t end = 0;
    bool operator==(const SubjectMention&) const = default;
};

// Every mention of `subjects` in `tokens`, left to right without overlaps, the longest
// subject where several start at the same token. A subject is looked for as encoded
// mid-sentence (" Eiffel Tower") and at the start of a text ("Eiffel Tower"); forms of
// fewer than minTokens tokens are skipped (a single token has no earlier tokens to
// route, only a last one to hide: appendSubjectMasks' hiddenLayers).
std::vector<SubjectMention> findSubjectMentions(const Tokenizer& tokenizer,
                                                std::span<const int> tokens,
                                                const std::vector<std::string>& subjects,
                                                int minTokens = 2);

// The mentions kept by an independent draw with probability `fraction` each, seeded
// by `seed` and the mention's position, so the same stream and seed always keep the
// same ones (a resumed run routes what the interrupted one did).
std::vector<SubjectMention> sampleMentions(std::span<const SubjectMention> mentions,
                                           double fraction, uint64_t seed);

// Appends the masks of the training window tokens[start, start + len), placed as
// sequence `sequence` of a batch: for each mention whose last token lies in the window
// with at least one earlier token of the mention in it, the window's positions after
// the mention may not attend to those earlier tokens. With hiddenLayers > 0 they may
// not attend to its last token either in the first hiddenLayers layers, so that what
// they learn of the subject passes through the last token's state after those layers
// (which is what the subject check corrupts). `mentions` as returned by
// findSubjectMentions (sorted, not overlapping).
void appendSubjectMasks(std::span<const SubjectMention> mentions, int64_t start, int len,
                        int sequence, std::vector<bp::BlockedKeys>& out, int hiddenLayers = 0);

}  // namespace mwb

// mwb diff A.h5 B.h5: which tensors differ, the size and rank of each difference, and
// which recorded edits explain it. Exit code 0: identical, 3: different, 1: error.
#include <cstdio>
#include <iostream>

#include "app/cli/commands.h"
#include "app/cli/common.h"
#include "editing/edit_history.h"
#include "editing/model_diff.h"
#include "tensor/errors.h"

namespace mwb::cli {

namespace {

constexpr int kExitDifferent = 3;

std::string editSummary(const EditRecord& e) {
    return e.method + " at " + editedPlaces(e) + ": \"" + e.subject + "\" -> \"" + e.targetNew + "\"";
}

void printText(const ModelDiff& d, const Model& a, const Model& b, const std::string& nameA,
               const std::string& nameB) {
    if (d.identical) {
        std::cout << nameA << " and " << nameB << " are identical\n";
        return;
    }
    std::cout << nameA << " vs " << nameB << ": " << d.tensors.size() << " tensor"
              << (d.tensors.size() == 1 ? " differs" : "s differ") << "\n";
    long rounded = 0;
    for (const TensorDiff& t : d.tensors) {
        if (t.float16Rounding) {  // summarised below
            ++rounded;
            continue;
        }
        std::printf("  %-32s norm %.4g (%.3g%% of %s), rank %s%d, max |diff| %.3g, %ld changed\n", t.path.c_str(),
                    t.norm, 100.0 * t.relativeNorm, nameA.c_str(), t.rankIsLowerBound ? ">=" : "", t.rank,
                    t.maxAbs, t.changedElements);
        std::printf("  %-32s singular values:", "");
        for (double s : t.singularValues) std::printf(" %.4g", s);
        std::printf("\n");
        if (t.explained) {
            for (int i : t.edits)
                std::printf("  %-32s explained by %s's edit %d (%s)\n", "", nameB.c_str(), i,
                            editSummary(b.edits[i]).c_str());
            for (int i : t.removedEdits)
                std::printf("  %-32s explained by the removal of %s's edit %d (%s)\n", "", nameA.c_str(), i,
                            editSummary(a.edits[i]).c_str());
        } else if (!t.edits.empty() || !t.removedEdits.empty()) {
            std::printf("  %-32s WARNING: %s (the recorded edits leave %.3g%% of the difference)\n", "",
                        kUnrecordedChange, 100.0 * t.residual);
        } else {
            std::printf("  %-32s WARNING: %s\n", "", kUnrecordedChange);
        }
    }
    if (rounded > 0)
        std::cout << "  " << rounded << " tensor" << (rounded == 1 ? "" : "s") << " differ only by float16 rounding ("
                  << nameB << " stores float16 values, " << nameA << " does not)\n";
    for (const FieldDiff& f : d.config)
        std::cout << "config " << f.field << ": " << f.a << " -> " << f.b << "\n";
    for (const FieldDiff& f : d.tokenizer)
        std::cout << "tokenizer " << f.field << ": " << f.a << " -> " << f.b << "\n";
    for (int i : d.newEdits)
        std::cout << "edit record " << i << " only in " << nameB << ": " << editSummary(b.edits[i]) << "\n";
    for (int i : d.removedEdits)
        std::cout << "edit record " << i << " only in " << nameA << ": " << editSummary(a.edits[i]) << "\n";
    for (const std::string& s : d.editsWithoutChange) std::cout << "WARNING: " << s << "\n";
    if (!d.unexplained.empty())
        std::cout << d.unexplained.size() << " difference" << (d.unexplained.size() == 1 ? "" : "s")
                  << " without an edit record\n";
}

}  // namespace

void registerDiff(CLI::App& app) {
    struct Opts { std::string a, b; int top = 8; bool json = false, exact = false; };
    auto o = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand("diff", "Which tensors two models differ in, and which edits explain it");
    cmd->add_option("a", o->a, "The first model (.h5), e.g. the unedited one")->required();
    cmd->add_option("b", o->b, "The second model (.h5), e.g. the edited one")->required();
    cmd->add_option("--top", o->top, "How many singular values to show per tensor")->capture_default_str();
    cmd->add_flag("--exact", o->exact, "Exact spectrum of every difference (slow for big full-rank ones)");
    cmd->add_flag("--json", o->json, "Print JSON");
    cmd->footer(
        "Exit code: 0 when the models are identical (weights, configuration, tokenizer and edit records),\n"
        "3 when they differ, 1 on an error (missing file, models of different shapes).\n"
        "Rank: singular values above max(1e-6 x the largest, the float rounding floor).");
    cmd->callback([o] {
        if (o->top < 0) throw InvalidInput("--top must not be negative");
        const Model a = openModel(o->a);
        const Model b = openModel(o->b);
        DiffOptions options;
        options.topSingularValues = o->top;
        options.exactSpectrum = o->exact;
        const ModelDiff d = diffModels(a, b, options, progressBar());
        if (o->json)
            printJson(toJson(d));
        else
            printText(d, a, b, o->a, o->b);
        std::cout.flush();
        if (!d.identical) throw CLI::RuntimeError(kExitDifferent);
    });
}

}  // namespace mwb::cli

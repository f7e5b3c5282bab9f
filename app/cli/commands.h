// The subcommands of `mwb`. Each lives in its own cmd_<name>.cpp and registers
// itself on the CLI11 app; main.cpp only assembles them and is the one place where
// errors become a sentence on stderr and a non-zero exit.
#pragma once

#include <CLI/CLI.hpp>

namespace mwb::cli {

void registerInfo(CLI::App& app);
void registerInit(CLI::App& app);
void registerTokenize(CLI::App& app);
void registerPredict(CLI::App& app);
void registerGenerate(CLI::App& app);
void registerTrain(CLI::App& app);
void registerTokenizerTrain(CLI::App& app);
void registerTrace(CLI::App& app);
void registerEdit(CLI::App& app);
void registerEval(CLI::App& app);
void registerUndo(CLI::App& app);
void registerStats(CLI::App& app);
void registerDiff(CLI::App& app);
void registerEvalKnowledge(CLI::App& app);
void registerSuperWeights(CLI::App& app);
void registerAblate(CLI::App& app);
void registerQuantizeEval(CLI::App& app);
void registerAttention(CLI::App& app);
void registerLens(CLI::App& app);
void registerImport(CLI::App& app);
void registerExport(CLI::App& app);
void registerSubjectCheck(CLI::App& app);
void registerBench(CLI::App& app);
void registerVerify(CLI::App& app);
void registerAudit(CLI::App& app);
void registerRouting(CLI::App& app);
void registerSuperExperts(CLI::App& app);

}  // namespace mwb::cli

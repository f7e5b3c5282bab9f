// mwb — the workbench's command line. Every subcommand is a thin shell over the
// libraries; this is the one place where errors become a sentence and an exit code.
#include <iostream>

#include "app/cli/commands.h"
#include "app/cli/common.h"
#include "tensor/allocator.h"
#include "tensor/errors.h"

int main(int argc, char** argv) {
    mwb::keepFreedMemoryForReuse();
    CLI::App app{"mwb: look inside transformer language models and rewrite what they know"};
    app.require_subcommand(1);
    app.set_help_all_flag("--help-all", "Help for every subcommand");
    app.fallthrough();  // global options may also follow the subcommand
    mwb::cli::addWeightsOption(app);
    mwb::cli::registerInfo(app);
    mwb::cli::registerInit(app);
    mwb::cli::registerTokenize(app);
    mwb::cli::registerPredict(app);
    mwb::cli::registerGenerate(app);
    mwb::cli::registerTokenizerTrain(app);
    mwb::cli::registerTrain(app);
    mwb::cli::registerTrace(app);
    mwb::cli::registerEdit(app);
    mwb::cli::registerEval(app);
    mwb::cli::registerUndo(app);
    mwb::cli::registerStats(app);
    mwb::cli::registerDiff(app);
    mwb::cli::registerEvalKnowledge(app);
    mwb::cli::registerSuperWeights(app);
    mwb::cli::registerAblate(app);
    mwb::cli::registerQuantizeEval(app);
    mwb::cli::registerAttention(app);
    mwb::cli::registerLens(app);
    mwb::cli::registerImport(app);
    mwb::cli::registerExport(app);
    mwb::cli::registerSubjectCheck(app);
    mwb::cli::registerBench(app);
    mwb::cli::registerVerify(app);
    mwb::cli::registerAudit(app);
    mwb::cli::registerRouting(app);
    mwb::cli::installInterruptHandler();
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        // Help and the exit codes commands choose (CLI::RuntimeError) as CLI11 has them;
        // a mistake on the command line is one sentence, like every other error.
        if (e.get_exit_code() == 0 || e.get_name() == "RuntimeError") return app.exit(e);
        std::cerr << "mwb: " << mwb::cli::parseErrorSentence(e.what()) << "\n";
        return e.get_exit_code();
    } catch (const mwb::Error& e) {
        std::cerr << "mwb: " << e.what() << "\n";
        return 1;
    } catch (const mwb::Cancelled&) {
        std::cerr << "mwb: cancelled\n";
        return 130;
    } catch (const std::bad_alloc&) {
        std::cerr << "mwb: out of memory\n";
        return 1;
    } catch (const std::exception& e) {
        std::cerr << "mwb: " << e.what() << "\n";
        return 2;
    }
    return 0;
}

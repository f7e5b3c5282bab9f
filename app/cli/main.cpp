// mwb — the workbench's command line. Every subcommand is a thin shell over the
// libraries; this is the one place where errors become a sentence and an exit code.
#include <iostream>

#include "app/cli/commands.h"
#include "app/cli/common.h"
#include "cluster/shard_job.h"
#include "tensor/allocator.h"
#include "tensor/errors.h"

namespace {

// One sentence on stderr for an error that ends the command. In an MPI job, errors of
// the work are agreed on (cluster::runAgreed) and come here as JobError on rank 0
// alone; an error that every rank meets alike before the work (a bad option) is said
// by rank 0 only; an error on one rank that the others cannot know of ends the whole
// job at once rather than leave them waiting.
int fail(const std::string& sentence, int code) {
    if (mwb::cluster::Communicator::running()) {
        const auto& comm = mwb::cluster::Communicator::world();
        std::cerr << "mwb: rank " << comm.rank() << " of " << comm.size() << ": " << sentence << "\n";
        comm.abort(code);
    }
    if (mwb::cluster::Communicator::launcherRank() == 0) std::cerr << "mwb: " << sentence << "\n";
    return code;
}

}  // namespace

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
    mwb::cli::registerSuperExperts(app);
    mwb::cli::installInterruptHandler();
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        // Help and the exit codes commands choose (CLI::RuntimeError) as CLI11 has them;
        // a mistake on the command line is one sentence, like every other error.
        if (e.get_exit_code() == 0 || e.get_name() == "RuntimeError") return app.exit(e);
        return fail(mwb::cli::parseErrorSentence(e.what()), e.get_exit_code());
    } catch (const mwb::cluster::JobError& e) {
        std::cerr << "mwb: " << e.what() << "\n";  // agreed: every rank is stopping
        return 1;
    } catch (const mwb::cluster::StoppedElsewhere&) {
        return 1;  // rank 0 says why
    } catch (const mwb::Error& e) {
        return fail(e.what(), 1);
    } catch (const mwb::Cancelled&) {
        if (mwb::cluster::Communicator::launcherRank() == 0) std::cerr << "mwb: cancelled\n";
        return 130;
    } catch (const std::bad_alloc&) {
        return fail("out of memory", 1);
    } catch (const std::exception& e) {
        return fail(e.what(), 2);
    }
    return 0;
}

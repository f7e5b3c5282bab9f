#include <fstream>
#include <iostream>

#include "app/cli/commands.h"
#include "app/cli/common.h"
#include "tensor/errors.h"
#include "tensor/files.h"
#include "tokenizer/tokenizer.h"

namespace mwb::cli {

void registerTokenizerTrain(CLI::App& app) {
    struct Opts { std::string text, out; int vocab = 4096; };
    auto o = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand("tokenizer-train", "Learn a byte-level BPE vocabulary from a text file");
    cmd->add_option("--text", o->text, "UTF-8 text file")->required();
    cmd->add_option("--vocab", o->vocab, "Vocabulary size")->capture_default_str();
    cmd->add_option("--out", o->out, "Output JSON ({\"vocab\": [...], \"merges\": [...]})")->required();
    cmd->callback([o] {
        const std::string text = readFile(o->text);
        if (text.empty()) throw InvalidInput(o->text + " is empty");
        if (o->vocab < 257) throw InvalidInput("--vocab must be at least 257 (256 bytes and <|endoftext|>)");
        const TokenizerSpec spec = trainByteBpe(text, o->vocab, progressBar());
        std::ofstream out(o->out);
        if (!out) throw InvalidInput("cannot write " + o->out);
        out << nlohmann::json({{"vocab", spec.vocab}, {"merges", spec.merges}}).dump(1) << "\n";
        std::cerr << "learned " << spec.merges.size() << " merges, " << spec.vocab.size() << " tokens\n";
    });
}

}  // namespace mwb::cli

#include <iostream>

#include "app/cli/commands.h"
#include "app/cli/common.h"
#include "editing/edit_history.h"

namespace mwb::cli {

void registerInfo(CLI::App& app) {
    struct Opts { std::string model; bool json = false; };
    auto o = std::make_shared<Opts>();
    auto* cmd = app.add_subcommand("info", "Shape, parameter count, tokenizer and recorded edits of a model");
    cmd->add_option("model", o->model, "Model file (.h5)")->required();
    cmd->add_flag("--json", o->json, "Print JSON");
    cmd->callback([o] {
        const Model m = openModel(o->model);
        auto joined = [](const std::vector<std::string>& parts) {
            std::string s;
            for (const std::string& p : parts) s += (s.empty() ? "" : ", ") + p;
            return s;
        };
        const auto& c = m.config;
        const auto& t = m.tokenizer.spec();
        nlohmann::json edits = nlohmann::json::array();
        for (const auto& e : m.edits)
            edits.push_back({{"method", e.method}, {"layers", e.layers}, {"experts", e.experts}, {"subject", e.subject},
                             {"prompt", e.prompt}, {"target_new", e.targetNew},
                             {"target_true", e.targetTrue}, {"created", e.created}});
        const std::string kind = t.kind == TokenizerKind::ByteBpe ? "byte_bpe" : "sentencepiece_bpe";
        if (o->json) {
            printJson({{"name", c.name}, {"architecture", toString(c.architecture)},
                       {"n_layer", c.nLayers}, {"n_head", c.nHeads}, {"n_kv_head", c.nKvHeads},
                       {"d_model", c.dModel}, {"d_ff", c.dFf}, {"vocab_size", c.vocabSize},
                       {"n_ctx", c.nCtx}, {"norm_eps", c.normEps}, {"activation", toString(c.activation)},
                       {"rope_theta", c.ropeTheta}, {"tie_embeddings", c.tieEmbeddings},
                       {"head_dim", c.dHead()}, {"rotary_dim", c.rotary() ? c.rotaryDims() : 0},
                       {"rope_scaling", toString(c.ropeScaling.type)}, {"qkv_bias", c.qkvBias},
                       {"parallel_residual", c.parallelBlock()}, {"sliding_window", c.slidingWindow},
                       {"sliding_window_layers", toString(c.slidingLayers)},
                       {"attn_logit_softcapping", c.attnSoftcap}, {"final_logit_softcapping", c.finalSoftcap},
                       {"n_experts", c.nExperts}, {"n_experts_per_token", c.nExpertsPerToken},
                       {"d_expert", c.dExpert}, {"d_shared_expert", c.dSharedExpert}, {"norm_topk_prob", c.normTopK},
                       {"moe_every", c.moeEvery}, {"dense_layers", c.denseLayers},
                       {"pieces", architecturePieces(c)},
                       {"parameters", c.parameterCount()},
                       {"tokenizer", {{"kind", kind}, {"vocab_size", t.vocab.size()},
                                      {"merges", t.merges.size()}, {"bos_id", t.bosId},
                                      {"eos_id", t.eosId}, {"add_bos", t.addBos}}},
                       {"edits", edits}, {"tensors_without_checksum", m.tensorsWithoutChecksum}});
            return;
        }
        std::cout << o->model << (c.name.empty() ? "" : " (" + c.name + ")") << "\n"
                  << "  architecture  " << toString(c.architecture) << ", " << toString(c.activation)
                  << (c.tieEmbeddings ? ", tied embeddings" : "") << "\n"
                  << "  pieces        " << joined(architecturePieces(c)) << "\n"
                  << "  shape         " << c.nLayers << " layers, d_model " << c.dModel << ", "
                  << c.nHeads << " heads (" << c.nKvHeads << " key/value), d_ff " << c.dFf << "\n"
                  << "  vocabulary    " << c.vocabSize << ", context " << c.nCtx << "\n"
                  << "  parameters    " << c.parameterCount() << "\n"
                  << "  tokenizer     " << kind << ", " << t.vocab.size() << " tokens"
                  << (t.merges.empty() ? "" : ", " + std::to_string(t.merges.size()) + " merges")
                  << (t.addBos ? ", adds BOS" : "") << "\n"
                  << "  checksums     "
                  << (m.tensorsWithoutChecksum == 0
                          ? std::string("every tensor checked on load")
                          : std::to_string(m.tensorsWithoutChecksum) +
                                " tensor(s) without a checksum (written before checksums; damage cannot be detected)")
                  << "\n"
                  << "  edits         " << m.edits.size() << "\n";
        for (size_t i = 0; i < m.edits.size(); ++i) {
            const auto& e = m.edits[i];
            std::cout << "    " << i << ": " << e.method << " at " << editedPlaces(e) << " \"" << e.subject << "\": " << e.targetTrue
                      << " -> " << e.targetNew << " (" << e.created << ")\n";
        }
    });
}

}  // namespace mwb::cli

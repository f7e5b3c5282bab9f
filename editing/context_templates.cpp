#include "editing/context_templates.h"

#include "model/errors.h"
#include "model/generate.h"

namespace mwb {

std::vector<std::string> contextTemplates(const Model& model, const ContextTemplateOptions& o) {
    std::vector<std::string> templates = {"{}"};
    const Transformer transformer(model);
    const auto start = model.tokenizer.encodeIds("The");
    uint64_t seed = o.seed;
    for (const auto& [length, count] : o.lengths) {
        for (int i = 0; i < count; ++i) {
            GenerateOptions g;
            g.maxNewTokens = length;
            g.sampling = {1.0f, o.topK, 1.0f, seed++};
            g.stopAtEos = true;
            Generation gen = generate(transformer, start, g);
            if (gen.stoppedAtEos) gen.newIds.pop_back();
            std::string text = "The" + model.tokenizer.decode(gen.newIds);
            for (char& ch : text)
                if (ch == '{' || ch == '}' || ch == '\n') ch = ' ';
            templates.push_back(text + ". {}");
        }
    }
    return templates;
}

}  // namespace mwb

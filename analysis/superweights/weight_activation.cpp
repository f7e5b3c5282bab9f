#include "analysis/superweights/weight_activation.h"

#include <limits>
#include <set>

#include "model/transformer.h"
#include "tensor/errors.h"

namespace mwb {

std::vector<WeightActivation> weightActivations(const Model& model, const std::vector<int>& ids,
                                                const std::vector<WeightCoord>& coords) {
    const Transformer t(model);
    t.validateTokens(ids);
    std::set<int> layers;
    for (const WeightCoord& c : coords) {
        if (c.row == WeightChange::kAll && c.col == WeightChange::kAll)
            throw InvalidInput("give a weight, a row or a column, not the whole matrix");
        validateChange(model.config, {c.layer, c.row, c.col, 0.0f});
        layers.insert(c.layer);
    }
    Hooks hooks;
    for (int l : layers) {
        hooks.captures.push_back({HookSite::MlpIn, l});
        hooks.captures.push_back({HookSite::MlpOut, l});
    }
    const RunState state = t.run(ids, hooks, LogitsMode::None);
    const float nan = std::numeric_limits<float>::quiet_NaN();
    std::vector<WeightActivation> out;
    for (const WeightCoord& c : coords) {
        const Matrix& x = state.captured.at({HookSite::MlpIn, c.layer});
        const Matrix& y = state.captured.at({HookSite::MlpOut, c.layer});
        WeightActivation a{c, nan, nan, 0};
        Eigen::Index pos = 0;
        if (c.col != WeightChange::kAll)
            x.col(c.col).cwiseAbs().maxCoeff(&pos);
        else
            y.col(c.row).cwiseAbs().maxCoeff(&pos);
        a.pos = static_cast<int>(pos);
        if (c.col != WeightChange::kAll) a.input = x(pos, c.col);
        if (c.row != WeightChange::kAll) a.output = y(pos, c.row);
        out.push_back(a);
    }
    return out;
}

}  // namespace mwb

// Attention-pattern heatmaps built from AttentionMaps. Pure: no Qt.
#pragma once

#include "analysis/attention_maps.h"
#include "app/plots/figure_spec.h"

namespace mwb::plots {

// One head large: queries down, keys across, labelled with the tokens, scale 0..1.
// Throws InvalidInput when layer or head is outside the maps.
FigureSpec attentionHeadFigure(const AttentionMaps& maps, int layer, int head);

// Every head of one layer as small multiples sharing one colour scale.
FigureSpec attentionLayerFigure(const AttentionMaps& maps, int layer);

}  // namespace mwb::plots

// Draws a FigureSpec into a QCustomPlot: the only code that knows QCustomPlot's
// layout, colour maps, bars and graphs.
#pragma once

#include <vector>

#include <QSize>
#include <QString>

#include "app/plots/figure_spec.h"

class QCustomPlot;
class QCPAxisRect;
class QCPColorMap;
class QCPColorGradient;
class QPointF;

namespace mwb::plots {

// What renderFigure created, panel by panel (owned by the plot).
struct RenderedFigure {
    std::vector<QCPAxisRect*> rects;  // one per panel
    std::vector<QCPColorMap*> maps;   // one per panel, null unless a heatmap
};

// Replaces everything in `plot` with the figure and replots. `textScale` scales every
// text (a figure shown smaller than designed keeps its titles inside their panels).
// Throws std::invalid_argument when the spec is inconsistent (see validate).
RenderedFigure renderFigure(const FigureSpec& figure, QCustomPlot& plot, double textScale = 1.0);

// The pixel size the figure is designed for (columns x panelWidth, rows x panelHeight).
QSize figureSize(const FigureSpec& figure);

QCPColorGradient paletteGradient(Palette palette);

// A one-line description of the data under a pixel of the plot ("layer 5, ' Tower*':
// 0.4123"), or an empty string when the pixel is over no data.
QString describeAt(const FigureSpec& figure, const RenderedFigure& rendered, const QPointF& pixel);

}  // namespace mwb::plots

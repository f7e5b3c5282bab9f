// QCustomPlot rendering of heatmaps, horizontal bar charts and line plots.
#include "app/plots/figure_render.h"

#include <algorithm>
#include <cmath>

#include <QFontMetricsF>
#include <qcustomplot.h>

namespace mwb::plots {
namespace {

QString qs(const std::string& s) { return QString::fromStdString(s); }

// The text size of the figure being rendered (renderFigure's textScale; rendering
// happens on the GUI thread only).
double gTextScale = 1.0;

QFont font(int pointSize, bool bold = false) {
    QFont f;
    f.setPointSizeF(pointSize * gTextScale);
    f.setBold(bold);
    return f;
}

void styleAxis(QCPAxis* axis) {
    axis->setTickLabelFont(font(8));
    axis->setLabelFont(font(9));
    axis->grid()->setVisible(false);
    axis->setSubTicks(false);
}

// Ticks at 0..n-1 with the given labels, every `every`-th one shown.
void setTextTicks(QCPAxis* axis, const std::vector<std::string>& labels, int every) {
    auto ticker = QSharedPointer<QCPAxisTickerText>::create();
    for (int i = 0; i < static_cast<int>(labels.size()); i += std::max(1, every))
        ticker->addTick(i, qs(labels[i]));
    axis->setTicker(ticker);
}

QColor textColourOn(QCPColorGradient gradient, double value, const QCPRange& range) {
    const QColor c = QColor::fromRgb(gradient.color(value, range));
    const double luminance = 0.299 * c.red() + 0.587 * c.green() + 0.114 * c.blue();
    return luminance < 128 ? Qt::white : Qt::black;
}

QCPColorMap* drawHeatmap(const HeatmapSpec& h, QCustomPlot& plot, QCPAxisRect* rect,
                         QCPLayoutGrid* cell, QCPMarginGroup* group) {
    QCPAxis* x = rect->axis(QCPAxis::atBottom);
    QCPAxis* y = rect->axis(QCPAxis::atLeft);
    styleAxis(x);
    styleAxis(y);
    x->setLabel(qs(h.xTitle));
    y->setLabel(qs(h.yTitle));
    auto* map = new QCPColorMap(x, y);
    map->data()->setSize(h.cols, h.rows);
    map->data()->setRange(QCPRange(0, std::max(0, h.cols - 1)), QCPRange(0, std::max(0, h.rows - 1)));
    for (int r = 0; r < h.rows; ++r)
        for (int c = 0; c < h.cols; ++c) map->data()->setCell(c, r, h.at(r, c));
    QCPColorGradient gradient = paletteGradient(h.palette);
    const QCPRange zRange(h.zMin, h.zMax > h.zMin ? h.zMax : h.zMin + 1e-9);
    map->setGradient(gradient);
    map->setDataRange(zRange);
    map->setInterpolate(false);
    x->setRange(-0.5, h.cols - 0.5);
    y->setRange(-0.5, h.rows - 0.5);
    y->setRangeReversed(true);
    if (!h.xLabels.empty()) setTextTicks(x, h.xLabels, h.xLabelEvery);
    if (!h.yLabels.empty()) setTextTicks(y, h.yLabels, h.yLabelEvery);
    if (h.rotateXLabels) x->setTickLabelRotation(-60);
    y->setTicks(!h.yLabels.empty());
    x->setTicks(!h.xLabels.empty());
    if (!h.cellText.empty()) {
        const int points = h.rows * h.cols > 200 ? 6 : (h.rows * h.cols > 80 ? 7 : 8);
        for (int r = 0; r < h.rows; ++r)
            for (int c = 0; c < h.cols; ++c) {
                auto* text = new QCPItemText(&plot);
                text->setClipAxisRect(rect);
                text->position->setAxes(x, y);
                text->position->setCoords(c, r);
                text->setText(qs(h.cellText[static_cast<size_t>(r) * h.cols + c]));
                text->setFont(font(points));
                text->setColor(textColourOn(gradient, h.at(r, c), zRange));
            }
    }
    if (h.showScale) {
        auto* scale = new QCPColorScale(&plot);
        cell->addElement(1, 1, scale);
        scale->setType(QCPAxis::atRight);
        scale->setBarWidth(10);
        map->setColorScale(scale);
        scale->setGradient(gradient);
        scale->setDataRange(zRange);
        scale->axis()->setLabel(qs(h.zLabel));
        styleAxis(scale->axis());
        scale->setMarginGroup(QCP::msTop | QCP::msBottom, group);
        cell->setColumnStretchFactor(1, 0.01);
    }
    return map;
}

void drawBars(const BarSpec& b, QCustomPlot& plot, QCPAxisRect* rect) {
    QCPAxis* key = rect->axis(QCPAxis::atLeft);
    QCPAxis* value = rect->axis(QCPAxis::atBottom);
    styleAxis(key);
    styleAxis(value);
    value->setLabel(qs(b.valueTitle));
    auto* bars = new QCPBars(key, value);
    const QColor colour = QColor::fromRgb(paletteGradient(b.palette).color(0.65, QCPRange(0, 1)));
    bars->setBrush(colour);
    bars->setPen(QPen(colour.darker(130)));
    bars->setWidth(0.7);
    double top = 0;
    for (int i = 0; i < static_cast<int>(b.values.size()); ++i) {
        bars->addData(i, b.values[i]);
        top = std::max(top, b.values[i]);
        auto* text = new QCPItemText(&plot);
        text->setClipAxisRect(rect);
        text->position->setAxes(value, key);
        text->position->setCoords(b.values[i], i);
        text->setPositionAlignment(Qt::AlignLeft | Qt::AlignVCenter);
        text->setText(" " + QString::number(b.values[i], 'g', 3));
        text->setFont(font(7));
    }
    setTextTicks(key, b.labels, 1);
    key->setRange(-0.5, static_cast<double>(b.values.size()) - 0.5);
    key->setRangeReversed(true);
    const double end = b.valueMax > 0 ? b.valueMax : top;
    value->setRange(0, end > 0 ? end * 1.2 : 1.0);
}

void drawLines(const LineSpec& l, QCPAxisRect* rect, QCPLayoutGrid* cell) {
    static const QColor kColours[] = {QColor(31, 119, 180), QColor(214, 39, 40), QColor(44, 160, 44),
                                      QColor(148, 103, 189), QColor(255, 127, 14)};
    QCPAxis* x = rect->axis(QCPAxis::atBottom);
    QCPAxis* y = rect->axis(QCPAxis::atLeft);
    styleAxis(x);
    styleAxis(y);
    x->grid()->setVisible(true);
    y->grid()->setVisible(true);
    x->setLabel(qs(l.xTitle));
    y->setLabel(qs(l.yTitle));
    if (l.logY) {
        y->setScaleType(QCPAxis::stLogarithmic);
        y->setTicker(QSharedPointer<QCPAxisTickerLog>::create());
    }
    // The legend sits below the plot, in one row: inside the axes it hides data points.
    auto* legend = new QCPLegend;
    cell->addElement(2, 0, legend);
    cell->setRowStretchFactor(2, 0.001);
    legend->setLayer("legend");
    legend->setFont(font(8));
    legend->setFillOrder(QCPLayoutGrid::foColumnsFirst);
    legend->setWrap(0);
    legend->setBorderPen(Qt::NoPen);
    legend->setMargins(QMargins(4, 2, 4, 2));
    int i = 0;
    for (const auto& s : l.series) {
        auto* graph = new QCPGraph(x, y);
        graph->setName(qs(s.name));
        graph->setPen(QPen(kColours[i++ % 5], 2));
        graph->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, 5));
        graph->setData(QVector<double>(s.x.begin(), s.x.end()), QVector<double>(s.y.begin(), s.y.end()));
        legend->addItem(new QCPPlottableLegendItem(legend, graph));
    }
    if (l.series.size() < 2) {
        cell->remove(legend);
        cell->simplify();
    }
    rect->axis(QCPAxis::atBottom)->rescale();
    y->rescale();
    x->scaleRange(1.05);
    y->scaleRange(1.1);
}

// Pixel widths of a table's columns: the widest cell (the header in bold) plus a gap.
std::vector<double> tableWidths(const TableSpec& t) {
    const QFontMetricsF body(font(8)), head(font(8, true));
    std::vector<double> width(t.header.size(), 0.0);
    for (size_t c = 0; c < t.header.size(); ++c) {
        width[c] = head.horizontalAdvance(qs(t.header[c]));
        for (const auto& r : t.rows) width[c] = std::max(width[c], body.horizontalAdvance(qs(r[c])) * 1.1);
        width[c] += 14.0;
    }
    return width;
}

// The table as texts in an axis rect without axes, each column as wide as its widest
// cell, rows of equal height.
void drawTable(const TableSpec& t, QCustomPlot& plot, int row) {
    auto* grid = new QCPLayoutGrid;
    plot.plotLayout()->addElement(row, 0, grid);
    if (!t.title.empty()) grid->addElement(0, 0, new QCPTextElement(&plot, qs(t.title), font(9, true)));
    auto* rect = new QCPAxisRect(&plot, false);
    grid->addElement(1, 0, rect);
    grid->setRowStretchFactor(1, 1000);
    rect->setMinimumMargins(QMargins(10, 0, 10, 4));
    const std::vector<double> width = tableWidths(t);
    double total = 0.0;
    for (double w : width) total += w;
    // Left-aligned in the figure's width (wider when the panels are).
    const double span = std::max(total, double(plot.width()) - 20.0);
    const int nRows = static_cast<int>(t.rows.size()) + 1;
    auto cellText = [&](int r, size_t c, const std::string& text, bool bold) {
        auto* item = new QCPItemText(&plot);
        item->setClipToAxisRect(false);
        item->position->setType(QCPItemPosition::ptAxisRectRatio);
        item->position->setAxisRect(rect);
        double x = 0.0;
        for (size_t k = 0; k < c; ++k) x += width[k];
        item->position->setCoords(x / span, (r + 0.5) / nRows);
        item->setPositionAlignment(Qt::AlignLeft | Qt::AlignVCenter);
        item->setText(qs(text));
        item->setFont(font(8, bold));
    };
    for (size_t c = 0; c < t.header.size(); ++c) cellText(0, c, t.header[c], true);
    for (int r = 0; r < static_cast<int>(t.rows.size()); ++r)
        for (size_t c = 0; c < t.header.size(); ++c)
            cellText(r + 1, c, t.rows[r][c], !t.bold.empty() && t.bold[r][c]);
    const int height = nRows * FigureSpec::kTableRowHeight + (t.title.empty() ? 0 : 24);
    grid->setMinimumSize(0, height);
    grid->setMaximumSize(QWIDGETSIZE_MAX, height);
}

QCPColorGradient twoColour(QColor low, QColor high) {
    QCPColorGradient g;
    g.clearColorStops();
    g.setColorStopAt(0.0, low);
    g.setColorStopAt(1.0, high);
    g.setColorInterpolation(QCPColorGradient::ciRGB);
    return g;
}

}  // namespace

QCPColorGradient paletteGradient(Palette palette) {
    QCPColorGradient g;
    switch (palette) {
        case Palette::Purples:
            g = twoColour(QColor(252, 251, 253), QColor(63, 0, 125));
            g.setColorStopAt(0.5, QColor(158, 154, 200));
            break;
        case Palette::Greens:
            g = twoColour(QColor(247, 252, 245), QColor(0, 68, 27));
            g.setColorStopAt(0.5, QColor(116, 196, 118));
            break;
        case Palette::Reds:
            g = twoColour(QColor(255, 245, 240), QColor(103, 0, 13));
            g.setColorStopAt(0.5, QColor(251, 106, 74));
            break;
        case Palette::Blues:
            g = twoColour(QColor(247, 251, 255), QColor(8, 48, 107));
            g.setColorStopAt(0.5, QColor(107, 174, 214));
            break;
        case Palette::Viridis:
            g = twoColour(QColor(68, 1, 84), QColor(253, 231, 37));
            g.setColorStopAt(0.25, QColor(59, 82, 139));
            g.setColorStopAt(0.5, QColor(33, 145, 140));
            g.setColorStopAt(0.75, QColor(94, 201, 98));
            break;
    }
    return g;
}

QSize figureSize(const FigureSpec& figure) {
    const int n = static_cast<int>(figure.panels.size());
    const int columns = std::max(1, std::min(figure.columns, n));
    const int rows = std::max(1, (n + columns - 1) / columns);
    const int table = figure.table ? (static_cast<int>(figure.table->rows.size()) + 1) * FigureSpec::kTableRowHeight +
                                         (figure.table->title.empty() ? 0 : 24) + 8
                                   : 0;
    const int titleLines = static_cast<int>(std::count(figure.title.begin(), figure.title.end(), '\n')) + 1;
    const int title = figure.title.empty() ? 0 : 30 + 16 * (titleLines - 1);
    int width = columns * figure.panelWidth;
    if (figure.table) {
        double total = 20.0;
        for (double w : tableWidths(*figure.table)) total += w;
        width = std::max(width, static_cast<int>(std::ceil(total)));
    }
    return {width, rows * figure.panelHeight + title + table};
}

RenderedFigure renderFigure(const FigureSpec& figure, QCustomPlot& plot, double textScale) {
    validate(figure);
    gTextScale = std::clamp(textScale, 0.5, 2.0);
    plot.clearPlottables();
    plot.clearItems();
    plot.setAutoAddPlottableToLegend(false);  // each line plot fills its own legend
    plot.plotLayout()->clear();
    plot.plotLayout()->setRowSpacing(0);
    int row = 0;
    if (!figure.title.empty()) {
        auto* title = new QCPTextElement(&plot, qs(figure.title), font(10, true));
        title->setTextFlags(Qt::AlignCenter);
        plot.plotLayout()->addElement(row++, 0, title);
    }
    auto* grid = new QCPLayoutGrid;
    plot.plotLayout()->addElement(row, 0, grid);
    plot.plotLayout()->setRowStretchFactor(row, 1000);
    auto* group = new QCPMarginGroup(&plot);
    RenderedFigure out;
    const int columns = std::max(1, figure.columns);
    for (int i = 0; i < static_cast<int>(figure.panels.size()); ++i) {
        auto* cell = new QCPLayoutGrid;
        grid->addElement(i / columns, i % columns, cell);
        auto* rect = new QCPAxisRect(&plot);
        std::string title;
        std::visit([&](const auto& p) { title = p.title; }, figure.panels[i]);
        if (!title.empty()) cell->addElement(0, 0, new QCPTextElement(&plot, qs(title), font(9, true)));
        cell->addElement(1, 0, rect);
        cell->setRowStretchFactor(1, 1000);
        rect->setMarginGroup(QCP::msTop | QCP::msBottom, group);
        QCPColorMap* map = nullptr;
        if (const auto* h = std::get_if<HeatmapSpec>(&figure.panels[i]))
            map = drawHeatmap(*h, plot, rect, cell, group);
        else if (const auto* b = std::get_if<BarSpec>(&figure.panels[i]))
            drawBars(*b, plot, rect);
        else
            drawLines(std::get<LineSpec>(figure.panels[i]), rect, cell);
        out.rects.push_back(rect);
        out.maps.push_back(map);
    }
    if (figure.table) drawTable(*figure.table, plot, row + 1);
    plot.replot();
    gTextScale = 1.0;
    return out;
}

QString describeAt(const FigureSpec& figure, const RenderedFigure& rendered, const QPointF& pixel) {
    for (size_t i = 0; i < rendered.rects.size() && i < figure.panels.size(); ++i) {
        QCPAxisRect* rect = rendered.rects[i];
        if (!rect->rect().contains(pixel.toPoint())) continue;
        const double xc = rect->axis(QCPAxis::atBottom)->pixelToCoord(pixel.x());
        const double yc = rect->axis(QCPAxis::atLeft)->pixelToCoord(pixel.y());
        if (const auto* h = std::get_if<HeatmapSpec>(&figure.panels[i])) {
            const int c = static_cast<int>(std::lround(xc)), r = static_cast<int>(std::lround(yc));
            if (c < 0 || r < 0 || c >= h->cols || r >= h->rows) return {};
            const QString col = !h->xHover.empty() ? qs(h->xHover[c])
                                : qs(h->xName) + QLatin1Char(' ') +
                                      (h->xLabels.empty() ? QString::number(c) : qs(h->xLabels[c]));
            const QString row = !h->yHover.empty() ? qs(h->yHover[r])
                                : qs(h->yName) + QLatin1Char(' ') +
                                      (h->yLabels.empty() ? QString::number(r) : qs(h->yLabels[r]));
            QString text = QStringLiteral("%1, %2: %3 = %4")
                               .arg(col, row, h->zLabel.empty() ? QStringLiteral("value") : qs(h->zLabel))
                               .arg(h->at(r, c), 0, 'g', 4);
            if (!h->cellText.empty()) text += "  [" + qs(h->cellText[static_cast<size_t>(r) * h->cols + c]) + "]";
            if (!h->cellHover.empty()) text += "  " + qs(h->cellHover[static_cast<size_t>(r) * h->cols + c]);
            return text;
        }
        if (const auto* b = std::get_if<BarSpec>(&figure.panels[i])) {
            const int k = static_cast<int>(std::lround(yc));
            if (k < 0 || k >= static_cast<int>(b->values.size())) return {};
            return QStringLiteral("'%1': %2").arg(qs(b->labels[k])).arg(b->values[k], 0, 'g', 4);
        }
        return QStringLiteral("x %1, y %2").arg(xc, 0, 'g', 4).arg(yc, 0, 'g', 4);
    }
    return {};
}

}  // namespace mwb::plots

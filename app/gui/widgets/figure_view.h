// A figure on screen: a QCustomPlot drawn from a FigureSpec, a tooltip with the value
// under the mouse, and buttons to export PNG, PDF and the JSON behind it.
#pragma once

#include <optional>

#include <QWidget>

#include "app/plots/figure_render.h"
#include "app/plots/figure_spec.h"

class QCustomPlot;
class QLabel;
class QMouseEvent;
class QPushButton;
class QScrollArea;
class QStackedWidget;

namespace mwb::gui {

class FigureView : public QWidget {
    Q_OBJECT
public:
    // `placeholder`: shown until the first figure arrives ("Run a trace to see…").
    explicit FigureView(const QString& placeholder, QWidget* parent = nullptr);

    void setFigure(plots::FigureSpec figure);
    // The file name stem export dialogs propose ("demo-trace"); "figure" until set.
    void setExportName(const QString& stem) { m_exportName = stem; }
    QString exportName() const { return m_exportName; }
    void clear();
    bool hasFigure() const { return m_figure.has_value(); }
    const plots::FigureSpec& figure() const { return *m_figure; }
    const plots::RenderedFigure& rendered() const { return m_rendered; }
    QCustomPlot* plot() const { return m_plot; }

    // .png, .pdf or .json by extension; throws std::runtime_error naming the file.
    void exportTo(const QString& file) const;
    // The hover text for a pixel of the plot (empty over no data).
    QString describeAt(const QPointF& pixel) const;

signals:
    void exported(const QString& file);
    void exportFailed(const QString& sentence);

private:
    void chooseAndExport(const QString& filter, const QString& suffix);
    bool eventFilter(QObject* watched, QEvent* event) override;

    QStackedWidget* m_stack;
    QLabel* m_placeholder;
    QCustomPlot* m_plot;
    QList<QPushButton*> m_exportButtons;
    // Renders the figure's on-screen part with text scaled to the plot's size.
    void render();
    void updateMinimumSize();

    std::optional<plots::FigureSpec> m_figure;
    double m_textScale = 1.0;
    QSize m_designSize;
    QScrollArea* m_scroll = nullptr;
    plots::RenderedFigure m_rendered;
    QString m_exportName = QStringLiteral("figure");
};

}  // namespace mwb::gui

// Figure widget with hover values and export.
#include "app/gui/widgets/figure_view.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <QFileDialog>
#include <QHBoxLayout>
#include <QLabel>
#include <QMouseEvent>
#include <QPushButton>
#include <QScrollArea>
#include <QStackedWidget>
#include <QToolTip>
#include <QVBoxLayout>
#include <qcustomplot.h>

#include "app/gui/widgets/file_dialogs.h"
#include "app/plots/figure_export.h"

namespace mwb::gui {

FigureView::FigureView(const QString& placeholder, QWidget* parent)
    : QWidget(parent),
      m_stack(new QStackedWidget(this)),
      m_placeholder(new QLabel(placeholder, this)),
      m_plot(new QCustomPlot) {
    auto* buttons = new QHBoxLayout;
    buttons->addStretch(1);
    const struct { const char* text; const char* filter; const char* suffix; } kinds[] = {
        {"Export PNG\u2026", "PNG image (*.png)", ".png"},
        {"Export PDF\u2026", "PDF document (*.pdf)", ".pdf"},
        {"Export JSON\u2026", "JSON data (*.json)", ".json"}};
    for (const auto& k : kinds) {
        auto* b = new QPushButton(tr(k.text), this);
        b->setEnabled(false);
        const QString filter = tr(k.filter), suffix = QString::fromLatin1(k.suffix);
        connect(b, &QPushButton::clicked, this, [this, filter, suffix] { chooseAndExport(filter, suffix); });
        buttons->addWidget(b);
        m_exportButtons.append(b);
    }
    m_placeholder->setAlignment(Qt::AlignCenter);
    m_placeholder->setWordWrap(true);
    m_placeholder->setStyleSheet(QStringLiteral("color: palette(mid); font-size: 13pt;"));
    auto* scroll = new QScrollArea(this);
    scroll->setWidgetResizable(true);
    scroll->setFrameShape(QFrame::NoFrame);
    scroll->setWidget(m_plot);
    m_scroll = scroll;
    scroll->viewport()->installEventFilter(this);
    m_plot->setMouseTracking(true);
    m_plot->installEventFilter(this);
    m_stack->addWidget(m_placeholder);
    m_stack->addWidget(scroll);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(m_stack, 1);
    layout->addLayout(buttons);
}

void FigureView::setFigure(plots::FigureSpec figure) {
    m_figure = std::move(figure);
    plots::FigureSpec onScreen = *m_figure;
    onScreen.table.reset();
    m_designSize = plots::figureSize(onScreen);
    updateMinimumSize();
    m_textScale = 0.0;  // render() decides
    render();
    m_stack->setCurrentIndex(1);
    for (auto* b : m_exportButtons) b->setEnabled(true);
}

void FigureView::updateMinimumSize() {
    if (!m_figure) return;
    // Shrinks to fit moderately (a 1024-pixel window shows all three trace maps, their
    // text scaled down); a figure that would scroll even so is shown at its full size.
    const QSize shrunk(m_designSize.width() * 3 / 5, m_designSize.height() * 3 / 5);
    const QSize view = m_scroll->viewport()->size();
    m_plot->setMinimumSize(QSize(shrunk.width() > view.width() ? m_designSize.width() : shrunk.width(),
                                 shrunk.height() > view.height() ? m_designSize.height() : shrunk.height()));
}

void FigureView::render() {
    if (!m_figure) return;
    // A figure's table is for exports: on screen the tab shows it as a table of its own.
    plots::FigureSpec onScreen = *m_figure;
    onScreen.table.reset();
    const QSize size = plots::figureSize(onScreen);
    // Titles run across: the width decides how far the text shrinks.
    const double scale = std::clamp(double(m_plot->width()) / size.width(), 0.7, 1.0);
    if (std::abs(scale - m_textScale) < 0.03) return;
    m_textScale = scale;
    m_rendered = plots::renderFigure(onScreen, *m_plot, scale);
}

void FigureView::clear() {
    m_figure.reset();
    m_rendered = {};
    m_plot->clearPlottables();
    m_plot->clearItems();
    m_stack->setCurrentIndex(0);
    for (auto* b : m_exportButtons) b->setEnabled(false);
}

void FigureView::exportTo(const QString& file) const {
    if (!m_figure) throw std::runtime_error("there is no figure to export yet");
    const std::filesystem::path path = file.toStdString();
    if (path.extension() == ".json")
        plots::saveFigureJson(*m_figure, path);
    else if (m_figure->table)
        plots::exportFigure(*m_figure, path);  // drawn afresh, with the table
    else
        plots::savePlot(*m_plot, *m_figure, path);
}

QString FigureView::describeAt(const QPointF& pixel) const {
    return m_figure ? plots::describeAt(*m_figure, m_rendered, pixel) : QString();
}

void FigureView::chooseAndExport(const QString& filter, const QString& suffix) {
    QString file = QFileDialog::getSaveFileName(this, tr("Export figure"), suggestedFile(m_exportName, suffix), filter);
    if (file.isEmpty()) return;
    rememberFolder(file);
    if (!file.endsWith(suffix, Qt::CaseInsensitive)) file += suffix;
    try {
        exportTo(file);
        emit exported(file);
    } catch (const std::exception& e) {
        emit exportFailed(QString::fromUtf8(e.what()));
    }
}

bool FigureView::eventFilter(QObject* watched, QEvent* event) {
    if (watched == m_scroll->viewport() && event->type() == QEvent::Resize) updateMinimumSize();
    if (watched == m_plot && event->type() == QEvent::Resize && m_figure) render();
    if (watched == m_plot && event->type() == QEvent::MouseMove) {
        const auto* mouse = static_cast<QMouseEvent*>(event);
        const QString text = describeAt(mouse->position());
        if (text.isEmpty())
            QToolTip::hideText();
        else
            QToolTip::showText(mouse->globalPosition().toPoint(), text, m_plot);
    }
    return QWidget::eventFilter(watched, event);
}

}  // namespace mwb::gui

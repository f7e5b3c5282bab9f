// PNG, PDF and JSON export of figures, in a window or headless.
#include "app/plots/figure_export.h"

#include <cstdlib>
#include <stdexcept>

#include <unistd.h>

#include <QApplication>
#include <QDir>
#include <QFile>
#include <QPageLayout>
#include <QPageSize>
#include <QPdfWriter>
#include <qcustomplot.h>

#include "app/plots/figure_render.h"

namespace mwb::plots {
namespace {

std::string lowerExtension(const std::filesystem::path& file) {
    std::string ext = file.extension().string();
    for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return ext;
}

// A QApplication for headless rendering, created on first use and kept until exit.
void ensureApplication() {
    if (QApplication::instance()) return;
    const bool haveDisplay = std::getenv("DISPLAY") || std::getenv("WAYLAND_DISPLAY");
    if (!haveDisplay && !std::getenv("QT_QPA_PLATFORM")) qputenv("QT_QPA_PLATFORM", "offscreen");
    if (!std::getenv("XDG_RUNTIME_DIR")) {
        // Qt wants a private runtime folder and warns on stderr without one.
        const QString dir = QDir::tempPath() + QStringLiteral("/mwb-runtime-") + QString::number(getuid());
        if (QDir().mkpath(dir) && QFile::setPermissions(dir, QFile::ReadOwner | QFile::WriteOwner | QFile::ExeOwner))
            qputenv("XDG_RUNTIME_DIR", dir.toLocal8Bit());
    }
    static int argc = 1;
    static char name[] = "mwb";
    static char* argv[] = {name, nullptr};
    // Deliberately never destroyed: tearing Qt down during static destruction is unsafe.
    static QApplication* app = new QApplication(argc, argv);
    (void)app;
}

// The plot as vectors on a page of its own size. Images (heatmaps) are embedded
// losslessly: Qt's PDF writer would otherwise store them as JPEG, whose artefacts
// blur the cell edges and shift the colours a reader compares.
bool savePdf(QCustomPlot& plot, const QString& name, int width, int height) {
    QPdfWriter writer(name);
    writer.setCreator(QStringLiteral("mwb"));
    writer.setPageLayout(QPageLayout(QPageSize(QSizeF(width, height), QPageSize::Point, QString(),
                                               QPageSize::ExactMatch),
                                     QPageLayout::Portrait, QMarginsF(0, 0, 0, 0)));
    QCPPainter painter;
    if (!painter.begin(&writer)) return false;
    painter.setMode(QCPPainter::pmVectorized);
    painter.setMode(QCPPainter::pmNoCaching);
    painter.setRenderHint(QPainter::LosslessImageRendering);
    painter.setWindow(0, 0, width, height);
    plot.toPainter(&painter, width, height);
    return painter.end();
}

}  // namespace

void savePlot(QCustomPlot& plot, const FigureSpec& figure, const std::filesystem::path& file) {
    const QSize size = figureSize(figure);
    const QString name = QString::fromStdString(file.string());
    const std::string ext = lowerExtension(file);
    bool ok = false;
    if (ext == ".png")
        ok = plot.savePng(name, size.width(), size.height(), 2.0);
    else if (ext == ".pdf")
        ok = savePdf(plot, name, size.width(), size.height());
    else
        throw std::runtime_error(file.string() + ": unknown figure format '" + ext +
                                 "' (use .png or .pdf)");
    if (!ok) throw std::runtime_error(file.string() + ": could not write the figure");
}

void exportFigure(const FigureSpec& figure, const std::filesystem::path& file) {
    if (lowerExtension(file) == ".json") {
        saveFigureJson(figure, file);
        return;
    }
    ensureApplication();
    QCustomPlot plot;
    plot.resize(figureSize(figure));
    renderFigure(figure, plot);
    savePlot(plot, figure, file);
}

void exportFigures(const FigureSpec& figure, const std::string& png, const std::string& pdf) {
    if (!png.empty()) exportFigure(figure, png);
    if (!pdf.empty()) exportFigure(figure, pdf);
}

}  // namespace mwb::plots

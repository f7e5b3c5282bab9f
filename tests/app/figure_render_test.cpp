// Offscreen rendering and export of figures: the colour maps hold the spec's numbers.
#include <QtTest>
#include <QTemporaryDir>
#include <qcustomplot.h>

#include "app/plots/figure_export.h"
#include "app/plots/figure_render.h"
#include "app/plots/prediction_figure.h"
#include "app/plots/trace_figure.h"

using namespace mwb;
using namespace mwb::plots;

namespace {

CausalTraceResult smallTrace() {
    CausalTraceResult r;
    r.tokens = {"A", " cat", " sat", " on"};
    r.subjectBegin = 1;
    r.subjectEnd = 2;
    r.answer = " mat";
    r.probCorrupted = 0.05;
    for (TraceKind kind : {TraceKind::Hidden, TraceKind::Mlp, TraceKind::Attn})
        r.probRestored[kind] = MatrixD::Random(4, 5).array().abs() * 0.5 + 0.05;
    return r;
}

}  // namespace

class FigureRenderTest : public QObject {
    Q_OBJECT
private slots:
    void colourMapsHoldTheValues() {
        const CausalTraceResult r = smallTrace();
        const FigureSpec fig = traceFigure(r);
        QCustomPlot plot;
        plot.resize(figureSize(fig));
        const RenderedFigure out = renderFigure(fig, plot);
        QCOMPARE(out.maps.size(), size_t(3));
        int i = 0;
        for (TraceKind kind : {TraceKind::Hidden, TraceKind::Mlp, TraceKind::Attn}) {
            QCPColorMap* map = out.maps[i++];
            QVERIFY(map);
            QCOMPARE(map->data()->keySize(), 5);
            QCOMPARE(map->data()->valueSize(), 4);
            for (int t = 0; t < 4; ++t)
                for (int l = 0; l < 5; ++l) QCOMPARE(map->data()->cell(l, t), r.probRestored.at(kind)(t, l));
            QVERIFY(map->colorScale());
            QCOMPARE(map->colorScale()->axis()->label(), QStringLiteral("p(mat)"));
        }
    }

    void hoverDescribesTheCell() {
        const FigureSpec fig = traceFigure(smallTrace());
        QCustomPlot plot;
        plot.resize(figureSize(fig));
        const RenderedFigure out = renderFigure(fig, plot);
        QCPAxisRect* rect = out.rects[1];
        const double x = rect->axis(QCPAxis::atBottom)->coordToPixel(2);
        const double y = rect->axis(QCPAxis::atLeft)->coordToPixel(1);
        const QString text = describeAt(fig, out, QPointF(x, y));
        QVERIFY2(text.contains(QStringLiteral("layer 2")), qPrintable(text));
        QVERIFY2(text.contains(QStringLiteral(" cat*")), qPrintable(text));
        QVERIFY(describeAt(fig, out, QPointF(-10, -10)).isEmpty());
    }

    void exportsPngPdfAndJson() {
        QTemporaryDir dir;
        const FigureSpec fig = topTokensFigure({{1, " a", 0.5, 1.0}, {2, " b", 0.25, 0.5}}, "next token");
        for (const char* name : {"f.png", "f.pdf", "f.json"}) {
            const std::filesystem::path file = dir.filePath(name).toStdString();
            exportFigure(fig, file);
            QVERIFY2(std::filesystem::file_size(file) > 100, name);
        }
        QImage png(dir.filePath("f.png"));
        QCOMPARE(png.width(), 2 * figureSize(fig).width());
        QVERIFY_THROWS_EXCEPTION(std::runtime_error, exportFigure(fig, dir.filePath("f.bmp").toStdString()));
    }

    // Heatmaps inside a PDF are stored losslessly (Flate), never as JPEG (DCT).
    void pdfHeatmapsAreLossless() {
        QTemporaryDir dir;
        const std::filesystem::path file = dir.filePath("trace.pdf").toStdString();
        exportFigure(traceFigure(smallTrace()), file);
        QFile pdf(QString::fromStdString(file.string()));
        QVERIFY(pdf.open(QIODevice::ReadOnly));
        const QByteArray bytes = pdf.readAll();
        QVERIFY(bytes.contains("/Subtype /Image"));
        QVERIFY(!bytes.contains("/DCTDecode"));
        QVERIFY(bytes.contains("/FlateDecode"));
    }

    // The legend sits outside the plotted area, so it hides no point.
    void theLegendCoversNoData() {
        LineSpec l;
        l.series = {{"in", {0, 7}, {1, 100}}, {"out", {0, 7}, {2, 200}}};
        FigureSpec fig;
        fig.panels.push_back(l);
        QCustomPlot plot;
        plot.resize(560, 300);
        const RenderedFigure out = renderFigure(fig, plot);
        QCPLegend* legend = plot.findChild<QCPLegend*>();
        QVERIFY(legend);
        QVERIFY(legend->visible());
        QVERIFY(!legend->outerRect().intersects(out.rects[0]->rect()));
        QCOMPARE(legend->itemCount(), 2);
    }

    // An exported figure with a table draws it below the panels.
    void tablesGoBelowThePanels() {
        FigureSpec fig = topTokensFigure({{1, " a", 0.5, 1.0}}, "next token");
        TableSpec t;
        t.header = {"prompt", "p"};
        t.rows = {{"a cat is in", "0.5"}, {"my cat is in", "0.25"}};
        fig.table = t;
        QCOMPARE(figureSize(fig).height(), figureSize(topTokensFigure({{1, " a", 0.5, 1.0}}, "next token")).height() +
                                               3 * FigureSpec::kTableRowHeight + 8);
        QTemporaryDir dir;
        exportFigure(fig, dir.filePath("t.png").toStdString());
        QCOMPARE(QImage(dir.filePath("t.png")).height(), 2 * figureSize(fig).height());
        fig.table->rows[1].pop_back();
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument, validate(fig));
    }

    void linePlotsRender() {
        LineSpec l;
        l.title = "activations";
        l.series = {{"in", {0, 1, 2}, {1, 10, 100}}, {"out", {0, 1, 2}, {2, 20, 30}}};
        l.logY = true;
        FigureSpec fig;
        fig.panels.push_back(l);
        QCustomPlot plot;
        renderFigure(fig, plot);
        QCOMPARE(plot.graphCount(), 2);
    }
};

QTEST_MAIN(FigureRenderTest)
#include "figure_render_test.moc"

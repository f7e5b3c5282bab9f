// Pure figure builders: the specs hold exactly the library's numbers (no QApplication).
#include <QtTest>

#include "app/plots/attention_figure.h"
#include "app/plots/expert_figure.h"
#include "app/plots/figure_spec.h"
#include "app/plots/prediction_figure.h"
#include "app/plots/trace_figure.h"

using namespace mwb;
using namespace mwb::plots;

namespace {

CausalTraceResult fakeTrace() {
    CausalTraceResult r;
    r.tokens = {"The", " Eiff", "el", " Tower", " is", " in"};
    r.subjectBegin = 1;
    r.subjectEnd = 4;
    r.answer = " Paris";
    r.probClean = 0.8;
    r.probCorrupted = 0.1;
    r.params.window = 3;
    int k = 0;
    for (TraceKind kind : {TraceKind::Hidden, TraceKind::Mlp, TraceKind::Attn}) {
        MatrixD grid(6, 4);
        for (int t = 0; t < 6; ++t)
            for (int l = 0; l < 4; ++l) grid(t, l) = 0.1 + 0.01 * (t * 4 + l) + 0.2 * k;
        r.probRestored[kind] = grid;
        ++k;
    }
    return r;
}

}  // namespace

class FigureSpecTest : public QObject {
    Q_OBJECT
private slots:
    void traceFigureHoldsTheGrids() {
        const CausalTraceResult r = fakeTrace();
        const FigureSpec fig = traceFigure(r, "gpt2-test");
        QCOMPARE(fig.panels.size(), size_t(3));
        QCOMPARE(fig.columns, 3);
        int i = 0;
        for (TraceKind kind : {TraceKind::Hidden, TraceKind::Mlp, TraceKind::Attn}) {
            const auto& h = std::get<HeatmapSpec>(fig.panels[i++]);
            QCOMPARE(h.rows, 6);
            QCOMPARE(h.cols, 4);
            for (int t = 0; t < 6; ++t)
                for (int l = 0; l < 4; ++l) QCOMPARE(h.at(t, l), r.probRestored.at(kind)(t, l));
            QCOMPARE(h.zMin, r.probCorrupted);
            QCOMPARE(h.zMax, r.probRestored.at(kind).maxCoeff());
            QCOMPARE(h.zLabel, std::string("p(Paris)"));
            QCOMPARE(h.palette, tracePalette(kind));
        }
        QCOMPARE(fig.source["p_clean"].get<double>(), 0.8);
    }

    void subjectTokensAreMarked() {
        const auto labels = traceTokenLabels(fakeTrace());
        const std::vector<std::string> expected = {"The", " Eiff*", "el*", " Tower*", " is", " in"};
        QCOMPARE(labels, expected);
    }

    void coloursFollowThePaper() {
        QCOMPARE(tracePalette(TraceKind::Hidden), Palette::Purples);
        QCOMPARE(tracePalette(TraceKind::Mlp), Palette::Greens);
        QCOMPARE(tracePalette(TraceKind::Attn), Palette::Reds);
    }

    void axisTitlesNameTheWindow() {
        const FigureSpec fig = traceFigure(fakeTrace(), "gpt2-test");
        QCOMPARE(std::get<HeatmapSpec>(fig.panels[0]).xTitle, std::string("single restored layer within gpt2-test"));
        QCOMPARE(std::get<HeatmapSpec>(fig.panels[1]).xTitle,
                 std::string("center of interval of 3 restored MLP layers"));
    }

    void averageFigureUsesTheCategories() {
        AverageTraceResult avg;
        avg.factsUsed = 2;
        avg.indirectEffect[TraceKind::Mlp] = MatrixD::Constant(6, 3, 0.25);
        avg.probRestored[TraceKind::Mlp] = MatrixD::Constant(6, 3, 0.5);
        const FigureSpec fig = averageTraceFigure(avg);
        QCOMPARE(fig.panels.size(), size_t(1));
        const auto& h = std::get<HeatmapSpec>(fig.panels[0]);
        QCOMPARE(h.yLabels.front(), std::string("first subject token"));
        QCOMPARE(h.at(5, 2), 0.25);
        QCOMPARE(h.zLabel, std::string("AIE"));
    }

    void topTokensAreBars() {
        const FigureSpec fig = topTokensFigure({{5, " Paris", 0.6, 3.0}, {7, " Rome", 0.3, 2.0}}, "next");
        const auto& b = std::get<BarSpec>(fig.panels[0]);
        QCOMPARE(b.labels, (std::vector<std::string>{"' Paris'", "' Rome'"}));
        QCOMPARE(b.values, (std::vector<double>{0.6, 0.3}));
        QCOMPARE(toJson(fig)["panels"][0]["values"][1].get<double>(), 0.3);
    }

    void validateRejectsMismatchedSizes() {
        HeatmapSpec h;
        h.rows = 2;
        h.cols = 2;
        h.values = {1, 2, 3};
        FigureSpec fig;
        fig.panels.push_back(h);
        QVERIFY_THROWS_EXCEPTION(std::invalid_argument, validate(fig));
    }

    void jsonHasTheValuesRowByRow() {
        const FigureSpec fig = traceFigure(fakeTrace());
        const auto j = toJson(fig);
        QCOMPARE(j["panels"].size(), size_t(3));
        QCOMPARE(j["panels"][1]["values"][2][3].get<double>(), fakeTrace().probRestored.at(TraceKind::Mlp)(2, 3));
        QVERIFY(j.contains("source"));
    }

    void attentionLayerFigureLabelsTheOuterAxes() {
        // Five heads in a 3-column grid: queries named on the first column (heads 0, 3),
        // keys on the last row (heads 3, 4), each head's weights in row-major order.
        AttentionMaps maps;
        maps.tokens = {"The", " cat", " sat"};
        maps.nLayers = 1;
        maps.nHeads = 5;
        for (int head = 0; head < 5; ++head) {
            Matrix w = Matrix::Zero(3, 3);
            w(0, 0) = 1.0f;
            w(1, 0) = 0.1f * float(head), w(1, 1) = 1.0f - 0.1f * float(head);
            w(2, 2) = 1.0f;
            maps.weights.resize(1);
            maps.weights[0].push_back(w);
        }
        const FigureSpec fig = attentionLayerFigure(maps, 0);
        QCOMPARE(fig.columns, 3);
        QCOMPARE(fig.panels.size(), size_t(5));
        const std::vector<std::string> labels = {"The", " cat", " sat"};
        for (int head = 0; head < 5; ++head) {
            const auto& h = std::get<HeatmapSpec>(fig.panels[head]);
            QCOMPARE(h.yLabels.empty(), head % 3 != 0);
            QCOMPARE(h.xLabels.empty(), head < 3);
            if (!h.xLabels.empty()) QCOMPARE(h.xLabels, labels);
            QCOMPARE(h.at(1, 0), double(0.1f * float(head)));
        }
    }

    // The mixture-of-experts figures draw the numbers of their results: the routing map's
    // cells hold the top expert and hover the full choice; the super-expert grid marks
    // the super experts; the trace grid marks the experts the clean run chose.
    void expertFiguresHoldTheirResults() {
        ExpertRoutingResult routing;
        routing.tokens = {"The", " cat"};
        routing.layers = {{1, {{{3, 0}, {0.7f, 0.3f}}, {{2, 1}, {0.6f, 0.4f}}}}};
        FigureSpec map = routingMapFigure(routing);
        validate(map);
        const auto& m = std::get<HeatmapSpec>(map.panels[0]);
        QCOMPARE(m.rows, 1);
        QCOMPARE(m.cellText, (std::vector<std::string>{"3", "2"}));
        QCOMPARE(m.at(0, 1), double(0.6f));
        QCOMPARE(m.cellHover[0], std::string("experts 3 (0.700), 0 (0.300)"));

        SuperExpertResult super;
        for (int l : {0, 2})
            for (int e = 0; e < 3; ++e) super.experts.push_back({.layer = l, .expert = e, .peak = float(1 + l * 3 + e)});
        super.superExperts = {super.experts[5]};
        FigureSpec grid = superExpertFigure(super);
        validate(grid);
        const auto& g = std::get<HeatmapSpec>(grid.panels[0]);
        QCOMPARE(g.yLabels, (std::vector<std::string>{"0", "2"}));
        QCOMPARE(g.cellText[5], std::string("SE"));
        QCOMPARE(g.at(1, 2), std::log10(9.0));  // peak 1 + 2 * 3 + 2
        QCOMPARE(grid.title, std::string("Super experts: 2:2"));

        ExpertTraceResult trace;
        trace.tokens = {"The", " cat"};
        trace.subjectEnd = 2;
        trace.answer = " sat";
        trace.layers = {0, 1};
        trace.nExperts = 2;
        trace.probRestored = MatrixD{{0.1, 0.5}, {0.2, 0.1}};
        trace.cleanExperts = {{1}, {0}};
        trace.probCorrupted = 0.1;
        FigureSpec t = expertTraceFigure(trace);
        validate(t);
        const auto& tg = std::get<HeatmapSpec>(t.panels[0]);
        QCOMPARE(tg.cellText, (std::vector<std::string>{"", "*", "*", ""}));
        QCOMPARE(tg.at(0, 1), 0.5);
        QCOMPARE(tg.zMax, 0.5);
    }

    void labelStrideKeepsAxesReadable() {
        QCOMPARE(labelStride(12, 12), 1);
        QCOMPARE(labelStride(48, 12), 4);
        QCOMPARE(labelStride(13, 12), 2);
    }
};

QTEST_APPLESS_MAIN(FigureSpecTest)
#include "figure_spec_test.moc"

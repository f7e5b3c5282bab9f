// Plain descriptions of figures (heatmaps, bar charts, line plots) built from the
// libraries' result structs by pure functions; only figure_render.cpp draws them.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

namespace mwb::plots {

// Sequential colour maps (white to a dark hue) plus a perceptual map for attention.
enum class Palette { Purples, Greens, Reds, Blues, Viridis };

struct HeatmapSpec {
    std::string title;
    std::string xTitle, yTitle;
    std::string xName = "column", yName = "row";  // singular names for hover texts ("layer")
    std::vector<std::string> xLabels;    // one per column
    std::vector<std::string> yLabels;    // one per row, drawn top to bottom
    int rows = 0, cols = 0;
    std::vector<double> values;          // row-major, rows * cols
    std::vector<std::string> cellText;   // optional: rows * cols texts drawn in the cells
    std::vector<std::string> cellHover;  // optional: rows * cols texts added to the hover (a routing's full choice)
    double zMin = 0.0, zMax = 1.0;
    std::string zLabel;                  // the colour scale's label, e.g. "p(answer)"
    // Optional hover names of the columns and rows ("key 41 ' Paris'"), used instead of
    // "<xName> <label>" where drawn labels are thinned out or missing.
    std::vector<std::string> xHover, yHover;
    Palette palette = Palette::Purples;
    bool showScale = true;               // small multiples share one scale: draw it once
    int xLabelEvery = 1;                 // label every n-th column (long axes)
    int yLabelEvery = 1;                 // label every n-th row
    bool rotateXLabels = false;          // long token labels: drawn at an angle

    double at(int row, int col) const { return values[static_cast<size_t>(row) * cols + col]; }
};

struct BarSpec {
    std::string title;
    std::string valueTitle;              // axis title of the values
    std::vector<std::string> labels;     // one per bar, drawn top to bottom
    std::vector<double> values;
    double valueMax = 0.0;               // end of the value axis; 0: fit the values
    Palette palette = Palette::Blues;
};

struct LineSeries {
    std::string name;
    std::vector<double> x, y;
};

struct LineSpec {
    std::string title;
    std::string xTitle, yTitle;
    std::vector<LineSeries> series;
    bool logY = false;
};

using PanelSpec = std::variant<HeatmapSpec, BarSpec, LineSpec>;

// A table of texts drawn under the panels across the figure's whole width: the rows
// of evidence behind the panels (an edit's paraphrase and neighbour prompts).
struct TableSpec {
    std::string title;
    std::vector<std::string> header;
    std::vector<std::vector<std::string>> rows;  // each as many cells as the header
    std::vector<std::vector<bool>> bold;         // optional, the shape of rows
};

struct FigureSpec {
    std::string title;                   // drawn above the panels (may be empty)
    std::vector<PanelSpec> panels;
    int columns = 1;                     // panels per row
    int panelWidth = 360, panelHeight = 300;  // suggested pixel size of one panel
    nlohmann::json source;               // the library's JSON of the result behind the figure
    std::optional<TableSpec> table;      // drawn below the panels in exports (PNG, PDF) and the JSON
    static constexpr int kTableRowHeight = 18;
};

// Throws std::invalid_argument when a heatmap's values, labels or texts do not match
// rows x cols, or a bar chart's labels and values differ in length.
void validate(const FigureSpec& figure);

// The numbers drawn, panel by panel, plus `source` (what "Export JSON" writes).
nlohmann::json toJson(const FigureSpec& figure);

// toJson(figure), pretty-printed. Throws std::runtime_error naming the file on failure.
void saveFigureJson(const FigureSpec& figure, const std::filesystem::path& file);

// A token as an axis or cell label: a token of only spaces shows them as '␣' so
// that it does not vanish; anything else is returned as is.
std::string tokenLabel(const std::string& token);

// A hover name for the token at `index` of an axis: "key 41 ' Paris'".
std::string tokenHover(const std::string& axis, int index, const std::string& token);
std::vector<std::string> tokenHovers(const std::string& axis, const std::vector<std::string>& tokens);

// Every n-th label so that about `maxLabels` fit on an axis (at least 1).
int labelStride(int count, int maxLabels);

}  // namespace mwb::plots

// Validation and JSON of figure specs.
#include "app/plots/figure_spec.h"

#include <fstream>
#include <stdexcept>

namespace mwb::plots {
namespace {

void validateHeatmap(const HeatmapSpec& h) {
    const size_t cells = static_cast<size_t>(h.rows) * h.cols;
    if (h.rows < 0 || h.cols < 0 || h.values.size() != cells)
        throw std::invalid_argument("heatmap '" + h.title + "': " + std::to_string(h.values.size()) +
                                    " values for " + std::to_string(h.rows) + " x " +
                                    std::to_string(h.cols) + " cells");
    if (!h.xLabels.empty() && static_cast<int>(h.xLabels.size()) != h.cols)
        throw std::invalid_argument("heatmap '" + h.title + "': column labels do not match columns");
    if (!h.yLabels.empty() && static_cast<int>(h.yLabels.size()) != h.rows)
        throw std::invalid_argument("heatmap '" + h.title + "': row labels do not match rows");
    if (!h.cellText.empty() && h.cellText.size() != cells)
        throw std::invalid_argument("heatmap '" + h.title + "': cell texts do not match cells");
    if (!h.cellHover.empty() && h.cellHover.size() != cells)
        throw std::invalid_argument("heatmap '" + h.title + "': cell hover texts do not match cells");
}

nlohmann::json panelJson(const HeatmapSpec& h) {
    nlohmann::json rows = nlohmann::json::array();
    for (int r = 0; r < h.rows; ++r) {
        nlohmann::json row = nlohmann::json::array();
        for (int c = 0; c < h.cols; ++c) row.push_back(h.at(r, c));
        rows.push_back(row);
    }
    nlohmann::json j = {{"type", "heatmap"}, {"title", h.title},      {"x_title", h.xTitle},
                        {"y_title", h.yTitle}, {"x_labels", h.xLabels}, {"y_labels", h.yLabels},
                        {"values", rows},      {"z_min", h.zMin},       {"z_max", h.zMax},
                        {"z_label", h.zLabel}};
    if (!h.cellText.empty()) j["cell_text"] = h.cellText;
    if (!h.cellHover.empty()) j["cell_hover"] = h.cellHover;
    return j;
}

nlohmann::json panelJson(const BarSpec& b) {
    return {{"type", "bars"}, {"title", b.title}, {"value_title", b.valueTitle},
            {"labels", b.labels}, {"values", b.values}};
}

nlohmann::json panelJson(const LineSpec& l) {
    nlohmann::json series = nlohmann::json::array();
    for (const auto& s : l.series) series.push_back({{"name", s.name}, {"x", s.x}, {"y", s.y}});
    return {{"type", "lines"}, {"title", l.title}, {"x_title", l.xTitle},
            {"y_title", l.yTitle}, {"log_y", l.logY}, {"series", series}};
}

}  // namespace

void validate(const FigureSpec& figure) {
    if (figure.table) {
        const TableSpec& t = *figure.table;
        for (size_t r = 0; r < t.rows.size(); ++r)
            if (t.rows[r].size() != t.header.size() || (!t.bold.empty() && t.bold.at(r).size() != t.header.size()))
                throw std::invalid_argument("table '" + t.title + "': row " + std::to_string(r) +
                                            " does not match the header");
        if (!t.bold.empty() && t.bold.size() != t.rows.size())
            throw std::invalid_argument("table '" + t.title + "': bold marks do not match the rows");
    }
    for (const auto& panel : figure.panels) {
        if (const auto* h = std::get_if<HeatmapSpec>(&panel)) validateHeatmap(*h);
        if (const auto* b = std::get_if<BarSpec>(&panel); b && b->labels.size() != b->values.size())
            throw std::invalid_argument("bar chart '" + b->title + "': labels and values differ in number");
        if (const auto* l = std::get_if<LineSpec>(&panel))
            for (const auto& s : l->series)
                if (s.x.size() != s.y.size())
                    throw std::invalid_argument("line plot '" + l->title + "': series '" + s.name +
                                                "' has x and y of different length");
    }
}

nlohmann::json toJson(const FigureSpec& figure) {
    nlohmann::json panels = nlohmann::json::array();
    for (const auto& panel : figure.panels)
        std::visit([&](const auto& p) { panels.push_back(panelJson(p)); }, panel);
    nlohmann::json j = {{"title", figure.title}, {"panels", panels}};
    if (!figure.source.is_null()) j["source"] = figure.source;
    if (figure.table) j["table"] = {{"title", figure.table->title}, {"header", figure.table->header},
                                    {"rows", figure.table->rows}};
    return j;
}

void saveFigureJson(const FigureSpec& figure, const std::filesystem::path& file) {
    std::ofstream out(file);
    if (!out) throw std::runtime_error(file.string() + ": cannot open for writing");
    out << toJson(figure).dump(2) << "\n";
    if (!out) throw std::runtime_error(file.string() + ": write failed");
}

std::string tokenLabel(const std::string& token) {
    if (token.find_first_not_of(' ') != std::string::npos) return token;
    std::string out;
    for (size_t i = 0; i < token.size(); ++i) out += "\u2423";
    return out.empty() ? "\u2205" : out;
}

std::string tokenHover(const std::string& axis, int index, const std::string& token) {
    return axis + " " + std::to_string(index) + " '" + tokenLabel(token) + "'";
}

std::vector<std::string> tokenHovers(const std::string& axis, const std::vector<std::string>& tokens) {
    std::vector<std::string> out;
    for (size_t i = 0; i < tokens.size(); ++i) out.push_back(tokenHover(axis, static_cast<int>(i), tokens[i]));
    return out;
}

int labelStride(int count, int maxLabels) {
    if (maxLabels < 1 || count <= maxLabels) return 1;
    return (count + maxLabels - 1) / maxLabels;
}

}  // namespace mwb::plots

// Saving figures: PNG or PDF (chosen by the file's extension) and the JSON behind them.
#pragma once

#include <filesystem>
#include <string>

#include "app/plots/figure_spec.h"

class QCustomPlot;

namespace mwb::plots {

// Writes what the plot shows to `file` (.png or .pdf) at `size`-independent quality:
// PNG at twice the figure's pixel size, PDF as vectors. Throws std::runtime_error
// naming the file when the extension is unknown or writing fails.
void savePlot(QCustomPlot& plot, const FigureSpec& figure, const std::filesystem::path& file);

// For command-line tools: renders the figure without a window and saves it (.png, .pdf;
// .json writes the numbers). Creates a QApplication when there is none, on the
// offscreen platform when no display is available. Not thread-safe.
void exportFigure(const FigureSpec& figure, const std::filesystem::path& file);

// exportFigure to each non-empty path (the CLI's --png and --pdf).
void exportFigures(const FigureSpec& figure, const std::string& png, const std::string& pdf);

}  // namespace mwb::plots

// Stand-in for figure_export.cpp in builds without Qt (MWB_BUILD_GUI=OFF): the
// command line still builds, and --png/--pdf say why they cannot work.
#include <stdexcept>

#include "app/plots/figure_export.h"

namespace mwb::plots {

void exportFigure(const FigureSpec& figure, const std::filesystem::path& file) {
    if (file.extension() == ".json") {
        saveFigureJson(figure, file);
        return;
    }
    throw std::runtime_error(file.string() +
                             ": this build has no Qt (MWB_BUILD_GUI=OFF), so it cannot draw figures");
}

void exportFigures(const FigureSpec& figure, const std::string& png, const std::string& pdf) {
    if (!png.empty()) exportFigure(figure, png);
    if (!pdf.empty()) exportFigure(figure, pdf);
}

}  // namespace mwb::plots
